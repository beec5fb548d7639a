/**
 * SCTE 35 splice_info_section (ANSI/SCTE 35, §9.6): the bytes an ad break's cue carries in HLS
 * (EXT-X-DATERANGE SCTE35-OUT / SCTE35-IN, hex) and in DASH (an EventStream of scheme
 * urn:scte:scte35:2014:xml+bin, base64). Written here for splice_insert (§9.7.3), the command a
 * live channel's ad break uses: out of network at the break, back in at its end. Read back for
 * splice_insert and time_signal, with the CRC checked, so a cue can be inspected and tested.
 */
import { StreamedgeError } from '../errors.js';

const TABLE_ID = 0xfc;
const SPLICE_INSERT = 0x05;
const TIME_SIGNAL = 0x06;
/** 33-bit PTS and durations (90 kHz) wrap at 2^33. */
const PTS_MOD = 2 ** 33;

export interface SpliceInsert {
  spliceEventId: number;
  /** True: the break starts here (leave the network); false: the return. */
  outOfNetwork: boolean;
  /** Splice time, 90 kHz PTS (taken mod 2^33); absent: splice_immediate. */
  ptsTime?: number;
  /** The break's length, 90 kHz ticks; with autoReturn, the splicer returns by itself after it. */
  breakDuration?: { autoReturn: boolean; duration: number };
  uniqueProgramId: number;
  availNum: number;
  availsExpected: number;
}

export interface SpliceInfo {
  /** 33-bit pts_adjustment (90 kHz). */
  ptsAdjustment: number;
  tier: number;
  commandType: number;
  /** Set when the command is a splice_insert that is not a cancel. */
  spliceInsert?: SpliceInsert;
  /** Set when the command is a splice_insert cancelling event `cancelledEventId`. */
  cancelledEventId?: number;
  /** time_signal's pts_time (undefined when the command is another, or time_specified_flag is 0). */
  timeSignalPts?: number;
  /** Descriptors' tags and bytes, as they come (e.g. an avail_descriptor, a segmentation_descriptor). */
  descriptors: { tag: number; data: Uint8Array }[];
}

/** A splice_info_section with one splice_insert and no descriptors, unencrypted, CRC included. */
export function encodeSpliceInsert(s: SpliceInsert): Uint8Array {
  const cmd = new BitWriter();
  cmd.bits(s.spliceEventId >>> 0, 32);
  cmd.bits(0, 1); // splice_event_cancel_indicator
  cmd.bits(0x7f, 7); // reserved
  cmd.bits(s.outOfNetwork ? 1 : 0, 1);
  cmd.bits(1, 1); // program_splice_flag: the whole programme
  cmd.bits(s.breakDuration ? 1 : 0, 1);
  cmd.bits(s.ptsTime === undefined ? 1 : 0, 1); // splice_immediate_flag
  cmd.bits(1, 1); // event_id_compliance_flag (SCTE 35 2020 and later)
  cmd.bits(0x7, 3); // reserved
  if (s.ptsTime !== undefined) {
    cmd.bits(1, 1); // time_specified_flag
    cmd.bits(0x3f, 6);
    cmd.bits33(mod33(s.ptsTime));
  }
  if (s.breakDuration) {
    cmd.bits(s.breakDuration.autoReturn ? 1 : 0, 1);
    cmd.bits(0x3f, 6);
    cmd.bits33(mod33(s.breakDuration.duration));
  }
  cmd.bits(s.uniqueProgramId, 16);
  cmd.bits(s.availNum, 8);
  cmd.bits(s.availsExpected, 8);
  const command = cmd.bytes();

  const body = new BitWriter();
  body.bits(0, 8); // protocol_version
  body.bits(0, 1); // encrypted_packet
  body.bits(0, 6); // encryption_algorithm
  body.bits33(0); // pts_adjustment
  body.bits(0xff, 8); // cw_index: unused when unencrypted (the standard's samples carry 0xFF)
  body.bits(0xfff, 12); // tier: not used
  body.bits(command.length, 12);
  body.bits(SPLICE_INSERT, 8);
  body.raw(command);
  body.bits(0, 16); // descriptor_loop_length
  const rest = body.bytes();

  const sectionLength = rest.length + 4; // + CRC_32
  const out = new Uint8Array(3 + sectionLength);
  out[0] = TABLE_ID;
  // section_syntax_indicator 0, private_indicator 0, sap_type 3 (not specified)
  out[1] = 0x30 | ((sectionLength >> 8) & 0x0f);
  out[2] = sectionLength & 0xff;
  out.set(rest, 3);
  const crc = crc32Mpeg2(out.subarray(0, out.length - 4));
  new DataView(out.buffer, out.byteOffset).setUint32(out.length - 4, crc);
  return out;
}

/** Reads a splice_info_section; throws on a wrong table id, a short section or a bad CRC. */
export function decodeSpliceInfo(bytes: Uint8Array): SpliceInfo {
  const bad = (why: string) => new StreamedgeError('BAD_SCTE35', `not a valid SCTE 35 splice_info_section: ${why}`);
  if (bytes.length < 3 || bytes[0] !== TABLE_ID) throw bad(`table_id is not 0xFC`);
  const sectionLength = ((bytes[1] & 0x0f) << 8) | bytes[2];
  const total = 3 + sectionLength;
  if (bytes.length < total || sectionLength < 15) throw bad(`${bytes.length} bytes, the section says ${total}`);
  const section = bytes.subarray(0, total);
  const view = new DataView(section.buffer, section.byteOffset, section.byteLength);
  if (crc32Mpeg2(section.subarray(0, total - 4)) !== view.getUint32(total - 4)) throw bad('CRC_32 mismatch');
  const r = new BitReader(section.subarray(3, total - 4));
  r.skip(8); // protocol_version
  if (r.bits(1) === 1) throw bad('encrypted sections are not read');
  r.skip(6);
  const ptsAdjustment = r.bits33();
  r.skip(8); // cw_index
  const tier = r.bits(12);
  const commandLength = r.bits(12);
  const commandType = r.bits(8);
  const commandStart = r.position;
  const info: SpliceInfo = { ptsAdjustment, tier, commandType, descriptors: [] };
  if (commandType === SPLICE_INSERT) {
    const spliceEventId = r.bits(32);
    const cancel = r.bits(1) === 1;
    r.skip(7);
    if (cancel) info.cancelledEventId = spliceEventId;
    else {
      const outOfNetwork = r.bits(1) === 1;
      const programSplice = r.bits(1) === 1;
      const hasDuration = r.bits(1) === 1;
      const immediate = r.bits(1) === 1;
      r.skip(4);
      if (!programSplice) throw bad('component splice mode is not read');
      let ptsTime: number | undefined;
      if (!immediate) ptsTime = spliceTime(r);
      let breakDuration: SpliceInsert['breakDuration'];
      if (hasDuration) {
        const autoReturn = r.bits(1) === 1;
        r.skip(6);
        breakDuration = { autoReturn, duration: r.bits33() };
      }
      info.spliceInsert = {
        spliceEventId,
        outOfNetwork,
        ...(ptsTime !== undefined ? { ptsTime } : {}),
        ...(breakDuration ? { breakDuration } : {}),
        uniqueProgramId: r.bits(16),
        availNum: r.bits(8),
        availsExpected: r.bits(8),
      };
    }
  } else if (commandType === TIME_SIGNAL) {
    const pts = spliceTime(r);
    if (pts !== undefined) info.timeSignalPts = pts;
  }
  // commands this does not read are skipped by their length (0xFFF: unknown, only legal for old ones)
  if (commandLength !== 0xfff) r.seek(commandStart + commandLength * 8);
  const loopLength = r.bits(16);
  const loopEnd = r.position + loopLength * 8;
  while (r.position < loopEnd) {
    const tag = r.bits(8);
    const length = r.bits(8);
    info.descriptors.push({ tag, data: r.take(length) });
  }
  return info;
}

/** segmentation_descriptor (SCTE 35 §10.3.3), the fields a channel acts on. */
export interface Segmentation {
  segmentationEventId: number;
  /** segmentation_event_cancel_indicator: the event given earlier under this id is called off. */
  cancel: boolean;
  /** segmentation_type_id (Table 23: 0x22 break start, 0x23 break end, 0x34 provider placement opportunity start, ...). */
  typeId?: number;
  /** segmentation_duration, 90 kHz ticks. */
  duration?: number;
  /** segmentation_upid_type and its bytes (an ad-id, a TI, an MPU...), kept for whoever reads the cue. */
  upid?: { type: number; bytes: Uint8Array };
}

const SEGMENTATION_DESCRIPTOR = 0x02;
/** "CUEI", the identifier of SCTE 35's own descriptors. */
const CUEI = 0x43554549;

/**
 * The segmentation_descriptors of a section (time_signal carries them; a splice_insert may too),
 * in order; descriptors of other tags or identifiers are passed over. Throws BAD_SCTE35 on one
 * that ends inside a field or splits the programme into components.
 */
export function segmentationsOf(info: SpliceInfo): Segmentation[] {
  const out: Segmentation[] = [];
  for (const d of info.descriptors) {
    if (d.tag !== SEGMENTATION_DESCRIPTOR || d.data.length < 4) continue;
    const r = new BitReader(d.data);
    if (r.bits(32) !== CUEI) continue;
    const segmentationEventId = r.bits(32);
    const cancel = r.bits(1) === 1;
    r.skip(7);
    if (cancel) {
      out.push({ segmentationEventId, cancel });
      continue;
    }
    const programSegmentation = r.bits(1) === 1;
    const hasDuration = r.bits(1) === 1;
    r.skip(6); // delivery_not_restricted_flag and its restrictions (or reserved)
    if (!programSegmentation)
      throw new StreamedgeError('BAD_SCTE35', 'component segmentation (one pts_offset per component) is not read');
    const duration = hasDuration ? r.bits(40) : undefined;
    const upidType = r.bits(8);
    const upidLength = r.bits(8);
    const upid = r.take(upidLength);
    const typeId = r.bits(8);
    out.push({
      segmentationEventId,
      cancel,
      typeId,
      ...(duration !== undefined ? { duration } : {}),
      ...(upidType !== 0 || upidLength > 0 ? { upid: { type: upidType, bytes: upid } } : {}),
    });
  }
  return out;
}

function spliceTime(r: BitReader): number | undefined {
  if (r.bits(1) === 1) {
    r.skip(6);
    return r.bits33();
  }
  r.skip(7);
  return undefined;
}

/**
 * `section` with its pts_adjustment moved by `deltaTicks` (90 kHz, mod 2^33) and its CRC
 * rewritten: what a re-multiplexer does when it puts the programme on another clock (SCTE 35
 * §9.6), so the splice time the section gives, pts_time + pts_adjustment, is on the new one.
 * Every other byte (the command, its descriptors and UPIDs) is kept. Throws BAD_SCTE35 on a
 * section that does not decode.
 */
export function shiftPtsAdjustment(section: Uint8Array, deltaTicks: number): Uint8Array {
  const info = decodeSpliceInfo(section);
  const total = 3 + (((section[1] & 0x0f) << 8) | section[2]);
  const out = Uint8Array.from(section.subarray(0, total));
  const adjustment = mod33(info.ptsAdjustment + deltaTicks);
  // byte 4: encrypted_packet (1), encryption_algorithm (6), pts_adjustment's top bit; 5–8: the rest
  out[4] = (out[4] & 0xfe) | (Math.floor(adjustment / 2 ** 32) & 1);
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  view.setUint32(5, adjustment % 2 ** 32);
  view.setUint32(total - 4, crc32Mpeg2(out.subarray(0, total - 4)));
  return out;
}

/** Hex as HLS writes SCTE35-OUT/IN (RFC 8216bis 4.4.5.1: a hexadecimal-sequence, 0x prefix). */
export function toHexSequence(bytes: Uint8Array): string {
  return '0x' + Buffer.from(bytes).toString('hex').toUpperCase();
}

export function fromHexSequence(hex: string): Uint8Array {
  if (!/^0[xX]([0-9a-fA-F]{2})+$/.test(hex))
    throw new StreamedgeError('BAD_SCTE35', `not a hexadecimal-sequence: ${hex}`);
  return new Uint8Array(Buffer.from(hex.slice(2), 'hex'));
}

/** A hexadecimal-sequence ("0xFC30…") as base64, as an MPD Event's Signal/Binary and HLS cue tags carry it. */
export function hexSequenceToBase64(hex: string): string {
  return Buffer.from(fromHexSequence(hex)).toString('base64');
}

const mod33 = (n: number) => ((Math.round(n) % PTS_MOD) + PTS_MOD) % PTS_MOD;

/** CRC-32/MPEG-2: polynomial 0x04C11DB7, initial 0xFFFFFFFF, not reflected, no final XOR. */
export function crc32Mpeg2(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const b of bytes) {
    crc ^= b << 24;
    for (let i = 0; i < 8; i++) crc = crc & 0x80000000 ? (crc << 1) ^ 0x04c11db7 : crc << 1;
  }
  return crc >>> 0;
}

/** Big-endian bit writer; fields up to 32 bits, and 33-bit PTS values. */
class BitWriter {
  private readonly out: number[] = [];
  private acc = 0;
  private n = 0;

  bits(value: number, width: number): void {
    for (let i = width - 1; i >= 0; i--) {
      this.acc = (this.acc << 1) | (Math.floor(value / 2 ** i) & 1);
      if (++this.n === 8) {
        this.out.push(this.acc & 0xff);
        this.acc = 0;
        this.n = 0;
      }
    }
  }

  bits33(value: number): void {
    this.bits(Math.floor(value / 2 ** 32) & 1, 1);
    this.bits(value % 2 ** 32, 32);
  }

  raw(bytes: Uint8Array): void {
    for (const b of bytes) this.bits(b, 8);
  }

  bytes(): Uint8Array {
    if (this.n !== 0) throw new Error('BitWriter: not byte-aligned');
    return Uint8Array.from(this.out);
  }
}

class BitReader {
  position = 0;
  constructor(private readonly data: Uint8Array) {}

  bits(width: number): number {
    if (this.position + width > this.data.length * 8)
      throw new StreamedgeError('BAD_SCTE35', 'not a valid SCTE 35 splice_info_section: it ends inside a field');
    let v = 0;
    for (let i = 0; i < width; i++) {
      const bit = (this.data[this.position >> 3] >> (7 - (this.position & 7))) & 1;
      v = v * 2 + bit;
      this.position++;
    }
    return v;
  }

  bits33(): number {
    return this.bits(33);
  }

  skip(width: number): void {
    this.bits(width);
  }

  seek(bit: number): void {
    this.position = bit;
  }

  take(length: number): Uint8Array {
    const start = this.position >> 3;
    this.skip(length * 8);
    return this.data.slice(start, start + length);
  }
}
