/**
 * RFC 6381 codec strings from decoder configuration records:
 *  - AVC:  avc1.PPCCLL from avcC (ISO/IEC 14496-15 §5.3.3.1)
 *  - HEVC: hvc1.[A|B|C]<profile>.<compat reversed, hex>.<L|H><level>[.<constraint bytes>] (14496-15 Annex E)
 *  - AAC and other MPEG-4 audio: mp4a.<OTI hex>[.<audioObjectType>] from esds (ISO/IEC 14496-1 §7.2.6)
 */
import { StreamedgeError } from '../errors.js';
import { ByteReader } from './byte-reader.js';

const hex2 = (n: number): string => n.toString(16).padStart(2, '0');

export interface AvcConfig {
  profile: number;
  constraints: number;
  level: number;
}

/** Reads the avcC payload (the AVCDecoderConfigurationRecord). */
export function parseAvcC(payload: Buffer): AvcConfig {
  const r = new ByteReader(payload, 'avcC');
  const version = r.u8();
  if (version !== 1) throw new StreamedgeError('BAD_BOX', `avcC configurationVersion is ${version}, expected 1`);
  return { profile: r.u8(), constraints: r.u8(), level: r.u8() };
}

export function avcCodecString(fourcc: string, payload: Buffer): string {
  const c = parseAvcC(payload);
  return `${fourcc}.${hex2(c.profile)}${hex2(c.constraints)}${hex2(c.level)}`;
}

export interface HevcConfig {
  profileSpace: number;
  tier: number;
  profileIdc: number;
  compatibilityFlags: number;
  /** The six constraint indicator bytes. */
  constraintBytes: number[];
  levelIdc: number;
}

/** Reads the start of the hvcC payload (HEVCDecoderConfigurationRecord). */
export function parseHvcC(payload: Buffer): HevcConfig {
  const r = new ByteReader(payload, 'hvcC');
  const version = r.u8();
  if (version !== 1) throw new StreamedgeError('BAD_BOX', `hvcC configurationVersion is ${version}, expected 1`);
  const b = r.u8();
  const compatibilityFlags = r.u32();
  const constraintBytes: number[] = [];
  for (let i = 0; i < 6; i++) constraintBytes.push(r.u8());
  const levelIdc = r.u8();
  return {
    profileSpace: b >> 6,
    tier: (b >> 5) & 1,
    profileIdc: b & 0x1f,
    compatibilityFlags,
    constraintBytes,
    levelIdc,
  };
}

function reverseBits32(v: number): number {
  let out = 0;
  for (let i = 0; i < 32; i++) {
    out = (out << 1) | ((v >>> i) & 1);
  }
  return out >>> 0;
}

export function hevcCodecString(fourcc: string, payload: Buffer): string {
  const c = parseHvcC(payload);
  const space = ['', 'A', 'B', 'C'][c.profileSpace];
  const compat = reverseBits32(c.compatibilityFlags).toString(16).toUpperCase();
  // Constraint bytes: trailing zero bytes are omitted.
  const bytes = [...c.constraintBytes];
  while (bytes.length > 0 && bytes[bytes.length - 1] === 0) bytes.pop();
  const constraints = bytes
    .map((x) => x.toString(16).toUpperCase())
    .map((s) => `.${s}`)
    .join('');
  return `${fourcc}.${space}${c.profileIdc}.${compat}.${c.tier ? 'H' : 'L'}${c.levelIdc}${constraints}`;
}

export interface Mp4aConfig {
  /** objectTypeIndication of the DecoderConfigDescriptor (0x40 = MPEG-4 audio). */
  objectTypeIndication: number;
  /** audioObjectType from the AudioSpecificConfig (2 = AAC-LC), when present. */
  audioObjectType?: number;
  /** From the AudioSpecificConfig, when present and not signalled by an escape we cannot map. */
  sampleRate?: number;
  channelConfiguration?: number;
}

const SAMPLE_RATES = [96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350];

/** Reads a descriptor header: tag and the 1-4 byte "expandable" size. */
function descriptor(r: ByteReader): { tag: number; end: number } {
  const tag = r.u8();
  let size = 0;
  for (let i = 0; i < 4; i++) {
    const b = r.u8();
    size = (size << 7) | (b & 0x7f);
    if ((b & 0x80) === 0) break;
  }
  const end = r.pos + size;
  if (end > r.end) {
    throw new StreamedgeError(
      'BAD_BOX',
      `esds descriptor tag ${tag} declares ${size} bytes but only ${r.end - r.pos} remain`,
    );
  }
  return { tag, end };
}

/** Walks esds (FullBox payload): ES_Descriptor → DecoderConfigDescriptor → DecoderSpecificInfo. */
export function parseEsds(payload: Buffer): Mp4aConfig {
  const r = new ByteReader(payload, 'esds');
  r.fullHeader();
  const es = descriptor(r);
  if (es.tag !== 0x03)
    throw new StreamedgeError('BAD_BOX', `esds does not start with an ES_Descriptor (tag ${es.tag})`);
  r.u16(); // ES_ID
  const esFlags = r.u8();
  if (esFlags & 0x80) r.u16(); // dependsOn_ES_ID
  if (esFlags & 0x40) r.skip(r.u8()); // URL
  if (esFlags & 0x20) r.u16(); // OCR_ES_Id
  while (r.pos < es.end) {
    const d = descriptor(r);
    if (d.tag !== 0x04) {
      r.pos = d.end;
      continue;
    }
    const objectTypeIndication = r.u8();
    r.skip(12); // streamType/upStream/reserved, bufferSizeDB, maxBitrate, avgBitrate
    const out: Mp4aConfig = { objectTypeIndication };
    while (r.pos < d.end) {
      const dsi = descriptor(r);
      if (dsi.tag === 0x05 && objectTypeIndication === 0x40 && dsi.end > r.pos) {
        Object.assign(out, parseAudioSpecificConfig(r.buf.subarray(r.pos, dsi.end)));
      }
      r.pos = dsi.end;
    }
    return out;
  }
  throw new StreamedgeError('BAD_BOX', 'esds has no DecoderConfigDescriptor');
}

/** Bit reader for the AudioSpecificConfig (ISO/IEC 14496-3 §1.6.2.1). */
function parseAudioSpecificConfig(b: Buffer): Omit<Mp4aConfig, 'objectTypeIndication'> {
  let bit = 0;
  const read = (n: number): number => {
    let v = 0;
    for (let i = 0; i < n; i++) {
      const byte = b[bit >> 3];
      if (byte === undefined) throw new StreamedgeError('BAD_BOX', 'AudioSpecificConfig is truncated');
      v = (v << 1) | ((byte >> (7 - (bit & 7))) & 1);
      bit++;
    }
    return v;
  };
  let audioObjectType = read(5);
  if (audioObjectType === 31) audioObjectType = 32 + read(6);
  const freqIndex = read(4);
  const sampleRate = freqIndex === 15 ? read(24) : SAMPLE_RATES[freqIndex];
  const channelConfiguration = read(4);
  const out: Omit<Mp4aConfig, 'objectTypeIndication'> = { audioObjectType, channelConfiguration };
  if (sampleRate !== undefined) out.sampleRate = sampleRate;
  return out;
}

export function mp4aCodecString(fourcc: string, payload: Buffer): string {
  const c = parseEsds(payload);
  const oti = c.objectTypeIndication.toString(16).toUpperCase().padStart(2, '0');
  return c.audioObjectType !== undefined ? `${fourcc}.${oti}.${c.audioObjectType}` : `${fourcc}.${oti}`;
}
