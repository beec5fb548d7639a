/**
 * Shifts every track fragment's tfdt by a fixed media time, on the byte stream between ffmpeg
 * and the segmenter. Each live run of ffmpeg starts at time 0 (its mp4 muxer ignores
 * -output_ts_offset for tfdt); shifting puts the run at its place on the channel's wall-clock
 * anchored timeline (see live-channel.ts), so DASH keeps one consistent timeline across source
 * restarts and origin restarts.
 *
 * The offset comes from the run's anchor (run-anchor.ts), which every fragment's arrival is
 * reported to. The first `holdSec` of media (the run's first segment) is held back: once a
 * fragment ending `holdSec` after the first one's start arrives, the anchor is fixed (minimum of
 * arrival − media end so far, over every rendition of the run) and everything held is released,
 * re-timed. Boxes before the first moof (ftyp, moov) are held too, so the consumer learns the
 * offset before the init. When another rendition of the run fixed the anchor first, this one
 * releases at its next fragment.
 */
import { BoxStreamParser } from '../../src/cmaf/box-stream.js';
import { parseFragment, setBaseDecodeTime, type TrackFragmentInfo } from '../../src/cmaf/fragment.js';
import { parseInit, type TrexDefaults } from '../../src/cmaf/init-segment.js';
import { StreamedgeError } from '../../src/errors.js';

/** What the shift needs from the run's anchor. */
export interface ShiftAnchor {
  observe(endSec: number): void;
  fix(): number;
  readonly offsetSec: number | undefined;
}

interface HeldBox {
  bytes: Buffer;
  tracks?: TrackFragmentInfo[];
}

export class TimelineShift {
  private readonly parser = new BoxStreamParser();
  private ftyp?: Buffer;
  private timescales?: Map<number, number>;
  private offsets?: Map<number, bigint>;
  private trex?: Map<number, TrexDefaults>;
  private held: HeldBox[] = [];
  private firstStartSec?: number;
  offsetSec?: number;

  /** `holdSec`: media held back before the anchor is fixed (0: fix at the first fragment). */
  constructor(
    private readonly anchor: ShiftAnchor,
    private readonly holdSec = 0,
  ) {}

  /** Feeds ffmpeg bytes; returns whole boxes, moofs re-timed (nothing until the anchor is fixed). */
  push(chunk: Buffer): Buffer[] {
    return this.parser.push(chunk).flatMap((box) => this.onBox(box.type, box.bytes));
  }

  /** End of stream: releases whatever is still held (fixing the anchor if nothing did). */
  finish(): Buffer[] {
    const out = this.parser.finish().flatMap((box) => this.onBox(box.type, box.bytes));
    if (this.held.length > 0) {
      if (!this.offsets) this.setOffset(this.anchor.fix());
      out.push(...this.release());
    }
    return out;
  }

  private onBox(type: string, bytes: Buffer): Buffer[] {
    if (type === 'ftyp') this.ftyp = Buffer.from(bytes);
    else if (type === 'moov') {
      const info = parseInit(this.ftyp ? Buffer.concat([this.ftyp, bytes]) : bytes);
      this.trex = info.trex;
      this.timescales = new Map(info.tracks.map((t) => [t.trackId, t.timescale]));
    } else if (type === 'moof') {
      if (!this.timescales) throw new StreamedgeError('BAD_ENCODER_OUTPUT', 'a moof arrived before the moov');
      const moof = Buffer.from(bytes);
      const tracks = parseFragment(moof, this.trex).tracks;
      if (this.offsets) return [this.shift(moof, tracks)];
      const t = tracks[0];
      const ts = t ? (this.timescales.get(t.trackId) ?? 1) : 1;
      const startSec = t ? t.baseDecodeTime / ts : 0;
      const endSec = t ? (t.baseDecodeTime + t.duration) / ts : 0;
      this.firstStartSec ??= startSec;
      this.anchor.observe(endSec);
      this.held.push({ bytes: moof, tracks });
      const fixed = this.anchor.offsetSec;
      if (fixed !== undefined) this.setOffset(fixed);
      else if (endSec - this.firstStartSec >= this.holdSec - 1e-6) this.setOffset(this.anchor.fix());
      return this.offsets ? this.release() : [];
    }
    if (!this.offsets) {
      this.held.push({ bytes: Buffer.from(bytes) });
      return [];
    }
    return [bytes];
  }

  private setOffset(off: number): void {
    this.offsetSec = off;
    this.offsets = new Map(
      [...(this.timescales ?? new Map<number, number>())].map(([id, scale]) => [id, BigInt(Math.round(off * scale))]),
    );
  }

  private shift(moof: Buffer, tracks: TrackFragmentInfo[]): Buffer {
    let out = moof;
    for (const traf of tracks) {
      const off = this.offsets!.get(traf.trackId) ?? 0n;
      if (off !== 0n) out = setBaseDecodeTime(out, traf.trackId, traf.baseDecodeTimeExact + off);
    }
    return out;
  }

  private release(): Buffer[] {
    const out = this.held.map((h) => (h.tracks ? this.shift(h.bytes, h.tracks) : h.bytes));
    this.held = [];
    return out;
  }
}
