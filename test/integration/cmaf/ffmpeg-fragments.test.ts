/**
 * The box layer against REAL ffmpeg output: fragmented MP4 produced on a pipe from the small
 * fixture (4 s of 360p), checked against ffprobe's view of the same bytes.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixture } from '../../../media-fixtures/generate.js';
import { type Box, readBoxes } from '../../../src/cmaf/box.js';
import { BoxStreamParser, type RawBox } from '../../../src/cmaf/box-stream.js';
import {
  parseFragment,
  setBaseDecodeTime,
  setSequenceNumber,
  type TrackFragmentInfo,
} from '../../../src/cmaf/fragment.js';
import { parseInit, type TrackInfo } from '../../../src/cmaf/init-segment.js';
import { parseSidx } from '../../../src/cmaf/sidx.js';
import { ffmpegToFile, ffmpegToPipe, ffprobe, type Piped, type ProbeStream } from './ffmpeg-output.js';

const H264_PROFILES: Record<number, string> = {
  66: 'Baseline',
  77: 'Main',
  88: 'Extended',
  100: 'High',
  110: 'High 10',
  122: 'High 4:2:2',
  244: 'High 4:4:4 Predictive',
};
const AAC_PROFILES: Record<number, string> = { 1: 'Main', 2: 'LC', 5: 'HE-AAC', 29: 'HE-AACv2' };
const HEVC_PROFILES: Record<number, string> = { 1: 'Main', 2: 'Main 10', 3: 'Main Still Picture', 4: 'Rext' };

/** Checks our RFC 6381 string against ffprobe's profile name and level for the same stream. */
function expectCodecMatchesProbe(track: TrackInfo, probe: ProbeStream): void {
  expect(track.codecFourcc).toBe(probe.codec_tag_string);
  const parts = track.codec.split('.');
  if (probe.codec_name === 'h264') {
    expect(parts[1]).toMatch(/^[0-9a-f]{6}$/);
    const profile = parseInt(parts[1].slice(0, 2), 16);
    const constraints = parseInt(parts[1].slice(2, 4), 16);
    const level = parseInt(parts[1].slice(4, 6), 16);
    const name = profile === 66 && constraints & 0x40 ? 'Constrained Baseline' : H264_PROFILES[profile];
    expect(name).toBe(probe.profile);
    expect(level).toBe(probe.level);
  } else if (probe.codec_name === 'aac') {
    expect(parts[1]).toBe('40');
    expect(AAC_PROFILES[Number(parts[2])]).toBe(probe.profile);
    expect(track.sampleRate).toBe(Number(probe.sample_rate));
    expect(track.channels).toBe(probe.channels);
  } else if (probe.codec_name === 'hevc') {
    expect(HEVC_PROFILES[Number(parts[1])]).toBe(probe.profile);
    expect(parts[3]).toBe(`L${probe.level}`);
  } else {
    throw new Error(`unexpected codec ${probe.codec_name}`);
  }
  if (track.kind === 'video') {
    expect(track.width).toBe(probe.width);
    expect(track.height).toBe(probe.height);
  }
  expect(`1/${track.timescale}`).toBe(probe.time_base);
}

interface Parsed {
  bytes: Buffer;
  boxes: Box[];
  tracks: TrackInfo[];
  /** Per moof: its box, the following mdat, and the parsed fragment (offsets relative to the moof). */
  fragments: { moof: Box; mdat: Box; sequenceNumber: number; tracks: TrackFragmentInfo[] }[];
}

function parseAll(bytes: Buffer): Parsed {
  const boxes = readBoxes(bytes);
  const init = parseInit(bytes);
  const fragments: Parsed['fragments'] = [];
  boxes.forEach((b, i) => {
    if (b.type !== 'moof') return;
    const mdat = boxes[i + 1];
    expect(mdat.type).toBe('mdat');
    // Only the moof bytes: parsing never needs (or copies) the media.
    const f = parseFragment(bytes.subarray(b.start, b.start + b.size), init.trex);
    fragments.push({ moof: b, mdat, sequenceNumber: f.sequenceNumber, tracks: f.tracks });
  });
  return { bytes, boxes, tracks: init.tracks, fragments };
}

let dir: string;
const out: Record<'video' | 'audio' | 'muxed' | 'hevc', Piped & { file: string; parsed: Parsed }> = {} as never;
let small: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'streamedge-cmaf-'));
  small = await fixture('small');
  const X264 = ['-c:v', 'libx264', '-preset', 'veryfast', '-threads', '1', '-g', '30'];
  const specs: Record<'video' | 'audio' | 'muxed' | 'hevc', string[]> = {
    video: ['-i', small, '-map', '0:v', ...X264],
    audio: ['-i', small, '-map', '0:a', '-c:a', 'aac', '-b:a', '96k'],
    muxed: ['-i', small, '-map', '0:v', '-map', '0:a', ...X264, '-c:a', 'aac', '-b:a', '96k'],
    hevc: [
      '-i',
      small,
      '-map',
      '0:v',
      '-c:v',
      'libx265',
      '-preset',
      'ultrafast',
      '-tag:v',
      'hvc1',
      '-x265-params',
      'keyint=30:min-keyint=30:pools=1:log-level=error',
    ],
  };
  for (const [name, args] of Object.entries(specs) as [keyof typeof specs, string[]][]) {
    const piped = await ffmpegToPipe(args);
    const file = join(dir, `${name}.mp4`);
    writeFileSync(file, piped.bytes);
    out[name] = { ...piped, file, parsed: parseAll(piped.bytes) };
  }
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('init segments from ffmpeg', () => {
  for (const name of ['video', 'audio', 'muxed', 'hevc'] as const) {
    it(`${name}: codec strings, dimensions and rates agree with ffprobe`, async () => {
      const { streams } = await ffprobe(out[name].file);
      const { tracks } = out[name].parsed;
      expect(tracks).toHaveLength(streams.length);
      tracks.forEach((t, i) => expectCodecMatchesProbe(t, streams[i]));
      expect(parseInit(out[name].bytes).brands.major).toBe('iso5');
    });
  }

  it('codec strings for the exact values ffmpeg wrote', () => {
    expect(out.video.parsed.tracks[0].codec).toBe('avc1.64001e');
    expect(out.audio.parsed.tracks[0].codec).toBe('mp4a.40.2');
    expect(out.hevc.parsed.tracks[0].codec).toMatch(/^hvc1\.1\.6\.L\d+(\.[0-9A-F]{1,2})*$/);
  });

  for (const name of ['small', 'yuv444', 'audioOnly'] as const) {
    it(`progressive fixture "${name}": moov tracks agree with ffprobe`, async () => {
      const { readFileSync } = await import('node:fs');
      const file = await fixture(name);
      const info = parseInit(readFileSync(file));
      expect(info.fragmented).toBe(false);
      const { streams } = await ffprobe(file);
      expect(info.tracks).toHaveLength(streams.length);
      info.tracks.forEach((t, i) => expectCodecMatchesProbe(t, streams[i]));
    });
  }
});

describe('fragments from ffmpeg', () => {
  for (const name of ['video', 'audio', 'muxed', 'hevc'] as const) {
    it(`${name}: timeline continuity, sync starts, sizes and offsets`, () => {
      const { fragments, tracks } = out[name].parsed;
      expect(fragments.length).toBeGreaterThanOrEqual(4);
      fragments.forEach((f, i) => {
        expect(f.sequenceNumber).toBe(i + 1);
        expect(f.tracks.length).toBeGreaterThan(0);
        for (const t of f.tracks) expect(tracks.map((x) => x.trackId)).toContain(t.trackId);
        // The mdat payload is exactly the samples of every track in this fragment...
        const payload = f.mdat.size - f.mdat.headerSize;
        expect(f.tracks.reduce((n, t) => n + t.samples.reduce((m, s) => m + s.size, 0), 0)).toBe(payload);
        // ...and every sample lies inside it, the first right after the mdat header.
        const mdatData = f.mdat.start + f.mdat.headerSize - f.moof.start;
        const first = Math.min(...f.tracks.map((t) => t.samples[0].offset));
        expect(first).toBe(mdatData);
        for (const t of f.tracks) {
          expect(t.dataOffsetBase).toBe('moof');
          for (const s of t.samples) {
            expect(s.offset).toBeGreaterThanOrEqual(mdatData);
            expect(s.offset + s.size).toBeLessThanOrEqual(mdatData + payload);
          }
        }
      });
      for (const track of tracks) {
        // (The last fragment of a muxed file may carry only the audio tail.)
        const runs = fragments.flatMap((f) => f.tracks.filter((t) => t.trackId === track.trackId));
        expect(runs.length).toBeGreaterThanOrEqual(4);
        for (let i = 0; i + 1 < runs.length; i++) {
          expect(runs[i].duration).toBe(runs[i].samples.reduce((n, s) => n + s.duration, 0));
          expect(runs[i + 1].baseDecodeTime - runs[i].baseDecodeTime, `${track.kind} fragment ${i}`).toBe(
            runs[i].duration,
          );
        }
        if (track.kind === 'video') {
          expect(runs[0].startsWithSync).toBe(true);
          if (track.codecFourcc === 'avc1') {
            // x264 -g 30 with frag_keyframe: every fragment opens on its one key frame.
            expect(runs.map((r) => r.startsWithSync)).toEqual(runs.map(() => true));
            expect(runs.map((r) => r.samples.filter((s) => s.isSync).length)).toEqual(runs.map(() => 1));
            // libx264 veryfast uses B-frames: composition offsets are present and vary.
            expect(new Set(runs[0].samples.map((s) => s.compositionOffset)).size).toBeGreaterThan(1);
          }
        }
      }
    });
  }

  for (const name of ['video', 'muxed', 'hevc'] as const) {
    it(`${name}: every packet ffprobe reads matches our samples (dts, size, key flag, byte position)`, async () => {
      const { packets } = await ffprobe(out[name].file, true);
      const { fragments, tracks } = out[name].parsed;
      tracks.forEach((track, index) => {
        const theirs = packets.filter((p) => p.stream_index === index);
        const ours: { dts: number; size: number; key: boolean; pos: number }[] = [];
        for (const f of fragments) {
          const t = f.tracks.find((x) => x.trackId === track.trackId);
          if (!t) continue;
          let dts = t.baseDecodeTime;
          for (const s of t.samples) {
            ours.push({ dts, size: s.size, key: s.isSync, pos: f.moof.start + s.offset });
            dts += s.duration;
          }
        }
        expect(ours.length).toBe(theirs.length);
        expect(ours.map((s) => s.dts - ours[0].dts)).toEqual(theirs.map((p) => p.dts - theirs[0].dts));
        expect(ours.map((s) => s.size)).toEqual(theirs.map((p) => Number(p.size)));
        expect(ours.map((s) => s.key)).toEqual(theirs.map((p) => p.flags.startsWith('K')));
        expect(ours.map((s) => s.pos)).toEqual(theirs.map((p) => Number(p.pos)));
      });
    });
  }

  it('retimed and renumbered fragments are what ffprobe then reads', async () => {
    const { bytes, boxes, fragments, tracks } = out.muxed.parsed;
    // The same time for every track (so packet interleaving is unchanged), past 2^32 ticks.
    const shift = (trackTimescale: number): number => 300_000 * trackTimescale;
    const parts: Buffer[] = [];
    let seq = 1000;
    for (const b of boxes) {
      let chunk = bytes.subarray(b.start, b.start + b.size);
      if (b.type === 'moof') {
        const f = fragments.find((x) => x.moof.start === b.start)!;
        for (const t of f.tracks) {
          const ts = tracks.find((x) => x.trackId === t.trackId)!.timescale;
          chunk = setBaseDecodeTime(chunk, t.trackId, BigInt(t.baseDecodeTime + shift(ts)));
        }
        chunk = setSequenceNumber(chunk, seq++);
      }
      parts.push(chunk);
    }
    const file = join(dir, 'retimed.mp4');
    writeFileSync(file, Buffer.concat(parts));
    const before = await ffprobe(out.muxed.file, true);
    const after = await ffprobe(file, true);
    expect(after.packets.length).toBe(before.packets.length);
    tracks.forEach((track, index) => {
      const was = before.packets.filter((p) => p.stream_index === index);
      const now = after.packets.filter((p) => p.stream_index === index);
      expect(now.length).toBe(was.length);
      expect(shift(track.timescale)).toBeGreaterThan(2 ** 32);
      now.forEach((p, i) => {
        expect(p.dts - was[i].dts).toBe(shift(track.timescale));
        expect(p.size).toBe(was[i].size);
      });
    });
    const reparsed = parseAll(Buffer.concat(parts));
    expect(reparsed.fragments.map((f) => f.sequenceNumber)).toEqual(fragments.map((_, i) => 1000 + i));
  });

  it('sidx written by ffmpeg (global_sidx) indexes the fragments it precedes', async () => {
    const file = join(dir, 'sidx.mp4');
    await ffmpegToFile([
      '-i',
      small,
      '-map',
      '0:v',
      '-c:v',
      'libx264',
      '-preset',
      'veryfast',
      '-threads',
      '1',
      '-g',
      '30',
      '-f',
      'mp4',
      '-movflags',
      'frag_keyframe+empty_moov+default_base_moof+global_sidx',
      '-frag_duration',
      '1000000',
      file,
    ]);
    const { readFileSync } = await import('node:fs');
    const bytes = readFileSync(file);
    const parsed = parseAll(bytes);
    const sidxBox = parsed.boxes.find((b) => b.type === 'sidx')!;
    const sidx = parseSidx(sidxBox);
    expect(sidx.referenceId).toBe(parsed.tracks[0].trackId);
    expect(sidx.timescale).toBe(parsed.tracks[0].timescale);
    expect(sidx.references).toHaveLength(parsed.fragments.length);
    let pos = sidxBox.start + sidxBox.size + sidx.firstOffset;
    sidx.references.forEach((r, i) => {
      const f = parsed.fragments[i];
      expect(f.moof.start).toBe(pos);
      expect(r.size).toBe(f.moof.size + f.mdat.size);
      expect(r.duration).toBe(f.tracks[0].duration);
      expect(r.startsWithSap).toBe(true);
      pos += r.size;
    });
  });
});

describe('BoxStreamParser on real ffmpeg output', () => {
  const expected = (bytes: Buffer): { type: string; offset: number; size: number }[] =>
    readBoxes(bytes).map((b) => ({ type: b.type, offset: b.start, size: b.size }));

  function feed(chunks: Buffer[]): RawBox[] {
    const p = new BoxStreamParser();
    const got: RawBox[] = [];
    for (const c of chunks) got.push(...p.push(c));
    p.end();
    return got;
  }

  function check(bytes: Buffer, got: RawBox[]): void {
    expect(got.map((b) => ({ type: b.type, offset: b.offset, size: b.bytes.length }))).toEqual(expected(bytes));
    for (const b of got) expect(b.bytes.equals(bytes.subarray(b.offset, b.offset + b.bytes.length))).toBe(true);
  }

  it('the chunks exactly as the ffmpeg pipe delivered them', () => {
    for (const name of ['video', 'audio', 'muxed', 'hevc'] as const) check(out[name].bytes, feed(out[name].chunks));
  });

  it('split in two at every byte of the first 3000 (ftyp, moov, moof, into the mdat)', () => {
    const bytes = out.muxed.bytes;
    const want = expected(bytes);
    for (let i = 0; i <= 3000; i++) {
      const got = feed([bytes.subarray(0, i), bytes.subarray(i)]);
      // Cheap comparison per split; byte equality is checked once below and in the other cases.
      expect(got.length).toBe(want.length);
      expect(got[want.length - 1].offset).toBe(want[want.length - 1].offset);
      for (let k = 0; k < 4; k++)
        expect(got[k].bytes.equals(bytes.subarray(want[k].offset, want[k].offset + want[k].size))).toBe(true);
    }
    // Byte at a time through the same stretch, then the rest in one go.
    const singles = [...bytes.subarray(0, 3000)].map((b) => Buffer.from([b]));
    check(bytes, feed([...singles, bytes.subarray(3000)]));
  });

  it('random chunk sizes (seeded), small and pipe-sized', () => {
    let seed = 12345;
    const rand = (): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed / 0x80000000;
    };
    for (const name of ['video', 'muxed'] as const) {
      const bytes = out[name].bytes;
      for (let round = 0; round < 10; round++) {
        const max = round < 5 ? 64 : 65536;
        const chunks: Buffer[] = [];
        for (let pos = 0; pos < bytes.length;) {
          const n = 1 + Math.floor(rand() * max);
          chunks.push(bytes.subarray(pos, pos + n));
          pos += n;
        }
        check(bytes, feed(chunks));
      }
    }
  });

  it('a stream cut mid-fragment is reported when it ends', () => {
    const bytes = out.video.bytes;
    const p = new BoxStreamParser();
    p.push(bytes.subarray(0, bytes.length - 100));
    expect(p.pendingBytes).toBeGreaterThan(0);
    expect(() => p.end()).toThrow(/stream ended inside a box/);
  });
});
