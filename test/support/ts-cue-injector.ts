/**
 * Puts SCTE 35 cues into an MPEG-TS stream as a broadcast feed carries them: the PMT gains a
 * stream of type 0x86 (private sections) on its own PID and the programme's CUEI registration
 * descriptor (SCTE 35 §8), and each cue is a splice_info_section in its own packets on that PID,
 * written right after the video PES the caller chose. For tests: a feed made by ffmpeg (which
 * cannot write SCTE 35) gets the cues a contribution encoder or a playout system would send.
 */
import { Transform, type TransformCallback } from 'node:stream';
import { sealSection } from '../../src/mpegts/psi-section.js';
import { pesPts } from '../../src/mpegts/ts-reader.js';

const TS = 188;
export const CUE_PID = 0x1f0;
const CUEI = [0x43, 0x55, 0x45, 0x49];

/** One or more TS packets carrying `section` on `pid` (pointer_field 0, stuffed with 0xFF). */
export function sectionPackets(pid: number, section: Uint8Array, firstCounter: number): Buffer[] {
  const out: Buffer[] = [];
  const bytes = Buffer.concat([Buffer.from([0]), Buffer.from(section)]); // pointer_field, then the section
  for (let at = 0, n = 0; at < bytes.length; at += TS - 4, n++) {
    const p = Buffer.alloc(TS, 0xff);
    p[0] = 0x47;
    p[1] = (at === 0 ? 0x40 : 0) | (pid >> 8);
    p[2] = pid & 0xff;
    p[3] = 0x10 | ((firstCounter + n) & 0x0f);
    bytes.copy(p, 4, at, Math.min(bytes.length, at + TS - 4));
    out.push(p);
  }
  return out;
}

/** A PMT section with the cue stream and the CUEI registration added (its CRC rewritten). */
export function pmtWithCues(section: Uint8Array, cuePid = CUE_PID): Buffer {
  const s = Buffer.from(section);
  const programInfoLength = ((s[10] & 0x0f) << 8) | s[11];
  const esStart = 12 + programInfoLength;
  const registration = Buffer.from([0x05, 4, ...CUEI]);
  const cueStream = Buffer.from([0x86, 0xe0 | (cuePid >> 8), cuePid & 0xff, 0xf0, 0]);
  const newInfoLength = programInfoLength + registration.length;
  return sealSection(
    Buffer.concat([
      s.subarray(0, 10),
      Buffer.from([0xf0 | (newInfoLength >> 8), newInfoLength & 0xff]),
      s.subarray(12, esStart),
      registration,
      s.subarray(esStart, s.length - 4),
      cueStream,
    ]),
  );
}

interface Waiting {
  make: (videoPts: number) => Uint8Array;
  resolve: (videoPts: number) => void;
}

/**
 * A Transform over an MPEG-TS byte stream (whole packets out) adding the cue stream to its PMT
 * and writing each cue asked for with cue() after the next video PES start.
 */
export class TsCueInjector extends Transform {
  private rest = Buffer.alloc(0);
  private pmtPid?: number;
  private videoPid?: number;
  private counter = 0;
  private readonly waiting: Waiting[] = [];
  /** The PTS of the newest video PES passed. */
  lastVideoPts?: number;

  /**
   * Writes the section `make(videoPts)` builds right after the next video PES (whose PTS it is
   * given); resolves with that PTS once the cue is in the stream.
   */
  cue(make: (videoPts: number) => Uint8Array): Promise<number> {
    return new Promise((resolve) => this.waiting.push({ make, resolve }));
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    const bytes = this.rest.length > 0 ? Buffer.concat([this.rest, chunk]) : chunk;
    const whole = bytes.length - (bytes.length % TS);
    this.rest = Buffer.from(bytes.subarray(whole));
    const out: Buffer[] = [];
    for (let at = 0; at < whole; at += TS) out.push(...this.packet(Buffer.from(bytes.subarray(at, at + TS))));
    done(null, Buffer.concat(out));
  }

  private packet(p: Buffer): Buffer[] {
    const pid = ((p[1] & 0x1f) << 8) | p[2];
    const start = (p[1] & 0x40) !== 0;
    const afc = (p[3] >> 4) & 3;
    const offset = afc === 3 ? 5 + p[4] : 4;
    if (pid === 0 && start) {
      const at = offset + 1 + p[offset];
      this.pmtPid = ((p[at + 10] & 0x1f) << 8) | p[at + 11]; // first programme's PMT PID
      return [p];
    }
    if (pid === this.pmtPid && start) {
      const at = offset + 1 + p[offset];
      const length = 3 + (((p[at + 1] & 0x0f) << 8) | p[at + 2]);
      const section = p.subarray(at, at + length);
      const infoLength = ((section[10] & 0x0f) << 8) | section[11];
      for (
        let i = 12 + infoLength;
        i + 5 <= section.length - 4;
        i += 5 + (((section[i + 3] & 0x0f) << 8) | section[i + 4])
      )
        if ([0x1b, 0x24, 0x02].includes(section[i])) this.videoPid ??= ((section[i + 1] & 0x1f) << 8) | section[i + 2];
      const pmt = pmtWithCues(section);
      const q = Buffer.alloc(TS, 0xff);
      p.copy(q, 0, 0, at);
      pmt.copy(q, at);
      return [q];
    }
    if (pid === this.videoPid && start) {
      const pts = pesPts(p.subarray(offset));
      if (pts !== undefined) {
        this.lastVideoPts = pts;
        const cues = this.waiting.splice(0).flatMap((w) => {
          const packets = sectionPackets(CUE_PID, w.make(pts), this.counter);
          this.counter += packets.length;
          queueMicrotask(() => w.resolve(pts));
          return packets;
        });
        return [p, ...cues];
      }
    }
    return [p];
  }
}

/**
 * A time_signal splice_info_section (SCTE 35 §9.7.4) at `ptsTime` with one segmentation_descriptor
 * (§10.3.3: programme segmentation, delivery not restricted, `duration` in 90 kHz ticks if
 * given, `upid` of type 0x0C (MPU) if given).
 */
export function timeSignalSection(
  ptsTime: number,
  seg: { eventId: number; typeId: number; duration?: number; upid?: Uint8Array },
): Uint8Array {
  const pts33 = (v: number) => [
    0xfe | (Math.floor(v / 2 ** 32) & 1), // time_specified_flag, reserved, the top bit
    (v >>> 24) & 0xff,
    (v >>> 16) & 0xff,
    (v >>> 8) & 0xff,
    v & 0xff,
  ];
  const command = pts33(ptsTime % 2 ** 33);
  const descriptor = [
    ...[0x43, 0x55, 0x45, 0x49],
    ...[(seg.eventId >>> 24) & 0xff, (seg.eventId >>> 16) & 0xff, (seg.eventId >>> 8) & 0xff, seg.eventId & 0xff],
    0x7f, // not cancelled
    seg.duration !== undefined ? 0xff : 0xbf, // programme segmentation, duration flag, not restricted
    ...(seg.duration !== undefined
      ? [
          Math.floor(seg.duration / 2 ** 32) & 0xff,
          (seg.duration >>> 24) & 0xff,
          (seg.duration >>> 16) & 0xff,
          (seg.duration >>> 8) & 0xff,
          seg.duration & 0xff,
        ]
      : []),
    ...(seg.upid ? [0x0c, seg.upid.length, ...seg.upid] : [0, 0]),
    seg.typeId,
    1,
    1,
  ];
  const loop = [0x02, descriptor.length, ...descriptor];
  const body = [
    0, // protocol_version
    0, // not encrypted, algorithm 0, pts_adjustment's top bit 0
    0,
    0,
    0,
    0, // pts_adjustment 0
    0xff, // cw_index
    0xff, // tier 0xFFF ...
    0xf0 | (command.length >> 8), // ... and splice_command_length
    command.length & 0xff,
    0x06, // time_signal
    ...command,
    loop.length >> 8,
    loop.length & 0xff,
    ...loop,
  ];
  return sealSection(Uint8Array.from([0xfc, 0x30, 0, ...body]));
}
