/**
 * The closed-caption data carried in the pictures of CMAF video: ATSC A/53 Part 4 `GA94` cc_data in
 * H.264 or HEVC SEI messages (`user_data_registered_itu_t_t35`, ITU-T T.35 country 0xB5, provider
 * 0x0031), read from fMP4 fragments (moof + mdat) and timed by each sample's presentation time.
 * Browser-safe (Uint8Array and DataView only). Anything malformed is skipped, never thrown: a
 * caption reader must not stop playback.
 */
import type { CcTriplet } from './cea608.js';
import { boxAt, boxType, childBox, childBoxes } from '../cmaf/box-walk.js';

/** What reading a track's SEI needs from its init segment. */
export interface CaptionTrackInfo {
  timescale: number;
  /** Bytes of each NAL unit's length prefix (avcC/hvcC lengthSizeMinusOne + 1). */
  nalLengthSize: number;
  hevc: boolean;
}

/** One picture's caption data, at its presentation time in seconds (the fragment's decode times, plus composition offsets). */
export interface PictureCaptions {
  time: number;
  triplets: CcTriplet[];
}

const SAMPLE_ENTRIES_HEVC = new Set(['hvc1', 'hev1']);
const SAMPLE_ENTRIES_AVC = new Set(['avc1', 'avc3']);

/** From a video init segment (ftyp + moov): its timescale and NAL framing; undefined when not H.264 or HEVC. */
export function captionTrackInfo(init: Uint8Array): CaptionTrackInfo | undefined {
  const mdhd = boxAt(init, ['moov', 'trak', 'mdia', 'mdhd']);
  const stsd = boxAt(init, ['moov', 'trak', 'mdia', 'minf', 'stbl', 'stsd']);
  if (!mdhd || !stsd) return undefined;
  const view = new DataView(init.buffer, init.byteOffset, init.byteLength);
  const at = mdhd[0] + (init[mdhd[0]] === 1 ? 20 : 12);
  if (at + 4 > mdhd[1]) return undefined;
  const timescale = view.getUint32(at);
  if (timescale === 0) return undefined;
  // stsd: version/flags, entry count, then the sample entries (encv: the original format's boxes inside)
  for (const [entry, s, e] of childBoxes(init, stsd[0] + 8, stsd[1])) {
    // VisualSampleEntry: 78 bytes before its child boxes
    const kids = s + 78;
    const avcC = childBox(init, kids, e, 'avcC');
    if ((SAMPLE_ENTRIES_AVC.has(entry) || entry === 'encv') && avcC && avcC[1] - avcC[0] > 4)
      return { timescale, nalLengthSize: (init[avcC[0] + 4] & 0x03) + 1, hevc: false };
    const hvcC = childBox(init, kids, e, 'hvcC');
    if ((SAMPLE_ENTRIES_HEVC.has(entry) || entry === 'encv') && hvcC && hvcC[1] - hvcC[0] > 21)
      return { timescale, nalLengthSize: (init[hvcC[0] + 21] & 0x03) + 1, hevc: true };
  }
  return undefined;
}

/** The RBSP of a NAL unit's payload (emulation prevention bytes 00 00 03 removed). */
function unescape(b: Uint8Array, start: number, end: number): Uint8Array {
  const out = new Uint8Array(end - start);
  let n = 0;
  let zeros = 0;
  for (let i = start; i < end; i++) {
    const v = b[i];
    if (zeros >= 2 && v === 3) {
      zeros = 0;
      continue;
    }
    out[n++] = v;
    zeros = v === 0 ? zeros + 1 : 0;
  }
  return out.subarray(0, n);
}

/** The cc_data triplets in one SEI NAL unit's RBSP (after its NAL header). */
function seiTriplets(rbsp: Uint8Array, into: CcTriplet[]): void {
  let at = 0;
  // messages until the rbsp_trailing_bits (0x80, the last byte)
  while (at + 2 <= rbsp.length) {
    let payloadType = 0;
    while (at < rbsp.length && rbsp[at] === 0xff) payloadType += rbsp[at++];
    payloadType += rbsp[at++] ?? 0;
    let size = 0;
    while (at < rbsp.length && rbsp[at] === 0xff) size += rbsp[at++];
    size += rbsp[at++] ?? 0;
    const end = at + size;
    if (end > rbsp.length) return;
    if (payloadType === 4) gaTriplets(rbsp, at, end, into);
    at = end;
  }
}

/** A user_data_registered_itu_t_t35 payload: its triplets when it is ATSC A/53 GA94 cc_data. */
function gaTriplets(b: Uint8Array, at: number, end: number, into: CcTriplet[]): void {
  if (end - at < 10 || b[at] !== 0xb5 || b[at + 1] !== 0x00 || b[at + 2] !== 0x31) return;
  if (boxType(b, at + 3) !== 'GA94' || b[at + 7] !== 0x03) return;
  const flags = b[at + 8];
  if (!(flags & 0x40)) return; // process_cc_data_flag
  const count = flags & 0x1f;
  let p = at + 10; // after em_data
  for (let i = 0; i < count && p + 3 <= end; i++, p += 3) {
    const head = b[p];
    if (!(head & 0x04)) continue; // cc_valid
    into.push({ type: head & 0x03, b1: b[p + 1], b2: b[p + 2] });
  }
}

/** A fragment's caption data, and the media it spans (decode times, seconds). */
export interface FragmentCaptions {
  /** Every picture carrying caption data, in presentation order. */
  pictures: PictureCaptions[];
  /** The first sample's decode time; undefined when the fragment holds no sample. */
  start?: number;
  /** The last sample's decode time plus its duration. */
  end?: number;
}

/** The caption data of every picture in `fragment` (one or more moof + mdat pairs). */
export function fragmentCaptions(fragment: Uint8Array, info: CaptionTrackInfo): FragmentCaptions {
  const out: FragmentCaptions = { pictures: [] };
  const view = new DataView(fragment.buffer, fragment.byteOffset, fragment.byteLength);
  for (const [type, s, e] of childBoxes(fragment, 0, fragment.byteLength)) {
    if (type === 'moof') {
      const moofStart = s - 8;
      for (const [t, ts, te] of childBoxes(fragment, s, e))
        if (t === 'traf') readTraf(fragment, view, moofStart, ts, te, info, out);
    }
  }
  out.pictures.sort((a, b) => a.time - b.time);
  return out;
}

function readTraf(
  b: Uint8Array,
  view: DataView,
  moofStart: number,
  start: number,
  end: number,
  info: CaptionTrackInfo,
  out: FragmentCaptions,
): void {
  const tfhd = childBox(b, start, end, 'tfhd');
  const tfdt = childBox(b, start, end, 'tfdt');
  if (!tfhd || tfhd[1] - tfhd[0] < 8) return;
  const hf = view.getUint32(tfhd[0]) & 0xffffff;
  // every field its flags announce must lie inside the box
  const tfhdSize = 8 + (hf & 0x01 ? 8 : 0) + (hf & 0x02 ? 4 : 0) + (hf & 0x08 ? 4 : 0) + (hf & 0x10 ? 4 : 0);
  if (tfhd[1] - tfhd[0] < tfhdSize) return;
  let p = tfhd[0] + 8; // after version/flags and track_ID
  let base = moofStart;
  if (hf & 0x01) {
    base = Number(view.getBigUint64(p));
    p += 8;
  }
  if (hf & 0x02) p += 4;
  let defaultDuration = 0;
  let defaultSize = 0;
  if (hf & 0x08) {
    defaultDuration = view.getUint32(p);
    p += 4;
  }
  if (hf & 0x10) defaultSize = view.getUint32(p);
  let decode = 0;
  if (tfdt && tfdt[1] - tfdt[0] >= (b[tfdt[0]] === 1 ? 12 : 8))
    decode = b[tfdt[0]] === 1 ? Number(view.getBigUint64(tfdt[0] + 4)) : view.getUint32(tfdt[0] + 4);
  for (const [t, s, e] of childBoxes(b, start, end)) {
    if (t !== 'trun' || e - s < 8) continue;
    const version = b[s];
    const f = view.getUint32(s) & 0xffffff;
    const count = view.getUint32(s + 4);
    const perSample = 4 * (((f >> 8) & 1) + ((f >> 9) & 1) + ((f >> 10) & 1) + ((f >> 11) & 1));
    if (8 + (f & 0x01 ? 4 : 0) + (f & 0x04 ? 4 : 0) + count * perSample > e - s) continue;
    let q = s + 8;
    let data = base;
    if (f & 0x01) {
      data += view.getInt32(q);
      q += 4;
    }
    if (f & 0x04) q += 4;
    for (let i = 0; i < count; i++) {
      let duration = defaultDuration;
      let size = defaultSize;
      let cto = 0;
      if (f & 0x100) {
        duration = view.getUint32(q);
        q += 4;
      }
      if (f & 0x200) {
        size = view.getUint32(q);
        q += 4;
      }
      if (f & 0x400) q += 4;
      if (f & 0x800) {
        cto = version === 0 ? view.getUint32(q) : view.getInt32(q);
        q += 4;
      }
      if (data < 0 || data + size > b.byteLength) return;
      const triplets = sampleTriplets(b, data, data + size, info);
      if (triplets.length > 0) out.pictures.push({ time: (decode + cto) / info.timescale, triplets });
      out.start = Math.min(out.start ?? Infinity, decode / info.timescale);
      out.end = Math.max(out.end ?? -Infinity, (decode + duration) / info.timescale);
      data += size;
      decode += duration;
    }
  }
}

function sampleTriplets(b: Uint8Array, start: number, end: number, info: CaptionTrackInfo): CcTriplet[] {
  const triplets: CcTriplet[] = [];
  let at = start;
  const n = info.nalLengthSize;
  while (at + n <= end) {
    let len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + b[at + i];
    at += n;
    if (len === 0 || at + len > end) break;
    const sei = info.hevc ? ((b[at] >> 1) & 0x3f) === 39 : (b[at] & 0x1f) === 6;
    if (sei) seiTriplets(unescape(b, at + (info.hevc ? 2 : 1), at + len), triplets);
    at += len;
  }
  return triplets;
}
