/**
 * An HDR10 source (PQ transfer, BT.2020) packages into SDR renditions that say so: tone-mapped to
 * BT.709 before scaling, with BT.709 colour tags in the H.264 stream, matching the VIDEO-RANGE=SDR
 * the playlists list. Before, the source's PQ/BT.2020 tags came out on 8-bit SDR pictures.
 * Real ffprobe + ffmpeg + our segmenter.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fixture } from '../../../media-fixtures/generate.js';
import { packageVod } from '../../../packager/vod-job.js';
import { probeSource } from '../../../packager/probe.js';
import { ffprobePath } from '../../../src/media/ffmpeg-binaries.js';
import { run } from './verify-package.js';

const root = mkdtempSync(join(tmpdir(), 'se-pkg-hdr-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('an HDR10 source', () => {
  it('packages into SDR renditions tagged BT.709, as the playlists say', async () => {
    const input = await fixture('hdrPq');
    expect((await probeSource(input)).video).toMatchObject({ hdr: 'pq' });

    const out = join(root, 'out');
    await packageVod({ input, outDir: out, assetId: 'hdr', ladder: 'small', segmentDuration: 2, partDuration: 0.5 });
    expect(readFileSync(join(out, 'hdr', 'master.m3u8'), 'utf8')).toContain('VIDEO-RANGE=SDR');
    for (const rung of ['360p', '240p']) {
      const dir = join(out, 'hdr', 'v1', rung);
      const whole = join(root, `hdr-${rung}.mp4`);
      writeFileSync(whole, Buffer.concat(['init.mp4', 'seg-1.m4s'].map((f) => readFileSync(join(dir, f)))));
      const r = await run(ffprobePath(), [
        ...['-v', 'error', '-select_streams', 'v:0'],
        ...['-show_entries', 'stream=pix_fmt,color_transfer,color_primaries,color_space', '-of', 'json', whole],
      ]);
      const s = (JSON.parse(r.stdout) as { streams: Record<string, string>[] }).streams[0];
      expect(s, rung).toMatchObject({
        pix_fmt: 'yuv420p',
        color_transfer: 'bt709',
        color_primaries: 'bt709',
        color_space: 'bt709',
      });
    }
  });
});
