/**
 * A live channel in `--live-video-codecs h264,hevc` (or a ladder file's `"videoCodecs"`, checked in
 * test/unit/packager/live-ladder-codecs.test.ts): every rung is encoded twice
 * in the one ffmpeg run (libx265 tuned for zero latency beside x264), and both families are served
 * as LL-HLS and LL-DASH over loopback: hvc1 parts, the same segment grid as the H.264 twin,
 * blocking reloads, a variant each in the multivariant playlist and an AdaptationSet each in the
 * MPD. Real ffmpeg, ffprobe and sockets.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ffprobePath } from '../../../src/media/ffmpeg-binaries.js';
import { run } from '../packager/verify-package.js';
import { validateMpd } from '../../support/xml-validate.js';
import { runLoadTest } from '../../../bench/loadtest/run.js';
import { formatReport } from '../../../bench/loadtest/report.js';
import {
  TEST_SOURCE,
  completeSegments,
  parseM3u8,
  startLiveOrigin,
  until,
  writeTinyLadder,
  type LiveOrigin,
} from './live-helpers.js';

let dir: string;
let o: LiveOrigin;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'se-live-hevc-'));
  const ladder = writeTinyLadder(dir);
  const root = join(dir, 'root');
  mkdirSync(root);
  o = await startLiveOrigin(root, [
    {
      id: 'ch',
      source: TEST_SOURCE,
      segmentDuration: 1,
      partDuration: 0.5,
      dvrWindow: 20,
      ladder,
      videoCodecs: ['h264', 'hevc'],
    },
  ]);
  await until(
    async () => (await completeSegments(o, 'ch', '180p-hevc')) >= 3 && (await completeSegments(o, 'ch', '180p')) >= 3,
    40_000,
    'three complete segments of each video rendition',
  );
}, 60_000);

afterAll(async () => {
  await o?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** ffprobe of a rendition's init segment and one of its media segments, fetched from the origin. */
async function probeLive(rendition: string, segment: number) {
  const init = await o.get(`/live/ch/${rendition}/init.mp4`);
  const seg = await o.get(`/live/ch/${rendition}/seg-${segment}.m4s`);
  expect([init.status, seg.status]).toEqual([200, 200]);
  const file = join(dir, `${rendition}-${segment}.mp4`);
  writeFileSync(file, Buffer.concat([init.body, seg.body]));
  const r = await run(ffprobePath(), [
    ...['-v', 'error', '-print_format', 'json', '-select_streams', 'v:0'],
    ...['-show_streams', '-show_frames', '-show_entries', 'frame=key_frame,pict_type', file],
  ]);
  expect(r.code, r.stderr).toBe(0);
  expect(r.stderr).toBe(''); // every frame decodes from the init segment alone
  return JSON.parse(r.stdout) as {
    streams: { codec_name: string; codec_tag_string: string; profile: string; width: number; height: number }[];
    frames: { key_frame: number; pict_type: string }[];
  };
}

/** The newest part a media playlist lists, counted in parts from segment 0 (two a segment here). */
function newestPart(playlist: string): number {
  const parts = [...playlist.matchAll(/#EXT-X-PART:.*URI="seg-(\d+)\.(\d+)\.m4s"/g)];
  const [, msn, part] = parts[parts.length - 1];
  return Number(msn) * 2 + Number(part);
}

describe('a live channel in H.264 and HEVC', () => {
  it('the multivariant playlist: the H.264 variant, then the HEVC one, with its CODECS and the same audio', async () => {
    const master = await o.get('/live/ch/master.m3u8');
    expect(master.status).toBe(200);
    const lines = master.text.split('\n');
    const variants = lines.flatMap((l, i) => (l.startsWith('#EXT-X-STREAM-INF:') ? [[l, lines[i + 1]]] : []));
    expect(variants.map(([, uri]) => uri)).toEqual(['180p/index.m3u8', '180p-hevc/index.m3u8']);
    expect(variants[0][0]).toMatch(/CODECS="avc1\.4d40\w\w,mp4a\.40\.2"/);
    expect(variants[1][0]).toMatch(/CODECS="hvc1\.1\.6\.L\d+\.\w+,mp4a\.40\.2"/);
    for (const [line] of variants) {
      expect(line).toContain('AUDIO="audio"');
      expect(line).toContain('RESOLUTION=320x180');
    }
  });

  it('HEVC segments: hvc1, Main, 320x180, each one IDR picture first and no other key frame', async () => {
    const m = parseM3u8((await o.get('/live/ch/180p-hevc/index.m3u8')).text);
    const numbers = m.segments.map((s) => Number(/seg-(\d+)\.m4s/.exec(s.uri)![1])).slice(-3);
    for (const n of numbers) {
      const p = await probeLive('180p-hevc', n);
      expect(p.streams[0]).toMatchObject({
        codec_name: 'hevc',
        codec_tag_string: 'hvc1',
        profile: 'Main',
        width: 320,
        height: 180,
      });
      expect(p.frames.length).toBeGreaterThanOrEqual(28); // 1 s at 30 fps, give or take the edges
      expect(p.frames[0]).toMatchObject({ key_frame: 1, pict_type: 'I' });
      expect(p.frames.filter((f) => f.key_frame === 1)).toHaveLength(1);
    }
  });

  it('the HEVC playlist is LL-HLS on the H.264 twin’s grid: the same segments, durations and PDTs, parts of 0.5 s, independent first', async () => {
    const [avc, hevc] = await Promise.all(
      ['180p', '180p-hevc'].map(async (r) => parseM3u8((await o.get(`/live/ch/${r}/index.m3u8`)).text)),
    );
    expect(hevc.serverControl.canBlockReload).toBe(true);
    expect(hevc.partInf.partTarget).toBeGreaterThanOrEqual(0.5);
    expect(hevc.preloadSegment?.preloadHints[0].type).toBe('PART');
    const byUri = new Map(avc.segments.map((s) => [s.uri, s]));
    const common = hevc.segments.filter((s) => byUri.has(s.uri));
    expect(common.length).toBeGreaterThanOrEqual(3);
    for (const s of common) {
      const twin = byUri.get(s.uri)!;
      expect(s.duration).toBeCloseTo(twin.duration, 2);
      expect(s.programDateTime).toBe(twin.programDateTime);
    }
    // the independent flag is on the first part of every segment the playlist lists parts of
    const text = (await o.get('/live/ch/180p-hevc/index.m3u8')).text;
    const firstParts = text.split('\n').filter((l) => /^#EXT-X-PART:.*URI="seg-\d+\.0\.m4s"/.test(l));
    expect(firstParts.length).toBeGreaterThanOrEqual(1);
    for (const l of firstParts) expect(l).toContain('INDEPENDENT=YES');
  });

  it('HEVC parts come out with the H.264 ones: the newest part of each playlist, asked for at once, at most one part apart', async () => {
    for (let i = 0; i < 3; i++) {
      const [avc, hevc] = await Promise.all(
        ['180p', '180p-hevc'].map(async (r) => newestPart((await o.get(`/live/ch/${r}/index.m3u8`)).text)),
      );
      expect(Math.abs(hevc - avc), `newest part: H.264 ${avc}, HEVC ${hevc} (in parts)`).toBeLessThanOrEqual(1);
      // the next sample after the next part of the H.264 rendition
      await o.get(`/live/ch/180p/index.m3u8?_HLS_msn=${Math.floor((avc + 1) / 2)}&_HLS_part=${(avc + 1) % 2}`);
    }
  });

  it('a blocking reload of the HEVC playlist is held until the part it asks for, then lists it', async () => {
    const m = parseM3u8((await o.get('/live/ch/180p-hevc/index.m3u8')).text);
    const hint = /seg-(\d+)\.(\d+)\.m4s/.exec(m.preloadSegment!.preloadHints[0].uri)!;
    const [msn, part] = [Number(hint[1]), Number(hint[2])];
    const r = await o.get(`/live/ch/180p-hevc/index.m3u8?_HLS_msn=${msn}&_HLS_part=${part}`);
    expect(r.status).toBe(200);
    expect(r.text).toContain(`URI="seg-${msn}.${part}.m4s"`);
    const bytes = await o.get(`/live/ch/180p-hevc/seg-${msn}.${part}.m4s`);
    expect(bytes.status).toBe(200);
    expect(bytes.body.subarray(4, 8).toString()).toMatch(/^(styp|moof)$/);
  });

  it('the load tester with --hevc-share 0.5: half its viewers play each family, over HLS and DASH, with no error', async () => {
    for (const manifest of ['master.m3u8', 'manifest.mpd']) {
      const r = await runLoadTest({
        url: `${o.base}/live/ch/${manifest}`,
        viewers: 4,
        rampSec: 0.5,
        durationSec: 3,
        workers: 0,
        hevcShare: 0.5,
      });
      expect(r.viewers, manifest).toMatchObject({ started: 4, failed: 0 });
      expect(r.errors, manifest).toEqual({});
      expect(r.videoFamilies, manifest).toEqual({ avc: 2, hevc: 2 });
      expect(formatReport(r)).toContain('video codecs  avc 2, hevc 2 viewers (--hevc-share 0.5)');
    }
  });

  it('the MPD: an AdaptationSet per family, the HEVC one with its codecs on the same SegmentTimeline; schema-valid', async () => {
    const r = await o.get('/live/ch/manifest.mpd');
    expect(r.status).toBe(200);
    const sets = [...r.text.matchAll(/<AdaptationSet[^>]*contentType="video"[\s\S]*?<\/AdaptationSet>/g)].map(
      (x) => x[0],
    );
    expect(sets).toHaveLength(2);
    expect(sets[0]).toMatch(/codecs="avc1\./);
    expect(sets[1]).toMatch(/<Representation id="180p-hevc"[^>]*codecs="hvc1\.1\.6\.L\d+\.\w+"/);
    expect((await validateMpd(r.text)).errors).toBe('');
  });
});
