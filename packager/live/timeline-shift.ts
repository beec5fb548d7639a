/**
 * Shifts every track fragment's tfdt by a fixed media time, on the byte stream between ffmpeg
 * and the segmenter. Each live run of ffmpeg starts at time 0 (its mp4 muxer ignores
 * -output_ts_offset for tfdt); shifting puts the run at its place on the channel's wall-clock
 * anchored timeline (see live-channel.ts), so DASH keeps one consistent timeline across source
 * restarts and origin restarts.
 */
import { BoxStreamParser } from '../../src/cmaf/box-stream.js';
import { parseFragment, setBaseDecodeTime } from '../../src/cmaf/fragment.js';
import { parseInit, type TrexDefaults } from '../../src/cmaf/init-segment.js';
import { StreamedgeError } from '../../src/errors.js';

export class TimelineShift {
  private readonly parser = new BoxStreamParser();
  private ftyp?: Buffer;
  private offsets?: Map<number, bigint>;
  private trex?: Map<number, TrexDefaults>;

  constructor(private readonly offsetSec: number) {}

  /** Feeds ffmpeg bytes; returns whole boxes, moofs re-timed. */
  push(chunk: Buffer): Buffer[] {
    return this.parser.push(chunk).map((box) => this.onBox(box.type, box.bytes));
  }

  finish(): Buffer[] {
    return this.parser.finish().map((box) => this.onBox(box.type, box.bytes));
  }

  private onBox(type: string, bytes: Buffer): Buffer {
    if (type === 'ftyp') this.ftyp = Buffer.from(bytes);
    else if (type === 'moov') {
      const info = parseInit(this.ftyp ? Buffer.concat([this.ftyp, bytes]) : bytes);
      this.trex = info.trex;
      this.offsets = new Map(info.tracks.map((t) => [t.trackId, BigInt(Math.round(this.offsetSec * t.timescale))]));
    } else if (type === 'moof' && this.offsetSec !== 0) {
      if (!this.offsets) throw new StreamedgeError('BAD_ENCODER_OUTPUT', 'a moof arrived before the moov');
      let moof: Buffer = Buffer.from(bytes);
      for (const traf of parseFragment(moof, this.trex).tracks) {
        const off = this.offsets.get(traf.trackId) ?? 0n;
        moof = setBaseDecodeTime(moof, traf.trackId, traf.baseDecodeTimeExact + off);
      }
      return moof;
    }
    return bytes;
  }
}
