/**
 * The awkward sources: 29.97 fps, odd dimensions, no audio, and 4:4:4 H.264 (the encoder is
 * given 4:2:0; the packager converts). Each is packaged with a two-rung ladder and verified
 * from the outside (verify-package.ts).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fixture } from '../../../media-fixtures/generate.js';
import { packageVod } from '../../../packager/vod-job.js';
import { parseM3u8, run, verifyPackage } from './verify-package.js';
import { ffprobePath } from '../../../src/media/ffmpeg-binaries.js';

const root = mkdtempSync(join(tmpdir(), 'se-pkg-sources-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('packageVod on awkward sources', () => {
  it('fps2997: keeps 30000/1001, key frames on the 2 s grid, durations within a frame', async () => {
    const out = join(root, 'o1');
    const s = await packageVod({
      input: await fixture('fps2997'),
      outDir: out,
      assetId: 'ntsc',
      ladder: 'small',
      segmentDuration: 2,
      partDuration: 0.5,
    });
    expect(s.source.video!.frameRate).toEqual([30000, 1001]);
    await verifyPackage(join(out, 'ntsc'), {
      segmentDuration: 2,
      partDuration: 0.5,
      fps: 30000 / 1001,
      hasAudio: true,
      durationSec: 4,
    });
    const master = parseM3u8(readFileSync(join(out, 'ntsc', 'master.m3u8'), 'utf8'));
    expect(master.playlists?.[0].attributes['FRAME-RATE']).toBeCloseTo(29.97, 2);
    expect(readFileSync(join(out, 'ntsc', 'manifest.mpd'), 'utf8')).toContain('frameRate="30000/1001"');
  });

  it('odd 642x362: even dimensions at the source aspect ratio, never upscaled', async () => {
    const out = join(root, 'o2');
    const s = await packageVod({
      input: await fixture('odd'),
      outDir: out,
      assetId: 'odd',
      ladder: 'small',
      segmentDuration: 2,
      partDuration: 1,
    });
    for (const r of s.renditions.filter((x) => x.kind === 'video')) {
      expect(r.width! % 2).toBe(0);
      expect(r.height! % 2).toBe(0);
      expect(r.height!).toBeLessThanOrEqual(362);
      expect(Math.abs(r.width! / r.height! - 642 / 362)).toBeLessThan(0.01);
    }
    await verifyPackage(join(out, 'odd'), {
      segmentDuration: 2,
      partDuration: 1,
      fps: 30,
      hasAudio: true,
      durationSec: 4,
    });
  });

  it('video without audio: no audio group in HLS, no audio AdaptationSet in DASH', async () => {
    const out = join(root, 'o3');
    const s = await packageVod({
      input: await fixture('videoOnly'),
      outDir: out,
      assetId: 'silent',
      ladder: 'small',
      segmentDuration: 2,
      partDuration: 1,
    });
    expect(s.renditions.every((r) => r.kind === 'video')).toBe(true);
    await verifyPackage(join(out, 'silent'), {
      segmentDuration: 2,
      partDuration: 1,
      fps: 30,
      hasAudio: false,
      durationSec: 4,
    });
    expect(readFileSync(join(out, 'silent', 'master.m3u8'), 'utf8')).not.toContain('TYPE=AUDIO');
    expect(readFileSync(join(out, 'silent', 'manifest.mpd'), 'utf8')).not.toContain('contentType="audio"');
  });

  it('yuv444 (H.264 High 4:4:4): converted to 4:2:0 8-bit that players decode', async () => {
    const out = join(root, 'o4');
    const s = await packageVod({
      input: await fixture('yuv444'),
      outDir: out,
      assetId: 'y444',
      ladder: 'small',
      segmentDuration: 1,
      partDuration: 0.5,
    });
    expect(s.source.video!.pixFmt).toBe('yuv444p');
    expect(s.segmentCount).toBe(3);
    await verifyPackage(join(out, 'y444'), {
      segmentDuration: 1,
      partDuration: 0.5,
      fps: 30,
      hasAudio: true,
      durationSec: 3,
    });
    const first = join(root, 'y444-first.mp4');
    writeFileSync(
      first,
      Buffer.concat([
        readFileSync(join(out, 'y444', '360p', 'init.mp4')),
        readFileSync(join(out, 'y444', '360p', 'seg-1.m4s')),
      ]),
    );
    const r = await run(ffprobePath(), [
      '-v',
      'error',
      '-show_entries',
      'stream=profile,pix_fmt',
      '-of',
      'csv=p=0',
      first,
    ]);
    expect(r.stdout.trim()).toBe('Main,yuv420p');
  });
});
