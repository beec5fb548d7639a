/**
 * A variable-frame-rate source (a phone's recording: 30 frames a second, fewer in parts) is
 * encoded at its full rate, 30, with frames repeated where it had none: every rung has a frame
 * each 1/30 s and the playlists say FRAME-RATE=30.000. Before, the ladder was encoded at the
 * source's average (26.25 here), which dropped frames where the source ran at 30.
 * Real ffprobe + ffmpeg + our segmenter.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fixture } from '../../../media-fixtures/generate.js';
import { probeSource } from '../../../packager/probe.js';
import { packageVod } from '../../../packager/vod-job.js';
import { ffprobePath } from '../../../src/media/ffmpeg-binaries.js';
import { run, verifyPackage } from './verify-package.js';

const root = mkdtempSync(join(tmpdir(), 'se-pkg-vfr-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Presentation times of a file's video frames, in order. */
async function frameTimes(file: string): Promise<number[]> {
  const r = await run(ffprobePath(), [
    ...['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'packet=pts_time', '-of', 'csv=p=0', file],
  ]);
  expect(r.code, r.stderr).toBe(0);
  return r.stdout
    .split('\n')
    .map((l) => Number.parseFloat(l))
    .filter((t) => Number.isFinite(t))
    .sort((a, b) => a - b);
}

describe('a variable-frame-rate source', () => {
  it('is encoded at its full frame rate, with no frame of the source dropped', async () => {
    const input = await fixture('vfr');
    // the fixture is what it says: 105 frames over 4 s, at 30, then 15, then 30 a second
    const sourceTimes = await frameTimes(input);
    expect(sourceTimes.length).toBe(105);
    const source = await probeSource(input);
    expect(source.video!.frameRate).toEqual([30, 1]);
    expect(source.video!.variableFrameRate!.averageFps).toBeGreaterThan(25);
    expect(source.video!.variableFrameRate!.averageFps).toBeLessThan(27.5);

    const out = join(root, 'out');
    const summary = await packageVod({
      input,
      outDir: out,
      assetId: 'phone',
      ladder: 'small',
      segmentDuration: 2,
      partDuration: 0.5,
    });
    expect(summary.renditions.filter((r) => r.kind === 'video').map((r) => r.id)).toEqual(['360p', '240p']);
    // FRAME-RATE, segment durations and key frames checked against 30 fps for every rung
    const reports = await verifyPackage(join(out, 'phone'), {
      segmentDuration: 2,
      partDuration: 0.5,
      fps: 30,
      hasAudio: false,
      durationSec: 4,
    });
    expect(readFileSync(join(out, 'phone', 'manifest.mpd'), 'utf8')).toMatch(/frameRate="30"/);
    for (const r of reports) expect(r.frames, r.id).toBe(120);

    // a frame every 1/30 s throughout: the 30-a-second stretches kept every source frame
    const dir = join(out, 'phone', 'v1', '360p');
    const whole = join(root, 'phone-360p.mp4');
    writeFileSync(whole, Buffer.concat(['init.mp4', 'seg-1.m4s', 'seg-2.m4s'].map((f) => readFileSync(join(dir, f)))));
    const times = await frameTimes(whole);
    const steps = times.slice(1).map((t, i) => t - times[i]);
    expect(Math.max(...steps)).toBeLessThan(1 / 30 + 0.002);
    expect(Math.min(...steps)).toBeGreaterThan(1 / 30 - 0.002);
  });
});
