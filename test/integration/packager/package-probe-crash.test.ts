/**
 * When ffprobe crashes on a source (the static ffprobe from npm, used when the machine has no
 * ffmpeg of its own, does on every MPEG-TS file: a broadcast recording's usual container), the
 * packager has ffmpeg copy the source's audio and video into Matroska and probes that; the encode
 * still reads the source. Before, such a source was refused as "not a media file ffprobe can
 * read". The crash is that of a stand-in ffprobe that kills itself with SIGSEGV on any .ts path
 * and hands every other call to the real one (the npm build's own crash shows the same way:
 * STREAMEDGE_BUNDLED_FFMPEG=1 runs this file against it for real).
 * Real ffmpeg, ffprobe and our segmenter.
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fixture } from '../../../media-fixtures/generate.js';
import { probeAudioFile, probeSource } from '../../../packager/probe.js';
import { packageVod } from '../../../packager/vod-job.js';
import { ffmpegPath, locateFfprobe } from '../../../src/media/ffmpeg-binaries.js';
import { run, verifyPackage } from './verify-package.js';

const root = mkdtempSync(join(tmpdir(), 'se-pkg-probe-crash-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

// the stand-in, in place before this file's first ffprobe call (the path is remembered from then on)
const realFfprobe = locateFfprobe();
const crashing = join(root, 'ffprobe-crashing-on-ts');
writeFileSync(
  crashing,
  `#!/bin/sh\nfor a in "$@"; do case "$a" in *.ts) kill -SEGV $$ ;; esac; done\nexec '${realFfprobe}' "$@"\n`,
);
chmodSync(crashing, 0o755);
process.env.FFPROBE_PATH = crashing;

/** The fixture remuxed into MPEG-TS (audio and video copied). */
async function toTs(file: string, name: string): Promise<string> {
  const ts = join(root, name);
  const made = await run(ffmpegPath(), ['-v', 'error', '-i', file, '-map', '0', '-c', 'copy', ts]);
  expect(made.code, made.stderr).toBe(0);
  return ts;
}

describe('a source ffprobe crashes on', () => {
  it('is probed through a Matroska copy and packaged from the source itself', async () => {
    // a two-language recording: the tracks and their language tags come through the copy
    const bilingual = await toTs(await fixture('bilingual'), 'bilingual.ts');
    // the stand-in does crash on it
    const direct = await run(crashing, ['-v', 'error', '-show_streams', bilingual]);
    expect(direct.code).not.toBe(0);
    const source = await probeSource(bilingual);
    expect(source.formatName).toContain('ffprobe crashed on the source');
    expect(source.video).toMatchObject({ width: 426, height: 240, frameRate: [30, 1] });
    expect(source.durationSec).toBeGreaterThan(7.5);
    expect(source.durationSec).toBeLessThan(8.5);
    expect(source.audioTracks?.map((a) => a.language)).toEqual(['eng', 'fre']);
    expect((await probeAudioFile(bilingual, '--audio de')).map((a) => a.language)).toEqual(['eng', 'fre']);

    // (video alone: the A/V start offset a TS remux of an AAC source has adds a one-frame tail
    // GOP, folded into the last segment, which verifyPackage's I-frame count does not expect)
    const ts = await toTs(await fixture('videoOnly'), 'recording.ts');
    const out = join(root, 'out');
    const summary = await packageVod({
      input: ts,
      outDir: out,
      assetId: 'rec',
      ladder: 'small',
      segmentDuration: 2,
      partDuration: 0.5,
    });
    expect(summary.renditions.map((r) => r.id)).toEqual(['360p', '240p']);
    const reports = await verifyPackage(join(out, 'rec'), {
      segmentDuration: 2,
      partDuration: 0.5,
      fps: 30,
      hasAudio: false,
      durationSec: 4,
    });
    for (const r of reports.filter((x) => x.kind === 'video')) expect(r.frames, r.id).toBe(120);
  });
});
