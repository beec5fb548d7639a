/**
 * BOLA (Spiteri, Urgaonkar, Sitaraman: "BOLA: Near-Optimal Bitrate Adaptation for Online
 * Videos"), the buffer-based rule for VOD. Each level has a utility ln(bitrate); the rule picks
 * the level maximising (V·(utility + γ) − buffer) / bitrate. V and γ are chosen so that the lowest
 * level wins at `minBufferSec` and the highest at `targetBufferSec`: the fuller the buffer, the
 * higher the level, whatever the throughput says.
 */
export class BolaRule {
  private readonly utilities: number[];
  private readonly vp: number;
  private readonly gp: number;

  /** `bitrates` ascending, bits/s. */
  constructor(
    private readonly bitrates: readonly number[],
    minBufferSec: number,
    targetBufferSec: number,
  ) {
    // utilities normalised so the lowest level has utility 1
    this.utilities = bitrates.map((b) => Math.log(b / bitrates[0]) + 1);
    const top = this.utilities[this.utilities.length - 1];
    const target = Math.max(targetBufferSec, minBufferSec * 1.5);
    if (top <= 1) {
      // a single level (or identical bitrates): nothing to choose
      this.gp = 1;
      this.vp = minBufferSec;
    } else {
      // V·(u0 + γ − 1) = minBuffer and V·(uTop + γ − 1) = target, with u0 = 1
      this.gp = (top - 1) / (target / minBufferSec - 1);
      this.vp = minBufferSec / this.gp;
    }
  }

  /**
   * The lowest buffer level (seconds) at which BOLA still prefers `rank` or above: below it, BOLA
   * leaves that level. (The score's preference rises with the buffer, so one crossing.)
   */
  minBufferFor(rank: number): number {
    if (rank <= 0) return 0;
    // the buffer at which level `rank` and the one below score the same
    const [ua, ub, ba, bb] = [
      this.utilities[rank - 1],
      this.utilities[rank],
      this.bitrates[rank - 1],
      this.bitrates[rank],
    ];
    if (bb === ba) return 0;
    return Math.max(0, (this.vp * ((ub + this.gp) * ba - (ua + this.gp) * bb)) / (ba - bb));
  }

  /** The rank (index into the ascending bitrates) BOLA prefers at this buffer level. */
  choose(bufferSec: number): number {
    let best = 0;
    let bestScore = -Infinity;
    for (let i = 0; i < this.bitrates.length; i++) {
      const score = (this.vp * (this.utilities[i] + this.gp) - bufferSec) / this.bitrates[i];
      if (score >= bestScore) {
        bestScore = score;
        best = i;
      }
    }
    return best;
  }
}
