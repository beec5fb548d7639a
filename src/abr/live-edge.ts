/**
 * Where the live edge is, as RFC 8216bis measures PART-HOLD-BACK and HOLD-BACK: from the end of
 * the playlist, i.e. the end of the newest listed part (or segment, without parts).
 *
 * Each playlist that arrives says: at local time `arrivedAtMs`, the newest listed media ended at
 * PDT `endPdtMs`. The edge advances with the wall clock until the next playlist, so
 * edge(now) = endPdt + (now − arrivedAt). A playlist that waited in a blocking reload arrives as
 * its newest part is listed; one answered at once (its newest part already listed for a while)
 * shows an older edge. The freshest observation over a recent window (the smallest
 * arrivedAt − endPdt) therefore stands for the edge; the window lets it follow a slower server.
 *
 * This is not how late chunks ARRIVE after their PDT end (that adds the part request, its transfer
 * and the append): steering on arrival lag put the player ~0.7 s further behind the playlist's end
 * than it believed. Browser-safe: no clock of its own (times come from the caller).
 */
export class LiveEdgeClock {
  /** (arrivedAt − endPdt) of recent playlists, oldest first. */
  private readonly samples: { atMs: number; lagMs: number }[] = [];

  /** @param windowMs how long an observation counts (the newest always does). */
  constructor(private readonly windowMs = 10_000) {}

  /** A playlist arrived at `arrivedAtMs` (epoch ms) whose newest listed media ends at PDT `endPdtMs`. */
  observe(endPdtMs: number, arrivedAtMs: number): void {
    if (!Number.isFinite(endPdtMs) || !Number.isFinite(arrivedAtMs)) return;
    this.samples.push({ atMs: arrivedAtMs, lagMs: arrivedAtMs - endPdtMs });
    while (this.samples.length > 1 && this.samples[0].atMs < arrivedAtMs - this.windowMs) this.samples.shift();
    if (this.samples.length > 256) this.samples.shift();
  }

  /** How long after its PDT end media is listed (the freshest recent playlist), ms; null before any. */
  listingDelayMs(): number | null {
    if (this.samples.length === 0) return null;
    let min = Infinity;
    for (const s of this.samples) if (s.lagMs < min) min = s.lagMs;
    return min;
  }

  /** PDT (epoch ms) of the live edge at local time `nowMs`; null before any playlist. */
  edgePdtAt(nowMs: number): number | null {
    const lag = this.listingDelayMs();
    return lag === null ? null : nowMs - lag;
  }
}

/** PDT end (epoch ms) of the newest listed media, from the newest segment's PDT and what it lists so far. */
export function newestListedEndPdt(newest: {
  pdtMs?: number;
  complete: boolean;
  durationSec: number;
  partDurationsSec: readonly number[];
}): number | undefined {
  if (newest.pdtMs === undefined) return undefined;
  const listedSec = newest.complete ? newest.durationSec : newest.partDurationsSec.reduce((a, b) => a + b, 0);
  return newest.pdtMs + listedSec * 1000;
}
