/**
 * A source with two video streams, the smaller first (a file with a low-resolution proxy ahead of
 * its picture, here mirrored to tell them apart, as an HLS feed's variants come): the ladder is planned and encoded from the larger
 * one. Before, the probe took the first stream and the encoder `0:v:0`: a 640x360 picture was
 * packaged from its 320x180 proxy. Real ffprobe + ffmpeg + our segmenter.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { packageVod } from '../../../packager/vod-job.js';
import { probeSource } from '../../../packager/probe.js';
import { ffmpegPath, ffprobePath } from '../../../src/media/ffmpeg-binaries.js';
import { run } from './verify-package.js';

const root = mkdtempSync(join(tmpdir(), 'se-pkg-two-videos-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('a source with two video streams', () => {
  it('is planned and encoded from the larger, not from the first', async () => {
    const input = join(root, 'two-videos.mkv');
    const made = await run(ffmpegPath(), [
      ...['-hide_banner', '-v', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=30:duration=3'],
      ...['-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000:duration=3'],
      ...['-filter_complex', '[0:v]split=2[a][b];[a]scale=320:180,hflip[proxy];[b]null[main]'],
      ...['-map', '[proxy]', '-map', '[main]', '-map', '1:a'],
      ...['-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-c:a', 'aac', input],
    ]);
    expect(made.code, made.stderr).toBe(0);

    const source = await probeSource(input);
    expect(source.video).toMatchObject({ width: 640, height: 360, index: 1 });

    const out = join(root, 'out');
    const summary = await packageVod({
      input,
      outDir: out,
      assetId: 'two',
      ladder: 'small',
      segmentDuration: 2,
      partDuration: 0.5,
    });
    expect(summary.renditions.filter((r) => r.kind === 'video').map((r) => [r.id, r.width, r.height])).toEqual([
      ['360p', 640, 360],
      ['240p', 426, 240],
    ]);
    // the 360p rendition's picture is the main stream's: the proxy is mirrored, so a rendition
    // made from it matches the main picture mirrored (measured: about 24 dB against the main
    // picture, 6 against it mirrored; encoded from the proxy, the other way round)
    const dir = join(out, 'two', 'v1', '360p');
    const whole = join(root, 'two-360p.mp4');
    writeFileSync(whole, Buffer.concat([readFileSync(join(dir, 'init.mp4')), readFileSync(join(dir, 'seg-1.m4s'))]));
    const psnr = async (refScale: string): Promise<number> => {
      const r = await run(ffmpegPath(), [
        ...['-hide_banner', '-i', whole, '-i', input],
        ...['-filter_complex', `[1:v:1]${refScale}[ref];[0:v][ref]psnr`, '-f', 'null', '-'],
      ]);
      const m = /PSNR y:[\d.]+ u:[\d.]+ v:[\d.]+ average:([\d.]+|inf)/.exec(r.stderr);
      if (!m) throw new Error(`no PSNR in ffmpeg's output: ${r.stderr.slice(-400)}`);
      return m[1] === 'inf' ? Infinity : Number(m[1]);
    };
    const asMain = await psnr('null');
    const asMirrored = await psnr('hflip');
    expect(asMain, `PSNR ${asMain} dB against the main picture, ${asMirrored} dB against it mirrored`).toBeGreaterThan(
      asMirrored + 6,
    );
    const probe = await run(ffprobePath(), [
      '-v',
      'error',
      '-show_entries',
      'stream=width,height',
      '-of',
      'csv=p=0',
      whole,
    ]);
    expect(probe.stdout.trim()).toBe('640,360');
  });
});
