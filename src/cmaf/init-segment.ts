/**
 * Initialization segment reader: ftyp + moov (mvhd, trak/tkhd/mdia/mdhd/hdlr/minf/stbl/stsd,
 * mvex/trex). Produces one TrackInfo per trak with its RFC 6381 codec string, and the trex
 * defaults that fragment parsing needs. Also accepts a whole progressive MP4 (reads its moov).
 */
import { StreamedgeError } from '../errors.js';
import { type Box, type BoxHeader, childBox, readBox, readBoxHeader } from './box.js';
import { ByteReader } from './byte-reader.js';
import { ac3Channels, ec3Channels } from './dolby-audio.js';
import { avcCodecString, hevcCodecString, mp4aCodecString, parseEsds } from './codec-string.js';
import { parseFileType } from './file-type.js';
import type { TrexDefaults } from './trex.js';
import { parseTrex } from './trex.js';

export type { TrexDefaults } from './trex.js';

export interface TrackInfo {
  trackId: number;
  kind: 'video' | 'audio' | 'other';
  /** hdlr handler_type, e.g. "vide", "soun", "subt". */
  handler: string;
  /** mdhd timescale (ticks per second). */
  timescale: number;
  /** RFC 6381 codec string, e.g. "avc1.64001e", "mp4a.40.2", "hvc1.1.6.L63.90". */
  codec: string;
  /** Sample entry four-cc (the original format for encrypted entries), e.g. "avc1". */
  codecFourcc: string;
  width?: number;
  height?: number;
  sampleRate?: number;
  channels?: number;
  /** AC-3/E-AC-3: the channel mask of its dac3/dec3 (src/cmaf/dolby-audio.ts), for DASH. */
  channelMask?: number;
  /** From the track's trex (mvex), when present and non-zero. */
  defaultSampleDuration?: number;
  /** mdhd language (ISO 639-2/T), e.g. "und", "eng". */
  language?: string;
  /** mdhd duration in timescale units (0 for fragmented files with an empty moov). */
  duration?: number;
}

export interface InitInfo {
  tracks: TrackInfo[];
  brands: { major: string; compatible: string[] };
  /** mvhd timescale. */
  movieTimescale: number;
  /** trex defaults by track id (empty when the moov has no mvex: not a fragmented file). */
  trex: Map<number, TrexDefaults>;
  /** The moov has an mvex: the file is (meant to be) fragmented. */
  fragmented: boolean;
}

export function parseInit(buf: Buffer): InitInfo {
  let ftyp: Box | undefined;
  let moov: Box | undefined;
  let pos = 0;
  // Walk top-level headers only, so a buffer holding init + (partial) media still parses.
  while (pos < buf.length && !moov) {
    let h: BoxHeader;
    try {
      h = readBoxHeader(buf, pos);
    } catch (e) {
      throw new StreamedgeError('BAD_INIT', `no complete moov box: ${(e as Error).message}`, { cause: e });
    }
    if (h.type === 'moov') moov = readBox(buf, pos);
    else if (h.type === 'ftyp' && !ftyp) ftyp = readBox(buf, pos);
    pos += h.size;
  }
  if (!moov) {
    throw new StreamedgeError(
      'BAD_INIT',
      'no moov box found: this is not an MP4 initialization segment (or the moov was cut off)',
    );
  }
  const fileType = ftyp ? parseFileType(ftyp) : { major: '', compatible: [] };
  const mvhd = childBox(moov, 'mvhd');
  const movieTimescale = mvhd ? parseMvhdTimescale(mvhd) : 0;
  const trex = new Map<number, TrexDefaults>();
  const mvex = childBox(moov, 'mvex');
  for (const b of mvex?.children ?? []) {
    if (b.type === 'trex') {
      const t = parseTrex(b);
      trex.set(t.trackId, t);
    }
  }
  const tracks = (moov.children ?? []).filter((b) => b.type === 'trak').map((t) => parseTrak(t, trex));
  return {
    tracks,
    brands: { major: fileType.major, compatible: fileType.compatible },
    movieTimescale,
    trex,
    fragmented: mvex !== undefined,
  };
}

function parseMvhdTimescale(b: Box): number {
  const r = new ByteReader(b.payload, 'mvhd');
  const { version } = r.fullHeader();
  r.skip(version === 1 ? 16 : 8);
  return r.u32();
}

interface Tkhd {
  trackId: number;
  width: number;
  height: number;
}

function parseTkhd(b: Box): Tkhd {
  const r = new ByteReader(b.payload, 'tkhd');
  const { version } = r.fullHeader();
  r.skip(version === 1 ? 16 : 8); // creation/modification time
  const trackId = r.u32();
  r.skip(4); // reserved
  r.skip(version === 1 ? 8 : 4); // duration
  r.skip(8 + 2 + 2 + 2 + 2 + 36); // reserved, layer, alternate_group, volume, reserved, matrix
  const width = r.u32() / 65536;
  const height = r.u32() / 65536;
  return { trackId, width, height };
}

interface Mdhd {
  timescale: number;
  duration: number;
  language: string;
}

function parseMdhd(b: Box): Mdhd {
  const r = new ByteReader(b.payload, 'mdhd');
  const { version } = r.fullHeader();
  r.skip(version === 1 ? 16 : 8);
  const timescale = r.u32();
  const duration = version === 1 ? Number(r.u64big()) : r.u32();
  const lang = r.u16();
  const language = String.fromCharCode(((lang >> 10) & 0x1f) + 0x60, ((lang >> 5) & 0x1f) + 0x60, (lang & 0x1f) + 0x60);
  return { timescale, duration, language };
}

function parseHdlr(b: Box): string {
  const r = new ByteReader(b.payload, 'hdlr');
  r.fullHeader();
  r.skip(4); // pre_defined
  return r.fourcc();
}

function parseTrak(trak: Box, trex: Map<number, TrexDefaults>): TrackInfo {
  const tkhdBox = childBox(trak, 'tkhd');
  if (!tkhdBox) throw new StreamedgeError('BAD_INIT', 'a trak has no tkhd box');
  const tkhd = parseTkhd(tkhdBox);
  const mdia = childBox(trak, 'mdia');
  const mdhdBox = mdia && childBox(mdia, 'mdhd');
  const hdlrBox = mdia && childBox(mdia, 'hdlr');
  if (!mdhdBox || !hdlrBox) throw new StreamedgeError('BAD_INIT', `track ${tkhd.trackId} lacks mdia/mdhd or mdia/hdlr`);
  const mdhd = parseMdhd(mdhdBox);
  const handler = parseHdlr(hdlrBox);
  const kind: TrackInfo['kind'] = handler === 'vide' ? 'video' : handler === 'soun' ? 'audio' : 'other';
  const minf = childBox(mdia, 'minf');
  const stbl = minf && childBox(minf, 'stbl');
  const stsd = stbl && childBox(stbl, 'stsd');
  const info: TrackInfo = {
    trackId: tkhd.trackId,
    kind,
    handler,
    timescale: mdhd.timescale,
    codec: '',
    codecFourcc: '',
    language: mdhd.language,
    duration: mdhd.duration,
  };
  if (stsd) Object.assign(info, parseSampleEntry(stsd, kind));
  if (kind === 'video') {
    if (!info.width && tkhd.width) info.width = Math.round(tkhd.width);
    if (!info.height && tkhd.height) info.height = Math.round(tkhd.height);
  }
  const t = trex.get(tkhd.trackId);
  if (t && t.defaultSampleDuration > 0) info.defaultSampleDuration = t.defaultSampleDuration;
  return info;
}

type EntryInfo = Pick<
  TrackInfo,
  'codec' | 'codecFourcc' | 'width' | 'height' | 'sampleRate' | 'channels' | 'channelMask'
>;

/** Reads the first sample entry of stsd: its fields and the configuration boxes after them. */
function parseSampleEntry(stsd: Box, kind: TrackInfo['kind']): EntryInfo {
  const r = new ByteReader(stsd.payload, 'stsd');
  r.fullHeader();
  const count = r.u32();
  if (count === 0) throw new StreamedgeError('BAD_INIT', 'stsd has no sample entry');
  const entry = readBox(stsd.payload, r.pos);
  let fourcc = entry.type;
  const e = new ByteReader(entry.payload, fourcc);
  const out: EntryInfo = { codec: fourcc, codecFourcc: fourcc };
  e.skip(8); // reserved(6) + data_reference_index(2)
  let fieldsEnd: number;
  const visual = kind === 'video' || VISUAL.has(fourcc);
  if (visual) {
    e.skip(16);
    out.width = e.u16();
    out.height = e.u16();
    fieldsEnd = 8 + 70;
  } else if (kind === 'audio' || AUDIO.has(fourcc)) {
    const version = e.u16();
    e.skip(6);
    out.channels = e.u16();
    e.skip(6); // samplesize, pre_defined, reserved
    out.sampleRate = e.u32() >>> 16;
    fieldsEnd = 8 + 20 + (version === 1 ? 16 : version === 2 ? 36 : 0);
  } else {
    return out;
  }
  const children = lenientBoxes(entry.payload.subarray(Math.min(fieldsEnd, entry.payload.length)));
  const child = (t: string): Box | undefined => children.find((c) => c.type === t);
  if (fourcc === 'encv' || fourcc === 'enca') {
    const frma = child('sinf')?.children?.find((c) => c.type === 'frma');
    if (frma && frma.payload.length >= 4) fourcc = frma.payload.toString('latin1', 0, 4);
    out.codecFourcc = fourcc;
  }
  out.codec = fourcc;
  const avcC = child('avcC');
  const hvcC = child('hvcC');
  const esds = child('esds');
  if ((fourcc === 'avc1' || fourcc === 'avc3') && avcC) out.codec = avcCodecString(fourcc, avcC.payload);
  else if ((fourcc === 'hvc1' || fourcc === 'hev1') && hvcC) out.codec = hevcCodecString(fourcc, hvcC.payload);
  else if (fourcc === 'av01' && child('av1C')) out.codec = av1CodecString(child('av1C')!.payload);
  else if (fourcc === 'vp09' && child('vpcC')) out.codec = vp9CodecString(child('vpcC')!.payload);
  else if (fourcc === 'mp4a' && esds) {
    out.codec = mp4aCodecString(fourcc, esds.payload);
    const cfg = parseEsds(esds.payload);
    if (cfg.sampleRate) out.sampleRate = cfg.sampleRate;
    if (cfg.channelConfiguration && cfg.channelConfiguration < 7) out.channels = cfg.channelConfiguration;
  } else if ((fourcc === 'ec-3' && child('dec3')) || (fourcc === 'ac-3' && child('dac3'))) {
    const d = fourcc === 'ec-3' ? ec3Channels(child('dec3')!.payload) : ac3Channels(child('dac3')!.payload);
    out.channels = d.channels;
    out.channelMask = d.mask;
  } else if (fourcc === 'Opus') out.codec = 'opus';
  else if (fourcc === 'fLaC') out.codec = 'flac';
  return out;
}

const VISUAL = new Set(['avc1', 'avc3', 'hvc1', 'hev1', 'av01', 'vp09', 'encv', 'mp4v']);
const AUDIO = new Set(['mp4a', 'ac-3', 'ec-3', 'Opus', 'fLaC', 'enca']);

/** Child boxes of a sample entry; stops quietly at trailing padding some muxers leave. */
function lenientBoxes(buf: Buffer): Box[] {
  const out: Box[] = [];
  let pos = 0;
  while (buf.length - pos >= 8) {
    try {
      const b = readBox(buf, pos);
      out.push(b);
      pos += b.size;
    } catch {
      break;
    }
  }
  return out;
}

/** av01.P.LLT.DD (AV1 ISOBMFF binding, "Codecs Parameter String"). */
function av1CodecString(av1C: Buffer): string {
  const r = new ByteReader(av1C, 'av1C');
  r.u8(); // marker + version
  const b1 = r.u8();
  const b2 = r.u8();
  const profile = b1 >> 5;
  const level = b1 & 0x1f;
  const tier = (b2 >> 7) & 1;
  const high = (b2 >> 6) & 1;
  const twelve = (b2 >> 5) & 1;
  const depth = high ? (twelve ? 12 : 10) : 8;
  return `av01.${profile}.${String(level).padStart(2, '0')}${tier ? 'H' : 'M'}.${String(depth).padStart(2, '0')}`;
}

/** vp09.PP.LL.DD (VP9 ISOBMFF binding). */
function vp9CodecString(vpcC: Buffer): string {
  const r = new ByteReader(vpcC, 'vpcC');
  r.fullHeader();
  const profile = r.u8();
  const level = r.u8();
  const depth = r.u8() >> 4;
  const p2 = (n: number): string => String(n).padStart(2, '0');
  return `vp09.${p2(profile)}.${p2(level)}.${p2(depth)}`;
}
