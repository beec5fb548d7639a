/**
 * Encrypts one CMAF track (ISO/IEC 23001-7, CMAF ISO/IEC 23000-19 §8.2): its header gets an
 * `encv`/`enca` sample entry with `sinf` (frma, schm, schi/tenc) and a Clear Key `pssh`; every
 * fragment gets its samples encrypted in its mdat and `senc`, `saiz`, `saio` in its traf (trun
 * data offsets moved by the bytes added). The segmenter runs it between ffmpeg's pipe and the
 * segment files, so VOD and live are encrypted by the same code, chunk by chunk.
 *
 * IVs: 'cenc' gives each sample its own 8-byte IV (a random 64-bit start per track, counted up
 * per sample: never twice under one key); 'cbcs' uses one constant 16-byte IV derived from the
 * key, so a restarted live channel writes the same header again.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { StreamedgeError } from '../errors.js';
import { type Box, childBox, readBox, readBoxes } from '../cmaf/box.js';
import { box } from '../cmaf/writers.js';
import { TRUN_DATA_OFFSET, parseFragment } from '../cmaf/fragment.js';
import { parseInit, type TrexDefaults } from '../cmaf/init-segment.js';
import { AvcSubsampler } from './avc-subsamples.js';
import { CLEARKEY_SYSTEM_ID, type ContentKey, type ProtectionScheme } from './content-keys.js';
import {
  type SampleEncryptionEntry,
  SENC_ENTRIES_OFFSET,
  type TrackEncryption,
  pssh,
  saio,
  saiz,
  senc,
  sencEntrySize,
  sinf,
} from './protection-boxes.js';
import { encryptSample } from './sample-cipher.js';

/** Sample entries we can encrypt, by the kind of track. */
const VIDEO_ENTRIES = new Set(['avc1', 'avc3']);
const AUDIO_ENTRIES = new Set(['mp4a', 'ac-3', 'ec-3']);
/** Bytes of fixed fields before a sample entry's child boxes (ISO/IEC 14496-12 §12.1.3, §12.2.3). */
const VISUAL_FIELDS = 78;

export interface ProtectedFragment {
  moof: Buffer;
  mdat: Buffer;
}

/** The constant cbcs IV for a key: HMAC-SHA256(key, label), first 16 bytes. */
export function cbcsConstantIv(key: Buffer): Buffer {
  return createHmac('sha256', key).update('streamedge cbcs constant IV').digest().subarray(0, 16);
}

function whole(b: Box): Buffer {
  return Buffer.from(b.payload.buffer, b.payload.byteOffset - b.headerSize, b.size);
}

function fail(what: string): StreamedgeError {
  return new StreamedgeError('CANNOT_ENCRYPT', what);
}

export class TrackProtector {
  private encryption: TrackEncryption | undefined;
  private subsampler: AvcSubsampler | undefined;
  private trex: Map<number, TrexDefaults> | undefined;
  private nextIv: bigint;

  constructor(
    readonly scheme: ProtectionScheme,
    private readonly key: ContentKey,
    /** Names the track in errors, e.g. "rendition 720p". */
    private readonly what: string,
  ) {
    this.nextIv = randomBytes(8).readBigUInt64BE(0);
  }

  /** The track's encryption parameters, once its header has been protected. */
  get trackEncryption(): TrackEncryption | undefined {
    return this.encryption;
  }

  /** ftyp + moov in, the same with the track's sample entry protected and a pssh added. */
  protectInit(init: Buffer): Buffer {
    const top = readBoxes(init);
    const moov = top.find((b) => b.type === 'moov');
    if (!moov) throw fail(`${this.what}: no moov to protect`);
    const traks = moov.children!.filter((c) => c.type === 'trak');
    if (traks.length !== 1) throw fail(`${this.what}: expected one track in the header, found ${traks.length}`);
    const parts = moov.children!.map((c) => (c.type === 'trak' ? this.protectTrak(c) : whole(c)));
    parts.push(pssh(CLEARKEY_SYSTEM_ID, [this.key.kid]));
    const out = Buffer.concat(top.map((b) => (b === moov ? box('moov', ...parts) : whole(b))));
    this.trex = parseInit(out).trex;
    return out;
  }

  private protectTrak(trak: Box): Buffer {
    const path = ['mdia', 'minf', 'stbl', 'stsd'];
    const rebuild = (b: Box, depth: number): Buffer => {
      if (depth === path.length) return this.protectStsd(b);
      const kids = b.children ?? [];
      if (!kids.some((c) => c.type === path[depth])) throw fail(`${this.what}: the header has no ${path[depth]}`);
      return box(b.type, ...kids.map((c) => (c.type === path[depth] ? rebuild(c, depth + 1) : whole(c))));
    };
    return rebuild(trak, 0);
  }

  private protectStsd(stsd: Box): Buffer {
    const count = stsd.payload.readUInt32BE(4);
    if (count !== 1) throw fail(`${this.what}: ${count} sample entries; only one can be encrypted`);
    const entry = readBox(stsd.payload, 8);
    const format = entry.type;
    const video = VIDEO_ENTRIES.has(format);
    if (!video && !AUDIO_ENTRIES.has(format)) {
      throw fail(`${this.what}: cannot encrypt "${format}" (H.264 video and AAC, AC-3, E-AC-3 audio can be encrypted)`);
    }
    const t: TrackEncryption =
      this.scheme === 'cenc'
        ? { scheme: 'cenc', kid: this.key.kid, perSampleIvSize: 8, cryptByteBlock: 0, skipByteBlock: 0 }
        : {
            scheme: 'cbcs',
            kid: this.key.kid,
            perSampleIvSize: 0,
            constantIv: cbcsConstantIv(this.key.key),
            cryptByteBlock: video ? 1 : 0,
            skipByteBlock: video ? 9 : 0,
          };
    if (video) {
      const children = readBoxes(entry.payload, VISUAL_FIELDS);
      const avcC = children.find((c) => c.type === 'avcC');
      if (!avcC) throw fail(`${this.what}: the ${format} sample entry has no avcC`);
      this.subsampler = new AvcSubsampler(Buffer.from(avcC.payload), this.scheme);
    }
    this.encryption = t;
    const protectedEntry = box(video ? 'encv' : 'enca', entry.payload, sinf(format, t));
    return box('stsd', stsd.payload.subarray(0, 8), protectedEntry, stsd.payload.subarray(8 + entry.size));
  }

  /** One chunk (moof + mdat, each a whole box) in, the same encrypted. The inputs are not changed. */
  protectFragment(moof: Buffer, mdat: Buffer): ProtectedFragment {
    const t = this.encryption;
    if (!t) throw fail(`${this.what}: a fragment came before the header was protected`);
    const frag = parseFragment(moof, this.trex);
    if (frag.tracks.length !== 1) throw fail(`${this.what}: a fragment with ${frag.tracks.length} track runs`);
    const traf = frag.tracks[0];
    if (traf.dataOffsetBase !== 'moof') throw fail(`${this.what}: fragments must address data from the moof`);
    const out = Buffer.from(mdat);
    const entries: SampleEncryptionEntry[] = [];
    for (const s of traf.samples) {
      const at = s.offset - moof.length;
      if (at < 8 || at + s.size > out.length) throw fail(`${this.what}: a sample lies outside its mdat`);
      const sample = out.subarray(at, at + s.size);
      const subsamples = this.subsamplesOf(sample, traf.baseDecodeTime);
      let iv: Buffer;
      if (t.perSampleIvSize === 8) {
        iv = Buffer.alloc(8);
        iv.writeBigUInt64BE(this.nextIv);
        this.nextIv = (this.nextIv + 1n) & 0xffffffffffffffffn;
      } else {
        iv = Buffer.alloc(0);
      }
      encryptSample(sample, this.key.key, t, t.perSampleIvSize === 8 ? iv : t.constantIv!, subsamples);
      const entry: SampleEncryptionEntry = { iv };
      if (subsamples) entry.subsamples = subsamples;
      entries.push(entry);
    }
    // cbcs audio: a constant IV and no subsamples leave nothing per sample; tenc says it all
    const nothingPerSample = entries.every((e) => e.iv.length === 0 && !e.subsamples);
    return { moof: nothingPerSample ? Buffer.from(moof) : this.withAuxInfo(moof, entries), mdat: out };
  }

  /** The sample's subsample map (video), its errors naming the track and the fragment. */
  private subsamplesOf(sample: Buffer, fragmentTime: number) {
    try {
      return this.subsampler?.subsamples(sample);
    } catch (e) {
      if (!(e instanceof StreamedgeError)) throw e;
      throw new StreamedgeError(e.code, `${this.what}, fragment at ${fragmentTime}: ${e.message}`, { cause: e });
    }
  }

  /** The moof with saiz, saio and senc appended to its traf, sizes and data offsets moved. */
  private withAuxInfo(moof: Buffer, entries: SampleEncryptionEntry[]): Buffer {
    const useSubsamples = this.subsampler !== undefined;
    const moofBox = readBox(moof, 0);
    const traf = moofBox.children!.find((c) => c.type === 'traf')!;
    if (childBox(traf, 'senc')) throw fail(`${this.what}: the fragment is already encrypted`);
    const sizes = saiz(entries.map((e) => sencEntrySize(e, useSubsamples)));
    const sencBox = senc(entries, useSubsamples);
    const trafEnd = traf.start + traf.size;
    const saioLen = 20;
    const offset = trafEnd + sizes.length + saioLen + SENC_ENTRIES_OFFSET;
    const added = Buffer.concat([sizes, saio(offset), sencBox]);
    const out = Buffer.concat([moof.subarray(0, trafEnd), added, moof.subarray(trafEnd)]);
    out.writeUInt32BE(moofBox.size + added.length, moofBox.start);
    out.writeUInt32BE(traf.size + added.length, traf.start);
    for (const run of traf.children!) {
      if (run.type !== 'trun') continue;
      if (!(run.payload.readUIntBE(1, 3) & TRUN_DATA_OFFSET)) throw fail(`${this.what}: a trun without a data offset`);
      const at = run.start + run.headerSize + 8;
      out.writeInt32BE(out.readInt32BE(at) + added.length, at);
    }
    return out;
  }
}
