/**
 * The H.264 subsample map (src/cenc/avc-subsamples.ts) on real x264 output, read with the repo's
 * own MP4 readers: CABAC High with B-frames, weighted prediction, reordering and MMCOs; CAVLC
 * baseline; four slices per picture; interlaced (MBAFF); in-band SPS/PPS; 4:0:0 and 4:4:4 10-bit;
 * a static picture whose slices are too small to protect. For every sample the map must cover it
 * exactly, keep non-VCL NAL units clear and protect each slice from the byte after its header
 * ('cbcs') or the last whole 16-byte blocks of it ('cenc'). The header length itself is checked
 * against the bitstream: with CABAC the bits between the header's end and the byte boundary are
 * cabac_alignment_one_bits (all ones), and the parsed fields (first_mb_in_slice, frame_num, the
 * picture order count, QP, deblocking offsets) must agree with the container and the encoder
 * settings. Then the coalescing and 16-bit clear-count rules, and the BAD_MEDIA errors.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { readBoxHeader } from '../../../src/cmaf/box.js';
import { parseFragment } from '../../../src/cmaf/fragment.js';
import { parseInit } from '../../../src/cmaf/init-segment.js';
import {
  type AvcPps,
  type AvcSps,
  parsePps,
  parseSps,
  readAvcDecoderConfig,
} from '../../../src/cenc/avc-parameter-sets.js';
import type { SliceHeader } from '../../../src/cenc/avc-slice-header.js';
import { AvcSubsampler, type Subsample, avcConfigOf } from '../../../src/cenc/avc-subsamples.js';
import { type StreamedgeError } from '../../../src/errors.js';
import { ffmpegToPipe } from '../../integration/cmaf/ffmpeg-output.js';
import { badMedia } from './bad-media.js';

interface Sample {
  data: Buffer;
  isSync: boolean;
  cts: number;
}

interface Stream {
  avcC: Buffer;
  sps: AvcSps;
  pps: AvcPps;
  samples: Sample[];
}

const SOURCE = 'testsrc2=size=160x96:rate=25:duration=1';

/** One second of x264 output as fragmented MP4 (ffmpeg's empty_moov + default_base_moof), split into samples. */
async function x264(args: string[], source = SOURCE): Promise<Stream> {
  const { bytes } = await ffmpegToPipe(['-f', 'lavfi', '-i', source, '-c:v', 'libx264', '-threads', '1', ...args]);
  const init = parseInit(bytes);
  const avcC = avcConfigOf(bytes);
  if (!avcC) throw new Error('x264 output has no avcC');
  const config = readAvcDecoderConfig(avcC);
  const samples: Sample[] = [];
  let pos = 0;
  while (pos < bytes.length) {
    const h = readBoxHeader(bytes, pos);
    if (h.type === 'moof') {
      const [track] = parseFragment(bytes.subarray(pos), init.trex).tracks;
      expect(track.dataOffsetBase).toBe('moof');
      let dts = track.baseDecodeTime;
      for (const s of track.samples) {
        const data = bytes.subarray(pos + s.offset, pos + s.offset + s.size);
        samples.push({ data, isSync: s.isSync, cts: dts + s.compositionOffset });
        dts += s.duration;
      }
    }
    pos += h.size;
  }
  expect(samples.length).toBe(25);
  return { avcC, sps: parseSps(config.sps[0]), pps: parsePps(config.pps[0]), samples };
}

/** The NAL units of a sample, walked here independently of the module: [start of NAL, end, type]. */
function walk(sample: Buffer, lengthSize: number): { start: number; end: number; type: number }[] {
  const out: { start: number; end: number; type: number }[] = [];
  for (let pos = 0; pos < sample.length;) {
    const size = sample.readUIntBE(pos, lengthSize);
    out.push({ start: pos + lengthSize, end: pos + lengthSize + size, type: sample[pos + lengthSize] & 0x1f });
    pos += lengthSize + size;
  }
  expect(out.at(-1)?.end).toBe(sample.length);
  return out;
}

/** [start, end) of every protected range of a subsample list. */
function protectedRanges(subs: Subsample[]): [number, number][] {
  const out: [number, number][] = [];
  let pos = 0;
  for (const s of subs) {
    pos += s.clear;
    if (s.protected > 0) out.push([pos, pos + s.protected]);
    pos += s.protected;
  }
  return out;
}

interface Picture {
  sample: Sample;
  slices: SliceHeader[];
}

interface Report {
  pictures: Picture[];
  /** Slices whose header ends mid-byte (so the alignment check had bits to look at). */
  unalignedHeaders: number;
  /** NAL unit types met, with counts. */
  nalTypes: Map<number, number>;
  /** Coded slices that 'cenc' left entirely clear (too small for a 16-byte block). */
  clearSlicesCenc: number;
  subsamples: { cenc: Subsample[][]; cbcs: Subsample[][] };
}

const isVcl = (type: number): boolean => type === 1 || type === 5;

/**
 * Runs a stream through three subsamplers (one to inspect NAL units and slice headers, one per
 * scheme) and checks every rule that holds for any stream; returns what a case checks further.
 */
function check(stream: Stream, avcC: Buffer = stream.avcC): Report {
  const inspect = new AvcSubsampler(avcC, 'cbcs');
  const cenc = new AvcSubsampler(avcC, 'cenc');
  const cbcs = new AvcSubsampler(avcC, 'cbcs');
  const n = inspect.lengthSize;
  expect(n).toBe((stream.avcC[4] & 3) + 1);
  const report: Report = {
    pictures: [],
    unalignedHeaders: 0,
    nalTypes: new Map(),
    clearSlicesCenc: 0,
    subsamples: { cenc: [], cbcs: [] },
  };
  for (const sample of stream.samples) {
    const data = sample.data;
    const nals = walk(data, n);
    const units = inspect.nalUnits(data);
    expect(units.map((u) => [u.offset + n, u.offset + n + u.size, u.nalUnitType])).toEqual(
      nals.map((x) => [x.start, x.end, x.type]),
    );
    const wantCbcs: [number, number][] = [];
    const wantCenc: [number, number][] = [];
    const slices: SliceHeader[] = [];
    units.forEach((u, i) => {
      const { start, end, type } = nals[i];
      report.nalTypes.set(type, (report.nalTypes.get(type) ?? 0) + 1);
      expect(u.slice !== undefined).toBe(isVcl(type));
      if (!u.slice) return;
      const h = u.slice;
      slices.push(h);
      const headerEnd = start + h.headerBytes;
      // Clear part = NAL header + slice header rounded up to a byte, in escaped bytes.
      expect(h.headerBytes).toBe(1 + Math.ceil(h.headerBits / 8) + h.emulationPreventionBytes);
      if (h.cabac) {
        const pad = (8 - (h.headerBits % 8)) % 8;
        const ones = (1 << pad) - 1;
        expect(data[headerEnd - 1] & ones, `cabac_alignment_one_bits of a slice at byte ${start}`).toBe(ones);
        if (pad > 0) report.unalignedHeaders++;
      }
      if (end > headerEnd) wantCbcs.push([headerEnd, end]);
      const whole = Math.floor((end - headerEnd) / 16) * 16;
      if (whole > 0) wantCenc.push([end - whole, end]);
      else report.clearSlicesCenc++;
    });
    for (const [scheme, subsampler, want] of [
      ['cbcs', cbcs, wantCbcs],
      ['cenc', cenc, wantCenc],
    ] as const) {
      const subs = subsampler.subsamples(data);
      report.subsamples[scheme].push(subs);
      expect(subs.reduce((t, s) => t + s.clear + s.protected, 0)).toBe(data.length);
      // Protected exactly where the rules say (so non-VCL NAL units and slice headers stay clear).
      expect(protectedRanges(subs), `${scheme} protected ranges`).toEqual(want);
      subs.forEach((s, i) => {
        expect(s.clear).toBeLessThanOrEqual(0xffff);
        if (scheme === 'cenc') expect(s.protected % 16).toBe(0);
        // Coalesced: a clear-only entry is a 65535 split or the sample's clear tail.
        if (s.protected === 0) expect(s.clear === 0xffff || i === subs.length - 1).toBe(true);
      });
    }
    report.pictures.push({ sample, slices });
  }
  checkPictures(stream, report.pictures);
  return report;
}

/** What every picture's slice headers must say, against the container and §7.4.3. */
function checkPictures(stream: Stream, pictures: Picture[]): void {
  const { sps } = stream;
  expect(sps.gapsInFrameNumValueAllowedFlag).toBe(false);
  let prev: SliceHeader | undefined;
  let gop: Picture[] = [];
  const checkGop = (): void => {
    if (sps.picOrderCntType !== 0 || gop.length === 0) return;
    // Output (composition) order is picture order count order; no lsb wrap within this GOP.
    expect(2 * gop.length).toBeLessThan(2 ** sps.log2MaxPicOrderCntLsb);
    const byCts = [...gop].sort((a, b) => a.sample.cts - b.sample.cts).map((p) => p.slices[0].picOrderCntLsb!);
    for (let i = 1; i < byCts.length; i++) expect(byCts[i]).toBeGreaterThan(byCts[i - 1]);
  };
  for (const picture of pictures) {
    const [first, ...rest] = picture.slices;
    expect(first).toBeDefined();
    expect(first.firstMbInSlice).toBe(0);
    expect(first.picParameterSetId).toBe(0);
    let lastMb = 0;
    for (const s of rest) {
      // The slices of one picture: same picture-level fields, macroblocks in order.
      expect(s.firstMbInSlice).toBeGreaterThan(lastMb);
      lastMb = s.firstMbInSlice;
      expect([s.nalUnitType, s.frameNum, s.picOrderCntLsb, s.picParameterSetId, s.sliceType % 5]).toEqual([
        first.nalUnitType,
        first.frameNum,
        first.picOrderCntLsb,
        first.picParameterSetId,
        first.sliceType % 5,
      ]);
    }
    const idr = first.nalUnitType === 5;
    expect(idr).toBe(picture.sample.isSync);
    if (idr) {
      expect(first.sliceType % 5).toBe(2);
      expect(first.frameNum).toBe(0);
      checkGop();
      gop = [];
    } else {
      // frame_num counts reference pictures since the IDR (gaps not allowed, §7.4.3).
      const step = prev!.nalRefIdc !== 0 ? 1 : 0;
      expect(first.frameNum).toBe((prev!.frameNum + step) % 2 ** sps.log2MaxFrameNum);
    }
    gop.push(picture);
    prev = first;
  }
  checkGop();
}

const count = (pictures: Picture[], pred: (s: SliceHeader) => boolean): number =>
  pictures.reduce((t, p) => t + p.slices.filter(pred).length, 0);

let high: Stream;
let baseline: Stream;
let slices: Stream;
let interlaced: Stream;
let repeat: Stream;
let repeatBaseline: Stream;
let gray: Stream;
let hi444: Stream;
let still: Stream;

beforeAll(async () => {
  const fade = ['-vf', 'fade=in:0:20'];
  [high, baseline, slices, interlaced, repeat, repeatBaseline, gray, hi444, still] = await Promise.all([
    // x264's High defaults: CABAC, 3 B-frames with pyramid (MMCOs), weightp=2 (duplicate refs: reordering).
    x264(['-profile:v', 'high', ...fade]),
    x264(['-profile:v', 'baseline', '-qp', '30', '-x264-params', 'deblock=-2,1']),
    x264(['-profile:v', 'high', '-x264-params', 'slices=4:deblock=1,-1']),
    x264(['-profile:v', 'high', '-flags', '+ildct+ilme']),
    x264(['-profile:v', 'high', '-x264-params', 'repeat-headers=1']),
    x264(['-profile:v', 'baseline', '-x264-params', 'repeat-headers=1'], 'testsrc2=size=320x180:rate=25:duration=1'),
    x264(['-pix_fmt', 'gray', ...fade]),
    x264(['-pix_fmt', 'yuv444p10le', ...fade]),
    x264(['-profile:v', 'high'], 'color=c=gray:size=160x96:rate=25:duration=1'),
  ]);
});

describe('AvcSubsampler on x264 output', () => {
  it('CABAC High, B-frames, explicit weighted prediction, reordering and MMCOs', () => {
    expect(high.sps.profileIdc).toBe(100);
    expect(high.pps).toMatchObject({ entropyCodingModeFlag: true, weightedPredFlag: true });
    const r = check(high);
    const p = r.pictures;
    expect(count(p, (s) => s.sliceType % 5 === 1)).toBeGreaterThan(0);
    expect(count(p, (s) => s.predWeightTable && s.explicitWeights > 0)).toBeGreaterThan(0);
    expect(count(p, (s) => s.refPicListModifications[0] > 0)).toBeGreaterThan(0);
    expect(count(p, (s) => s.memoryManagementOperations > 0)).toBeGreaterThan(0);
    expect(count(p, (s) => s.numRefIdxL0Active !== undefined && s.numRefIdxL0Active > 1)).toBeGreaterThan(0);
    // The alignment check was not vacuous: most headers end mid-byte.
    expect(r.unalignedHeaders).toBeGreaterThan(p.length / 2);
    // The SEI of the first sample and nothing else but slices.
    expect([...r.nalTypes.keys()].sort()).toEqual([1, 5, 6]);
    const [idr] = r.subsamples.cbcs;
    expect(idr.length).toBe(1); // SEI + IDR slice header clear, the rest of the slice protected
  });

  it('CAVLC baseline: the last header fields (slice_qp_delta, deblocking offsets) read what x264 was told', () => {
    expect(baseline.sps).toMatchObject({ profileIdc: 66, picOrderCntType: 2 });
    expect(baseline.pps.entropyCodingModeFlag).toBe(false);
    const p = check(baseline).pictures;
    const all = p.flatMap((x) => x.slices);
    expect(all.every((s) => s.sliceType % 5 !== 1)).toBe(true);
    // pic_order_cnt_type 2: output order is decode order
    for (let i = 1; i < p.length; i++) expect(p[i].sample.cts).toBeGreaterThan(p[i - 1].sample.cts);
    // -qp 30 (constant QP): every P slice at QP 30; deblock=-2,1 in every slice
    const pSlices = all.filter((s) => s.sliceType % 5 === 0);
    expect(pSlices.length).toBe(24);
    expect(new Set(pSlices.map((s) => s.sliceQp))).toEqual(new Set([30]));
    for (const s of all) {
      expect([s.disableDeblockingFilterIdc, s.sliceAlphaC0OffsetDiv2, s.sliceBetaOffsetDiv2]).toEqual([0, -2, 1]);
    }
  });

  it('four slices per picture: each one split at its own header', () => {
    const r = check(slices);
    const mbs = slices.sps.picWidthInMbs * slices.sps.picHeightInMapUnits;
    for (const { slices: s } of r.pictures) {
      expect(s.length).toBe(4);
      expect(s.at(-1)!.firstMbInSlice).toBeLessThan(mbs);
      for (const h of s) expect([h.sliceAlphaC0OffsetDiv2, h.sliceBetaOffsetDiv2]).toEqual([1, -1]);
    }
    // four protected ranges per picture (every slice is large enough)
    for (const subs of r.subsamples.cbcs) expect(protectedRanges(subs).length).toBe(4);
  });

  it('interlaced (MBAFF): field_pic_flag read, delta_pic_order_cnt_bottom present', () => {
    expect(interlaced.sps).toMatchObject({ frameMbsOnlyFlag: false, mbAdaptiveFrameFieldFlag: true });
    expect(interlaced.pps.bottomFieldPicOrderInFramePresentFlag).toBe(true);
    const r = check(interlaced);
    for (const h of r.pictures.flatMap((x) => x.slices)) {
      expect(h.fieldPicFlag).toBe(false);
      expect(h.deltaPicOrderCntBottom).toBeDefined();
    }
    expect(r.unalignedHeaders).toBeGreaterThan(r.pictures.length / 2);
  });

  it('in-band SPS/PPS (repeat-headers): parsed from the samples, enough without any in the avcC', () => {
    const withSets = check(repeat);
    expect(withSets.nalTypes.get(7)).toBeGreaterThanOrEqual(1);
    expect(withSets.nalTypes.get(8)).toBeGreaterThanOrEqual(1);
    // avcC with no SPS and no PPS: the in-band ones carry the whole stream, to the same map.
    const bare = Buffer.from([...repeat.avcC.subarray(0, 5), 0xe0, 0x00]);
    expect(readAvcDecoderConfig(bare)).toMatchObject({ sps: [], pps: [] });
    const without = check(repeat, bare);
    expect(without.subsamples).toEqual(withSets.subsamples);
    // ... and it really is the in-band sets: a P picture before any of them cannot be parsed.
    const pFrame = repeat.samples.find((s) => !s.isSync)!;
    expect(badMedia(() => new AvcSubsampler(bare, 'cenc').subsamples(pFrame.data)).message).toMatch(
      /NAL unit \(nal_unit_type 1\) at byte \d+: slice refers to PPS 0, which neither the avcC nor an earlier in-band PPS defines/,
    );
  });

  it('a new in-band SPS/PPS replaces the old one with the same id', () => {
    expect(repeatBaseline.pps.entropyCodingModeFlag).toBe(false);
    expect(repeat.pps.entropyCodingModeFlag).toBe(true);
    const own = [repeat, repeatBaseline].map((s) => {
      const sub = new AvcSubsampler(s.avcC, 'cbcs');
      return s.samples.map((x) => sub.subsamples(x.data));
    });
    // One subsampler, set up for the High stream, fed the High stream then the baseline one.
    const one = new AvcSubsampler(repeat.avcC, 'cbcs');
    const joined = [...repeat.samples, ...repeatBaseline.samples].map((x) => one.subsamples(x.data));
    expect(joined).toEqual([...own[0], ...own[1]]);
    // Without the in-band update (fresh High tables, no SPS/PPS NAL units), the baseline slices read differently.
    const stale = new AvcSubsampler(repeat.avcC, 'cbcs');
    const baselineP = repeatBaseline.samples[1].data;
    let staleMap: Subsample[] | undefined;
    try {
      staleMap = stale.subsamples(baselineP);
    } catch (e) {
      expect((e as StreamedgeError).code).toBe('BAD_MEDIA');
    }
    expect(staleMap).not.toEqual(own[1][1]);
  });

  it('monochrome (chroma_format_idc 0, no chroma weights) and High 4:4:4 10-bit', () => {
    expect(gray.sps).toMatchObject({ chromaFormatIdc: 0, chromaArrayType: 0 });
    expect(hi444.sps).toMatchObject({ profileIdc: 244, chromaFormatIdc: 3, separateColourPlaneFlag: false });
    for (const stream of [gray, hi444]) {
      const r = check(stream);
      expect(count(r.pictures, (s) => s.explicitWeights > 0)).toBeGreaterThan(0);
      expect(r.unalignedHeaders).toBeGreaterThan(r.pictures.length / 2);
    }
  });

  it("'cenc' leaves tiny slices (a still picture's P/B frames) entirely clear and merges them into the next entry", () => {
    const r = check(still);
    expect(r.clearSlicesCenc).toBeGreaterThan(10);
    // A sample whose only slice is too small is one clear-only entry in 'cenc'; 'cbcs' still protects its tail.
    const tiny = r.subsamples.cenc.findIndex((subs) => subs.length === 1 && subs[0].protected === 0);
    expect(tiny).toBeGreaterThan(0);
    expect(r.subsamples.cenc[tiny]).toEqual([{ clear: still.samples[tiny].data.length, protected: 0 }]);
    expect(r.subsamples.cbcs[tiny][0].protected).toBeGreaterThan(0);
  });
});

/** A length-prefixed NAL unit (4-byte length). */
function nal4(body: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(body.length);
  return Buffer.concat([len, body]);
}

/** An SEI-typed NAL unit of `size` bytes (header 0x06, filler payload). */
const sei = (size: number): Buffer => Buffer.concat([Buffer.from([0x06]), Buffer.alloc(size - 1, 0xff)]);

describe('AvcSubsampler entry rules', () => {
  it('splits a clear run over 65535 bytes into (65535, 0) entries before the slice it belongs to', () => {
    const idr = high.samples[0].data;
    const plain = new AvcSubsampler(high.avcC, 'cenc').subsamples(idr);
    const sample = Buffer.concat([nal4(sei(70_000)), idr]);
    const subs = new AvcSubsampler(high.avcC, 'cenc').subsamples(sample);
    const clear = 70_004 + plain[0].clear;
    expect(subs).toEqual([
      { clear: 65_535, protected: 0 },
      { clear: clear - 65_535, protected: plain[0].protected },
      ...plain.slice(1),
    ]);
    // Only clear bytes: as many full entries as fit, then the rest.
    const allClear = Buffer.concat([nal4(sei(50_000)), nal4(sei(50_000)), nal4(sei(50_000))]);
    expect(new AvcSubsampler(high.avcC, 'cbcs').subsamples(allClear)).toEqual([
      { clear: 65_535, protected: 0 },
      { clear: 65_535, protected: 0 },
      { clear: 150_012 - 2 * 65_535, protected: 0 },
    ]);
  });

  it('keeps a protected range over 65535 bytes in one entry (32-bit count)', () => {
    const idr = high.samples[0].data;
    const n = walk(idr, 4).find((x) => x.type === 5)!;
    const bigSlice = Buffer.concat([idr.subarray(n.start, n.end), Buffer.alloc(100_000, 0x5a)]);
    const subs = new AvcSubsampler(high.avcC, 'cbcs').subsamples(nal4(bigSlice));
    expect(subs.length).toBe(1);
    expect(subs[0].protected).toBeGreaterThan(100_000);
    expect(subs[0].clear + subs[0].protected).toBe(bigSlice.length + 4);
  });

  it('throws BAD_MEDIA on a NAL length that runs past the sample or is cut off', () => {
    const sample = high.samples[3].data;
    const s = new AvcSubsampler(high.avcC, 'cenc');
    expect(badMedia(() => s.subsamples(sample.subarray(0, sample.length - 1))).message).toMatch(
      /^H\.264 sample of \d+ bytes: the NAL unit at byte \d+ declares \d+ bytes but only \d+ remain/,
    );
    expect(badMedia(() => s.subsamples(Buffer.concat([sample, Buffer.from([0, 0])]))).message).toMatch(
      /the NAL unit length at byte \d+ needs 4 bytes, only 2 remain/,
    );
    // A slice NAL cut inside its header
    const cut = nal4(Buffer.from([0x65, 0x88]));
    expect(badMedia(() => s.subsamples(cut)).message).toMatch(/nal_unit_type 5.*runs past the end of the NAL unit/);
    // Not length-prefixed NAL units at all (forbidden_zero_bit set)
    expect(badMedia(() => s.subsamples(nal4(Buffer.from([0x85, 0x88])))).message).toMatch(/forbidden_zero_bit/);
  });

  it('rejects an unknown scheme and a broken avcC', () => {
    expect(() => new AvcSubsampler(high.avcC, 'cens' as 'cenc')).toThrow(/unknown protection scheme "cens"/);
    expect(badMedia(() => new AvcSubsampler(high.avcC.subarray(0, 12), 'cenc')).message).toMatch(/^avcC: SPS #1/);
  });
});
