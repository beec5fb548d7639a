/**
 * A source stored with a quarter-turn display matrix (a phone's portrait clip: 640x360 coded,
 * shown 360x640) packages into portrait renditions that look like the source as players show it,
 * not the turned picture squashed into landscape sizes. Real ffprobe + ffmpeg + our segmenter.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fixture } from '../../../media-fixtures/generate.js';
import { packageVod } from '../../../packager/vod-job.js';
import { probeSource } from '../../../packager/probe.js';
import { ffmpegPath } from '../../../src/media/ffmpeg-binaries.js';
import { parseM3u8, run, verifyPackage } from './verify-package.js';

const root = mkdtempSync(join(tmpdir(), 'se-pkg-rotated-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Mean PSNR (dB) of `file` against `reference` scaled to `w`x`h` (as ffmpeg shows both, turned). */
async function psnr(file: string, reference: string, w: number, h: number, extra = ''): Promise<number> {
  const r = await run(ffmpegPath(), [
    '-hide_banner',
    '-i',
    file,
    '-i',
    reference,
    '-filter_complex',
    `[1:v]scale=${w}:${h}${extra}[ref];[0:v][ref]psnr`,
    '-f',
    'null',
    '-',
  ]);
  const m = /PSNR y:[\d.]+ u:[\d.]+ v:[\d.]+ average:([\d.]+|inf)/.exec(r.stderr);
  if (!m) throw new Error(`no PSNR in ffmpeg's output: ${r.stderr.slice(-400)}`);
  return m[1] === 'inf' ? Infinity : Number(m[1]);
}

describe('a source with a quarter-turn display matrix', () => {
  it('packages into portrait renditions that match the source as it is shown', async () => {
    const input = await fixture('rotated');
    const source = await probeSource(input);
    // the fixture is what it says: coded 640x360, shown turned
    expect(source.video).toMatchObject({ width: 360, height: 640 });
    expect([90, 270]).toContain(source.video?.rotation);

    const out = join(root, 'out');
    const summary = await packageVod({
      input,
      outDir: out,
      assetId: 'phone',
      ladder: 'small',
      segmentDuration: 2,
      partDuration: 0.5,
    });
    const video = summary.renditions.filter((r) => r.kind === 'video');
    expect(video.map((r) => [r.id, r.width, r.height])).toEqual([
      ['360p', 360, 640],
      ['240p', 240, 426],
    ]);
    const master = parseM3u8(readFileSync(join(out, 'phone', 'master.m3u8'), 'utf8'));
    expect(master.playlists!.map((p) => p.attributes.RESOLUTION)).toEqual([
      { width: 360, height: 640 },
      { width: 240, height: 426 },
    ]);
    await verifyPackage(join(out, 'phone'), {
      segmentDuration: 2,
      partDuration: 0.5,
      fps: 30,
      hasAudio: true,
      durationSec: 3,
    });

    // the picture: the 360p rendition against the source as ffmpeg shows it (turned), and against
    // the same turned the other way round (what a wrong turn would give)
    const dir = join(out, 'phone', 'v1', '360p');
    const whole = join(root, 'phone-360p.mp4');
    writeFileSync(whole, Buffer.concat([readFileSync(join(dir, 'init.mp4')), readFileSync(join(dir, 'seg-1.m4s'))]));
    // (measured: about 25 dB as shown, 6 dB turned round; the 360p encode of this busy test
    // pattern is far from lossless, so the bar is the gap, not a quality figure)
    const shown = await psnr(whole, input, 360, 640);
    const turnedRound = await psnr(whole, input, 360, 640, ',hflip,vflip');
    expect(shown).toBeGreaterThan(20);
    expect(turnedRound).toBeLessThan(12);
  });
});
