/**
 * A reader of an MPEG-TS stream (ISO/IEC 13818-1), packet by packet: the programme's streams from
 * its PAT and PMT, each media PES's PTS, and the whole payloads of its data streams. What a live
 * feed's relay needs to find SCTE 35 cues in a feed and to know which PTS an encoder reading
 * the feed starts from; media payloads are not reassembled.
 *
 * Data streams are those whose packets carry no media: private sections (stream type 0x86, SCTE
 * 35's own) and private-data PES without any descriptor (0x06, how ffmpeg's MPEG-TS muxer
 * writes a copied SCTE 35 stream). A 0x06 stream with a descriptor (DVB AC-3, Opus, SMPTE 302M
 * audio) is media.
 */

export const TS_PACKET = 188;
const SYNC = 0x47;
const PAT_PID = 0;
const NULL_PID = 0x1fff;
/** Stream types. */
const PRIVATE_SECTIONS = 0x86;
const PRIVATE_PES = 0x06;
/** Video and audio stream types (MPEG-1/2 video and audio, AAC, H.264, HEVC, AC-3, DTS, E-AC-3; 0x06 with a descriptor). */
const AUDIO_VISUAL = new Set([0x01, 0x02, 0x03, 0x04, 0x06, 0x0f, 0x10, 0x11, 0x1b, 0x24, 0x81, 0x82, 0x87]);
/** PES stream_ids without the optional PES header (13818-1 Table 2-21). */
const NO_PES_HEADER = new Set([0xbc, 0xbe, 0xbf, 0xf0, 0xf1, 0xf2, 0xf8, 0xff]);
/** The longest payload kept for a data stream (a section is at most 4096 bytes). */
const MAX_DATA = 64 * 1024;

export interface TsReaderListener {
  /** A PES with a PTS starts on media stream `pid` (90 kHz, 33 bits). */
  pts?(pid: number, pts: number): void;
  /** A whole payload of data stream `pid`: a private section, or a PES payload with its PTS. */
  data?(pid: number, payload: Uint8Array, pts: number | undefined): void;
}

interface DataAssembly {
  chunks: Buffer[];
  bytes: number;
  /** PES: payload bytes the header announced (0: unbounded, ends at the next start). */
  expected: number;
  pts?: number;
}

export class TsReader {
  private pmtPid?: number;
  /** pid → stream type, for the PMT's streams. */
  private readonly streams = new Map<number, number>();
  private readonly dataPids = new Set<number>();
  private readonly assembly = new Map<number, DataAssembly>();
  /** The PMT's version last read (a new one replaces the stream list). */
  private pmtVersion = -1;

  constructor(private readonly listener: TsReaderListener) {}

  /** True when `pid` carries the programme's PMT. */
  isPmt(pid: number): boolean {
    return pid === this.pmtPid;
  }

  /** How many video and audio streams the programme has. */
  audioVisualCount(): number {
    let n = 0;
    for (const pid of this.streams.keys()) if (this.isAudioVisual(pid)) n++;
    return n;
  }

  /** True when the programme has a data stream. */
  hasData(): boolean {
    return this.dataPids.size > 0;
  }

  /** True when `pid`'s packets carry a data stream (cues), not media. */
  isData(pid: number): boolean {
    return this.dataPids.has(pid);
  }

  /** True when `pid` is a video or audio stream of the programme (what an encoder's start time is taken from). */
  isAudioVisual(pid: number): boolean {
    const type = this.streams.get(pid);
    return type !== undefined && !this.dataPids.has(pid) && AUDIO_VISUAL.has(type);
  }

  /** Reads one 188-byte packet (one without the sync byte is passed over). */
  push(p: Uint8Array): void {
    if (p.length < TS_PACKET || p[0] !== SYNC) return;
    const pid = ((p[1] & 0x1f) << 8) | p[2];
    if (pid === NULL_PID || (p[1] & 0x80) !== 0) return; // stuffing, or transport_error_indicator
    const start = (p[1] & 0x40) !== 0;
    const afc = (p[3] >> 4) & 3;
    if ((afc & 1) === 0) return; // no payload
    const offset = afc === 3 ? 5 + p[4] : 4;
    if (offset >= TS_PACKET) return;
    const payload = p.subarray(offset, TS_PACKET);
    if (pid === PAT_PID) {
      if (start) this.readPat(payload);
    } else if (pid === this.pmtPid) {
      if (start) this.readPmt(payload);
    } else if (this.dataPids.has(pid)) {
      if (this.streams.get(pid) === PRIVATE_SECTIONS) this.sectionBytes(pid, payload, start);
      else this.pesBytes(pid, payload, start);
    } else if (start && this.streams.has(pid)) {
      const pts = pesPts(payload);
      if (pts !== undefined) this.listener.pts?.(pid, pts);
    }
  }

  private readPat(payload: Uint8Array): void {
    const s = tableSection(payload);
    if (!s || s[0] !== 0x00) return;
    // programme loop: program_number (16), reserved (3), PID (13); number 0 is the network PID
    for (let i = 8; i + 4 <= s.length - 4; i += 4) {
      const number = (s[i] << 8) | s[i + 1];
      if (number !== 0) {
        this.pmtPid = ((s[i + 2] & 0x1f) << 8) | s[i + 3];
        return;
      }
    }
  }

  private readPmt(payload: Uint8Array): void {
    const s = tableSection(payload);
    if (!s || s[0] !== 0x02) return;
    const version = (s[5] >> 1) & 0x1f;
    if (version === this.pmtVersion) return;
    this.pmtVersion = version;
    this.streams.clear();
    this.dataPids.clear();
    const programInfoLength = ((s[10] & 0x0f) << 8) | s[11];
    for (let i = 12 + programInfoLength; i + 5 <= s.length - 4;) {
      const type = s[i];
      const pid = ((s[i + 1] & 0x1f) << 8) | s[i + 2];
      const esInfoLength = ((s[i + 3] & 0x0f) << 8) | s[i + 4];
      this.streams.set(pid, type);
      if (type === PRIVATE_SECTIONS || (type === PRIVATE_PES && esInfoLength === 0)) this.dataPids.add(pid);
      i += 5 + esInfoLength;
    }
    for (const pid of [...this.assembly.keys()]) if (!this.dataPids.has(pid)) this.assembly.delete(pid);
  }

  private pesBytes(pid: number, payload: Uint8Array, start: boolean): void {
    let a = this.assembly.get(pid);
    if (start) {
      if (a && a.expected === 0) this.finish(pid, a); // an unbounded PES ends where the next starts
      const header = pesHeader(payload);
      if (!header) {
        this.assembly.delete(pid);
        return;
      }
      a = {
        chunks: [],
        bytes: 0,
        expected: header.payloadLength,
        ...(header.pts !== undefined ? { pts: header.pts } : {}),
      };
      this.assembly.set(pid, a);
      payload = payload.subarray(header.headerLength);
    }
    if (!a) return; // joined inside a PES: wait for the next start
    this.append(pid, a, payload);
    if (a.expected > 0 && a.bytes >= a.expected) this.finish(pid, a);
  }

  private sectionBytes(pid: number, payload: Uint8Array, start: boolean): void {
    let a = this.assembly.get(pid);
    if (start) {
      const pointer = payload[0];
      if (a) this.append(pid, a, payload.subarray(1, 1 + pointer)); // the end of the section before
      if (a) this.endSection(pid, a);
      payload = payload.subarray(1 + pointer);
      a = { chunks: [], bytes: 0, expected: 0 };
      this.assembly.set(pid, a);
    }
    if (!a) return;
    this.append(pid, a, payload);
    this.endSection(pid, a);
  }

  /** Hands over each whole section collected (several may share a packet; 0xFF is stuffing). */
  private endSection(pid: number, a: DataAssembly): void {
    for (;;) {
      const bytes = Buffer.concat(a.chunks);
      if (bytes.length === 0 || bytes[0] === 0xff) {
        a.chunks = [];
        a.bytes = 0;
        return;
      }
      if (bytes.length < 3) return;
      const total = 3 + (((bytes[1] & 0x0f) << 8) | bytes[2]);
      if (bytes.length < total) {
        a.chunks = [bytes];
        return;
      }
      this.listener.data?.(pid, bytes.subarray(0, total), undefined);
      a.chunks = [bytes.subarray(total)];
      a.bytes = bytes.length - total;
    }
  }

  private append(pid: number, a: DataAssembly, bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    if (a.bytes + bytes.length > MAX_DATA) {
      this.assembly.delete(pid); // not a cue: dropped, the next start begins again
      return;
    }
    a.chunks.push(Buffer.from(bytes));
    a.bytes += bytes.length;
  }

  private finish(pid: number, a: DataAssembly): void {
    this.assembly.delete(pid);
    const bytes = Buffer.concat(a.chunks);
    const payload = a.expected > 0 ? bytes.subarray(0, a.expected) : bytes;
    if (payload.length > 0) this.listener.data?.(pid, payload, a.pts);
  }
}

/** The section a PSI packet starts (after its pointer_field), or undefined when it does not fit. */
function tableSection(payload: Uint8Array): Uint8Array | undefined {
  const at = 1 + payload[0];
  if (at + 3 > payload.length) return undefined;
  const length = 3 + (((payload[at + 1] & 0x0f) << 8) | payload[at + 2]);
  return at + length <= payload.length ? payload.subarray(at, at + length) : undefined;
}

interface PesHeader {
  headerLength: number;
  /** Payload bytes after the header (0: not given). */
  payloadLength: number;
  pts?: number;
}

function pesHeader(b: Uint8Array): PesHeader | undefined {
  if (b.length < 6 || b[0] !== 0 || b[1] !== 0 || b[2] !== 1) return undefined;
  const streamId = b[3];
  const packetLength = (b[4] << 8) | b[5];
  if (NO_PES_HEADER.has(streamId)) return { headerLength: 6, payloadLength: packetLength };
  if (b.length < 9) return undefined;
  const headerLength = 9 + b[8];
  const pts = pesPts(b);
  return {
    headerLength,
    payloadLength: packetLength === 0 ? 0 : Math.max(0, packetLength - 3 - b[8]),
    ...(pts !== undefined ? { pts } : {}),
  };
}

/** The PTS of a PES header starting `b`, when it has one. */
export function pesPts(b: Uint8Array): number | undefined {
  if (b.length < 14 || b[0] !== 0 || b[1] !== 0 || b[2] !== 1 || NO_PES_HEADER.has(b[3])) return undefined;
  if ((b[7] & 0x80) === 0) return undefined;
  return ((b[9] >> 1) & 0x07) * 2 ** 30 + ((b[10] << 7) | (b[11] >> 1)) * 2 ** 15 + ((b[12] << 7) | (b[13] >> 1));
}
