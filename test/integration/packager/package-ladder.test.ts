/**
 * Packages generated fixtures through packageVod (real ffprobe + ffmpeg + our segmenter) and
 * checks the published asset from the outside (verify-package.ts): manifests parse, every
 * rendition decodes, segments start with key frames, durations match, boundaries agree,
 * codec strings and BANDWIDTH are right.
 */
import { mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync, readdirSync, lstatSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fixture } from '../../../media-fixtures/generate.js';
import { packageVod } from '../../../packager/vod-job.js';
import { parseM3u8, verifyPackage } from './verify-package.js';

const root = mkdtempSync(join(tmpdir(), 'se-pkg-ladder-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const ladderFile = join(root, 'ladder.json');
writeFileSync(
  ladderFile,
  JSON.stringify({
    video: [
      { height: 270, bitrate: '400k' },
      { height: 180, bitrate: '200k', profile: 'baseline', id: 'low' },
    ],
    audio: { bitrate: '64k' },
  }),
);

describe('packageVod on generated sources', () => {
  it('small (360p30 + AAC, 2 s segments, 0.5 s parts): a complete, consistent HLS + DASH asset', async () => {
    const out = join(root, 'out-small');
    const progress: number[] = [];
    const summary = await packageVod({
      input: await fixture('small'),
      outDir: out,
      assetId: 'small',
      ladder: 'small',
      segmentDuration: 2,
      partDuration: 0.5,
      onProgress: (sec) => progress.push(sec),
    });
    expect(summary.renditions.map((r) => r.id)).toEqual(['360p', '240p', 'audio']);
    expect(summary.segmentCount).toBe(2);
    expect(summary.durationSec).toBeCloseTo(4, 1);
    expect(progress.length).toBeGreaterThan(0);
    expect(Math.max(...progress)).toBeGreaterThan(3);

    // Layout: <out>/small holds version v1, the entry points naming it and one link per rendition
    // (the unversioned URL forms); nothing else is left behind.
    expect(summary.version).toBe('v1');
    expect(readdirSync(out)).toEqual(['small']);
    expect(readdirSync(join(out, 'small')).sort()).toEqual([
      '.asset.json',
      '240p',
      '360p',
      'audio',
      'manifest.mpd',
      'master.m3u8',
      'v1',
    ]);
    expect(readlinkSync(join(out, 'small', '360p'))).toBe(join('v1', '360p'));
    expect(lstatSync(join(out, 'small', 'v1')).isDirectory()).toBe(true);

    const reports = await verifyPackage(join(out, 'small'), {
      segmentDuration: 2,
      partDuration: 0.5,
      fps: 30,
      hasAudio: true,
      durationSec: 4,
    });
    expect(reports.find((r) => r.id === '360p')!.frames).toBe(120);

    // Parts: 0.5 s fragments, so every 2 s segment of 30 fps video has 4 moof boxes.
    const seg = readFileSync(join(out, 'small', '360p', 'seg-1.m4s'));
    expect(countBoxes(seg, 'moof')).toBe(4);
  });

  it('sample (720p30) with a JSON ladder file: rungs, ids, profiles and audio bit rate from the file', async () => {
    const out = join(root, 'out-sample');
    const summary = await packageVod({
      input: await fixture('sample'),
      outDir: out,
      assetId: 'sample',
      ladder: ladderFile,
    });
    expect(summary.renditions.map((r) => [r.id, r.width, r.height])).toEqual([
      ['270p', 480, 270],
      ['low', 320, 180],
      ['audio', undefined, undefined],
    ]);
    expect(summary.segmentCount).toBe(2); // 8 s in 4 s segments (the defaults)
    const master = parseM3u8(readFileSync(join(out, 'sample', 'master.m3u8'), 'utf8'));
    expect(master.playlists?.[1].attributes.CODECS).toMatch(/^avc1\.42/); // baseline
    const audio = summary.renditions.find((r) => r.id === 'audio')!;
    expect(audio.averageBandwidth).toBeLessThan(90_000); // 64k AAC plus container overhead
    await verifyPackage(join(out, 'sample'), {
      segmentDuration: 4,
      partDuration: 1,
      fps: 30,
      hasAudio: true,
      durationSec: 8,
    });
  });

  it('fps25 (2 s segments, 1 s parts): 25 fps kept, 50 frames per segment', async () => {
    const out = join(root, 'out-25');
    await packageVod({
      input: await fixture('fps25'),
      outDir: out,
      assetId: 'a25',
      ladder: ladderFile,
      segmentDuration: 2,
      partDuration: 1,
    });
    const reports = await verifyPackage(join(out, 'a25'), {
      segmentDuration: 2,
      partDuration: 1,
      fps: 25,
      hasAudio: true,
      durationSec: 4,
    });
    expect(reports[0].frames).toBe(100);
    expect(reports[0].durations).toEqual([2, 2]);
  });
});

function countBoxes(buf: Buffer, type: string): number {
  let n = 0;
  for (let pos = 0; pos + 8 <= buf.length; pos += buf.readUInt32BE(pos)) {
    if (buf.toString('latin1', pos + 4, pos + 8) === type) n++;
    if (buf.readUInt32BE(pos) < 8) break;
  }
  return n;
}
