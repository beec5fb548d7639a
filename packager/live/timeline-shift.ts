/**
 * Shifts every track fragment's tfdt by a fixed media time, on the byte stream between ffmpeg
 * and the segmenter. Each live run of ffmpeg starts at time 0 (its mp4 muxer ignores
 * -output_ts_offset for tfdt); shifting puts the run at its place on the channel's wall-clock
 * anchored timeline (see live-channel.ts), so DASH keeps one consistent timeline across source
 * restarts and origin restarts.
 *
 * The offset is fixed when the first fragment arrives: `resolveOffset(end)` gets the media time
 * at which that fragment ends (it has just been produced, so that media time is "now"). Boxes
 * before it (ftyp, moov) are held until then, so the consumer learns the offset before the init.
 */
import { BoxStreamParser } from '../../src/cmaf/box-stream.js';
import { parseFragment, setBaseDecodeTime } from '../../src/cmaf/fragment.js';
import { parseInit, type TrexDefaults } from '../../src/cmaf/init-segment.js';
import { StreamedgeError } from '../../src/errors.js';

export class TimelineShift {
  private readonly parser = new BoxStreamParser();
  private ftyp?: Buffer;
  private timescales?: Map<number, number>;
  private offsets?: Map<number, bigint>;
  private trex?: Map<number, TrexDefaults>;
  private held: Buffer[] = [];
  offsetSec?: number;

  constructor(private readonly resolveOffset: (firstFragmentEndSec: number) => number) {}

  /** Feeds ffmpeg bytes; returns whole boxes, moofs re-timed (nothing until the first moof). */
  push(chunk: Buffer): Buffer[] {
    return this.parser.push(chunk).flatMap((box) => this.onBox(box.type, box.bytes));
  }

  finish(): Buffer[] {
    return this.parser.finish().flatMap((box) => this.onBox(box.type, box.bytes));
  }

  private onBox(type: string, bytes: Buffer): Buffer[] {
    if (type === 'ftyp') this.ftyp = Buffer.from(bytes);
    else if (type === 'moov') {
      const info = parseInit(this.ftyp ? Buffer.concat([this.ftyp, bytes]) : bytes);
      this.trex = info.trex;
      this.timescales = new Map(info.tracks.map((t) => [t.trackId, t.timescale]));
    } else if (type === 'moof') {
      if (!this.timescales) throw new StreamedgeError('BAD_ENCODER_OUTPUT', 'a moof arrived before the moov');
      let moof: Buffer = Buffer.from(bytes);
      const tracks = parseFragment(moof, this.trex).tracks;
      if (!this.offsets) {
        const t = tracks[0];
        const ts = t ? this.timescales.get(t.trackId) ?? 1 : 1;
        const endSec = t ? (t.baseDecodeTime + t.duration) / ts : 0;
        this.offsetSec = this.resolveOffset(endSec);
        const off = this.offsetSec;
        this.offsets = new Map([...this.timescales].map(([id, scale]) => [id, BigInt(Math.round(off * scale))]));
      }
      for (const traf of tracks) {
        const off = this.offsets.get(traf.trackId) ?? 0n;
        if (off !== 0n) moof = setBaseDecodeTime(moof, traf.trackId, traf.baseDecodeTimeExact + off);
      }
      return this.release(moof);
    }
    if (!this.offsets) {
      this.held.push(Buffer.from(bytes));
      return [];
    }
    return [bytes];
  }

  private release(box: Buffer): Buffer[] {
    if (this.held.length === 0) return [box];
    const out = [...this.held, box];
    this.held = [];
    return out;
  }
}
