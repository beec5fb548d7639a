/**
 * An interlaced source (576i25, top field first, as a broadcast SD feed) packages into
 * progressive renditions: the packager deinterlaces before scaling, keeping 25 frames a second.
 * Judged by ffmpeg's interlace detector (idet) on a rendition at the source's own size, where
 * nothing but deinterlacing can remove the combs: the source reads as TFF throughout.
 * Real ffprobe + ffmpeg + our segmenter.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fixture } from '../../../media-fixtures/generate.js';
import { packageVod } from '../../../packager/vod-job.js';
import { probeSource } from '../../../packager/probe.js';
import { ffmpegPath } from '../../../src/media/ffmpeg-binaries.js';
import { run } from './verify-package.js';

const root = mkdtempSync(join(tmpdir(), 'se-pkg-interlaced-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** ffmpeg idet's multi-frame verdict over a whole file: frames read as TFF, BFF, progressive. */
async function idet(file: string): Promise<{ tff: number; bff: number; progressive: number }> {
  const r = await run(ffmpegPath(), ['-hide_banner', '-i', file, '-vf', 'idet', '-f', 'null', '-']);
  const m = /Multi frame detection: TFF:\s*(\d+) BFF:\s*(\d+) Progressive:\s*(\d+)/.exec(r.stderr);
  if (!m) throw new Error(`no idet verdict in ffmpeg's output: ${r.stderr.slice(-400)}`);
  return { tff: Number(m[1]), bff: Number(m[2]), progressive: Number(m[3]) };
}

describe('an interlaced source', () => {
  it('packages into progressive renditions at the source frame rate', async () => {
    const input = await fixture('interlaced');
    expect((await probeSource(input)).video).toMatchObject({ width: 720, height: 576, interlaced: true });
    const before = await idet(input);
    expect(before.tff).toBeGreaterThan(60); // the fixture is what it says: 75 frames, combed

    const out = join(root, 'out');
    // one rung at the source's own size: nothing but deinterlacing can remove the combs
    const ladderFile = join(root, 'ladder.json');
    writeFileSync(ladderFile, JSON.stringify({ video: [{ height: 576, bitrate: '3000k' }], audio: false }));
    const summary = await packageVod({
      input,
      outDir: out,
      assetId: 'sd',
      ladder: ladderFile,
      segmentDuration: 2,
      partDuration: 0.5,
    });
    expect(summary.renditions.map((r) => [r.id, r.width, r.height])).toEqual([['576p', 720, 576]]);
    const dir = join(out, 'sd', 'v1', '576p');
    const whole = join(root, 'sd-576p.mp4');
    writeFileSync(whole, Buffer.concat(['init.mp4', 'seg-1.m4s', 'seg-2.m4s'].map((f) => readFileSync(join(dir, f)))));
    const after = await idet(whole);
    const frames = after.tff + after.bff + after.progressive;
    expect(frames).toBeGreaterThanOrEqual(70); // 25 frames a second kept (not 50, not 12.5)
    expect(frames).toBeLessThanOrEqual(76);
    // idet's multi-frame verdict carries its history into the first few frames
    expect(after.progressive).toBeGreaterThan(0.85 * frames);
  });
});
