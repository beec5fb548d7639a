/**
 * Segmenter on real ffmpeg fragmented-MP4 bytes (a tiny lavfi source, produced once): cuts on the
 * grid only at key frames, audio within half a part, split-anywhere input gives identical output,
 * segment bytes = concatenation of part bytes (styp first), I-frame refs point at moofs.
 */
import { spawn } from 'node:child_process';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Part, Segment } from '../../../src/media/presentation.js';
import type { TrackInfo } from '../../../src/cmaf/init-segment.js';
import { ffmpegPath } from '../../../src/media/ffmpeg-binaries.js';
import { Segmenter } from '../../../packager/segmenter.js';
import { parseFragment } from '../../../src/cmaf/fragment.js';

function encode(args: string[]): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawn(ffmpegPath(), ['-hide_banner', '-nostdin', '-v', 'error', ...args, 'pipe:1'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const chunks: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (d: Buffer) => chunks.push(d));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(Buffer.concat(chunks)) : reject(new Error(err))));
  });
}

const FMP4 = ['-f', 'mp4', '-movflags', '+frag_keyframe+empty_moov+default_base_moof+skip_trailer'];

function video(keyEverySec: number, seconds = 4, rate = '10'): string[] {
  return [
    '-f',
    'lavfi',
    '-i',
    `testsrc2=size=160x90:rate=${rate}:duration=${seconds}`,
    '-c:v',
    'libx264',
    '-preset',
    'ultrafast',
    '-bf',
    '0',
    '-g',
    '1000',
    '-sc_threshold',
    '0',
    '-force_key_frames',
    `expr:gte(t,n_forced*${keyEverySec})`,
    ...FMP4,
    '-frag_duration',
    '500000',
  ];
}
const audio = [
  '-f',
  'lavfi',
  '-i',
  'sine=frequency=440:sample_rate=48000:duration=4',
  '-c:a',
  'aac',
  '-b:a',
  '64k',
  ...FMP4,
  '-frag_duration',
  '500000',
];

interface Collected {
  init?: { bytes: Buffer; track: TrackInfo };
  parts: { n: number; part: Part; bytes: Buffer }[];
  segments: Segment[];
}

function segment(
  bytes: Buffer,
  kind: 'video' | 'audio',
  opts: {
    seg: number;
    part: number;
    first?: number;
    sequence?: number;
    live?: boolean;
    split?: (b: Buffer) => Buffer[];
  },
): Collected {
  const c: Collected = { parts: [], segments: [] };
  const s = new Segmenter({
    renditionId: kind,
    kind,
    segmentDuration: opts.seg,
    partDuration: opts.part,
    firstSegmentNumber: opts.first ?? 1,
    ...(opts.sequence !== undefined ? { firstSequenceNumber: opts.sequence } : {}),
    ...(opts.live ? { live: true } : {}),
    listener: {
      init: (b, track) => (c.init = { bytes: b, track }),
      part: (n, part, b) => c.parts.push({ n, part, bytes: Buffer.from(b) }),
      segment: (seg) => c.segments.push(seg),
    },
  });
  for (const chunk of opts.split ? opts.split(bytes) : [bytes]) s.push(chunk);
  s.end();
  return c;
}

function randomSplit(seed: number): (b: Buffer) => Buffer[] {
  let x = seed;
  const rnd = (): number => (x = (x * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
  return (b) => {
    const out: Buffer[] = [];
    for (let pos = 0; pos < b.length;) {
      const n = 1 + Math.floor(rnd() * 300);
      out.push(b.subarray(pos, pos + n));
      pos += n;
    }
    return out;
  };
}

let keyEvery1: Buffer;
let keyEvery2: Buffer;
let oddRate: Buffer;
let aac: Buffer;
beforeAll(async () => {
  [keyEvery1, keyEvery2, oddRate, aac] = await Promise.all([
    encode(video(1)),
    encode(video(2)),
    // 12.5 fps: every other 1 s grid point falls between two frames (the key frame is the one after it)
    encode(video(1, 4, '25/2')),
    encode(audio),
  ]);
});

/** Each part's segmentEnd against where its segment did end (all but the final one, closed by end()). */
function plannedAgainstActual(c: Collected): Array<[number | undefined, number]> {
  return c.segments
    .slice(0, -1)
    .flatMap((seg) =>
      c.parts
        .filter((p) => p.n === seg.number)
        .map((p): [number | undefined, number] => [p.part.segmentEnd, seg.start + seg.duration]),
    );
}

describe('Segmenter', () => {
  it('cuts video on the 1 s grid at key frames; parts are ffmpeg fragments; segment = styp + parts', () => {
    const c = segment(keyEvery1, 'video', { seg: 1, part: 0.5, first: 7 });
    expect(c.init!.track.kind).toBe('video');
    expect(c.init!.bytes.toString('latin1', 4, 8)).toBe('ftyp');
    expect(c.init!.bytes.includes(Buffer.from('cmfc'))).toBe(true);
    const ts = c.init!.track.timescale;
    expect(c.segments.map((s) => s.number)).toEqual([7, 8, 9, 10]);
    expect(c.segments.map((s) => s.start / ts)).toEqual([0, 1, 2, 3]);
    expect(c.segments.map((s) => s.duration / ts)).toEqual([1, 1, 1, 1]);
    for (const seg of c.segments) {
      const parts = c.parts.filter((p) => p.n === seg.number);
      expect(parts.map((p) => p.part)).toEqual(seg.parts);
      expect(parts.map((p) => p.part.index)).toEqual([0, 1]);
      expect(parts[0].part.independent).toBe(true);
      expect(parts[0].bytes.toString('latin1', 4, 8)).toBe('styp');
      expect(parts[1].bytes.toString('latin1', 4, 8)).toBe('moof');
      const file = Buffer.concat(parts.map((p) => p.bytes));
      expect(file.length).toBe(seg.bytes);
      expect(seg.complete).toBe(true);
      // One I-frame per segment: the moof after the styp, through the end of the key frame's data.
      expect(seg.iframes).toHaveLength(1);
      const f = seg.iframes![0];
      expect(f.offset).toBe(file.readUInt32BE(0));
      expect(file.toString('latin1', f.offset + 4, f.offset + 8)).toBe('moof');
      expect(f.duration).toBe(seg.duration);
      expect(f.offset + f.length).toBeLessThan(seg.bytes);
    }
  });

  it('never cuts a video segment without a key frame: 2 s GOPs on a 1 s grid give 2 s segments', () => {
    const c = segment(keyEvery2, 'video', { seg: 1, part: 0.5 });
    const ts = c.init!.track.timescale;
    expect(c.segments.map((s) => s.duration / ts)).toEqual([2, 2]);
    expect(c.segments.every((s) => s.parts[0].independent)).toBe(true);
    expect(c.segments[0].parts.slice(1).every((p) => !p.independent)).toBe(true);
  });

  it('cuts audio on the grid within half a part', () => {
    const c = segment(aac, 'audio', { seg: 2, part: 0.5 });
    const ts = c.init!.track.timescale;
    expect(c.init!.track.codec).toBe('mp4a.40.2');
    const starts = c.segments.map((s) => s.start / ts);
    expect(starts.length).toBeGreaterThanOrEqual(2);
    starts.forEach((s, i) => expect(Math.abs(s - 2 * i)).toBeLessThanOrEqual(0.25));
    expect(c.segments.every((s) => s.parts.every((p) => p.independent))).toBe(true);
    expect(c.segments[0].iframes).toBeUndefined();
  });

  it('live: cuts audio at the grid point to the sample, as video is cut', () => {
    const c = segment(aac, 'audio', { seg: 1, part: 0.5, live: true });
    const ts = c.init!.track.timescale;
    const frame = 1024; // AAC samples per frame, at the track's 48 kHz timescale
    expect(ts).toBe(48000);
    expect(c.segments.length).toBeGreaterThanOrEqual(4);
    // every segment starts within half an AAC frame of its grid point (not half a part)
    c.segments.forEach((s, i) => expect(Math.abs(s.start - i * ts)).toBeLessThanOrEqual(frame / 2));
    // and the audio is all there, in order, each segment's bytes its parts'
    c.segments.slice(1).forEach((s, i) => expect(s.start).toBe(c.segments[i].start + c.segments[i].duration));
    for (const s of c.segments) {
      const parts = c.parts.filter((p) => p.n === s.number);
      expect(parts.reduce((sum, p) => sum + p.bytes.length, 0)).toBe(s.bytes);
      expect(parts.reduce((sum, p) => sum + p.part.duration, 0)).toBe(s.duration);
    }
    // VOD keeps the fragment boundaries (within half a part)
    const vod = segment(aac, 'audio', { seg: 1, part: 0.5 });
    expect(vod.segments.some((s, i) => Math.abs(s.start - i * ts) > frame / 2)).toBe(true);
  });

  it('live: every part says where its segment will end, from the first part on (LL-DASH lists it)', () => {
    for (const [bytes, kind] of [
      [keyEvery1, 'video'],
      [oddRate, 'video'],
      [aac, 'audio'],
    ] as const) {
      const c = segment(bytes, kind, { seg: 1, part: 0.5, live: true });
      const pairs = plannedAgainstActual(c);
      expect(pairs.length, kind).toBeGreaterThanOrEqual(6);
      for (const [planned, actual] of pairs) expect(planned, kind).toBe(actual);
    }
    // at 12.5 fps a segment is not a whole number of frames: segments differ, each end still known
    const oddRun = segment(oddRate, 'video', { seg: 1, part: 0.5, live: true });
    expect(new Set(oddRun.segments.slice(0, -1).map((s) => s.duration)).size).toBeGreaterThan(1);
    // VOD parts say nothing of it
    expect(segment(keyEvery1, 'video', { seg: 1, part: 0.5 }).parts.every((p) => p.part.segmentEnd === undefined)).toBe(
      true,
    );
  });

  it('marks the last part of a segment as it is produced (preload hints): exact for audio, never late for video', () => {
    const audioRun = segment(aac, 'audio', { seg: 1, part: 0.5 });
    const videoRun = segment(keyEvery1, 'video', { seg: 1, part: 0.5 });
    const gop2Run = segment(keyEvery2, 'video', { seg: 1, part: 0.5 });
    for (const [c, exact] of [
      [audioRun, true],
      [videoRun, true],
      [gop2Run, false],
    ] as const) {
      // Every segment but the stream's final one (closed by end(), not by a new fragment).
      for (const seg of c.segments.slice(0, -1)) {
        const parts = c.parts.filter((p) => p.n === seg.number).map((p) => p.part);
        expect(parts[parts.length - 1].last, `segment ${seg.number}`).toBe(true);
        if (exact) expect(parts.slice(0, -1).every((p) => p.last === false)).toBe(true);
      }
    }
    // 2 s GOPs on a 1 s grid: the mark is early (the grid point has no key frame), never missing.
    expect(gop2Run.parts.some((p, i) => p.part.last && gop2Run.parts[i + 1]?.n === p.n)).toBe(true);
  });

  it('live: numbers the fragments (mfhd) on from firstSequenceNumber, so a new encoder run counts on', () => {
    const sequenceOf = (b: Buffer) => parseFragment(b.subarray(b.indexOf('moof') - 4)).sequenceNumber;
    for (const [bytes, kind] of [
      [keyEvery1, 'video'],
      [aac, 'audio'],
    ] as const) {
      // the encoder's own numbers: 1, 2, … in every run
      const own = segment(bytes, kind, { seg: 1, part: 0.5 });
      expect(own.parts.map((p) => sequenceOf(p.bytes))).toEqual(own.parts.map((_, i) => i + 1));
      // the run after one whose last fragment was 700 (ISO/IEC 14496-12 §8.8.5: they increase)
      const next = segment(bytes, kind, { seg: 1, part: 0.5, sequence: 701 });
      expect(next.parts.map((p) => sequenceOf(p.bytes))).toEqual(next.parts.map((_, i) => 701 + i));
      // nothing else changes
      expect(next.segments).toEqual(own.segments);
      expect(next.parts.map((p) => p.bytes.length)).toEqual(own.parts.map((p) => p.bytes.length));
    }
  });

  it('gives identical output however the pipe splits the bytes', () => {
    const whole = segment(keyEvery1, 'video', { seg: 2, part: 0.5 });
    for (const seed of [1, 2, 3]) {
      const split = segment(keyEvery1, 'video', { seg: 2, part: 0.5, split: randomSplit(seed) });
      expect(split.segments).toEqual(whole.segments);
      expect(
        Buffer.concat(split.parts.map((p) => p.bytes)).equals(Buffer.concat(whole.parts.map((p) => p.bytes))),
      ).toBe(true);
      expect(split.init!.bytes.equals(whole.init!.bytes)).toBe(true);
    }
  });

  it('rejects broken producer output with typed errors', () => {
    const mk = () =>
      new Segmenter({
        renditionId: 'v',
        kind: 'video',
        segmentDuration: 1,
        partDuration: 0.5,
        firstSegmentNumber: 1,
        listener: { init() {}, part() {}, segment() {} },
      });
    const cut = mk();
    cut.push(keyEvery1.subarray(0, keyEvery1.length - 10));
    expect(() => cut.end()).toThrow(expect.objectContaining({ code: 'TRUNCATED_BOX' }));
    // media before any init segment
    const firstMoof = keyEvery1.indexOf('moof') - 4;
    expect(() => mk().push(keyEvery1.subarray(firstMoof))).toThrow(
      expect.objectContaining({ code: 'BAD_ENCODER_OUTPUT' }),
    );
    expect(() => segment(aac, 'video', { seg: 1, part: 0.5 })).toThrow(/expected a video track, got audio/);
    expect(
      () =>
        new Segmenter({
          renditionId: 'v',
          kind: 'video',
          segmentDuration: 1,
          partDuration: 2,
          firstSegmentNumber: 1,
          listener: { init() {}, part() {}, segment() {} },
        }),
    ).toThrow(expect.objectContaining({ code: 'BAD_OPTION' }));
  });
});
