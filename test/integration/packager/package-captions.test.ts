/**
 * A source with CEA-608 closed captions in its H.264 (the `captioned` fixture: A/53 SEI, as
 * broadcast sources carry them) packages into renditions that still carry them, and manifests that
 * say so: HLS CLOSED-CAPTIONS (INSTREAM-ID CC1), DASH the 608 Accessibility descriptor. The proof
 * that they survived is ffmpeg's own caption decoder reading "HELLO" back out of each rendition.
 * A source without captions is not probed as having them. Real ffprobe, ffmpeg and our segmenter.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CAPTION_TEXT, fixture } from '../../../media-fixtures/generate.js';
import { packageVod } from '../../../packager/vod-job.js';
import { probeSource } from '../../../packager/probe.js';
import { ffmpegPath } from '../../../src/media/ffmpeg-binaries.js';
import { validateMpd } from '../../support/xml-validate.js';
import { captionTrackInfo, fragmentCaptions } from '../../../src/captions/fragment-captions.js';
import { Cea608Decoder, type Cea608Cue } from '../../../src/captions/cea608.js';
import { run } from './verify-package.js';

const root = mkdtempSync(join(tmpdir(), 'se-pkg-captions-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** The cues our own reader (the one our player uses) decodes from a rendition's init and segments. */
function ourCues(dir: string, segments: string[]): { cue: Cea608Cue; end?: number }[] {
  const info = captionTrackInfo(readFileSync(join(dir, 'init.mp4')));
  expect(info).toBeDefined();
  const cues: { cue: Cea608Cue; end?: number }[] = [];
  const decoder = new Cea608Decoder({
    started: (cue) => cues.push({ cue }),
    ended: (cue, end) => (cues.find((c) => c.cue === cue)!.end = end),
  });
  for (const s of segments)
    for (const p of fragmentCaptions(readFileSync(join(dir, s)), info!)) decoder.feed(p.time, p.triplets);
  return cues;
}

/** The captions ffmpeg decodes from `file`'s video (CEA-608 → SubRip). */
async function captionsOf(file: string): Promise<string> {
  const srt = `${file}.srt`;
  const r = await run(ffmpegPath(), [
    ...['-v', 'error', '-y', '-f', 'lavfi', '-i', `movie=${file}[out0+subcc]`],
    ...['-map', '0:1', srt],
  ]);
  expect(r.code, r.stderr).toBe(0);
  return readFileSync(srt, 'utf8');
}

describe('closed captions', () => {
  it('are probed in a source that has them, and not in one that has none', async () => {
    expect((await probeSource(await fixture('captioned'))).video?.closedCaptions).toBe(true);
    expect((await probeSource(await fixture('small'))).video?.closedCaptions).toBeUndefined();
  });

  it('survive into every rendition, which the master playlist and the MPD announce', async () => {
    const out = join(root, 'out');
    const input = await fixture('captioned');
    await packageVod({ input, outDir: out, assetId: 'cc', ladder: 'small', segmentDuration: 2, partDuration: 0.5 });
    const master = readFileSync(join(out, 'cc', 'master.m3u8'), 'utf8');
    expect(master).toContain(
      '#EXT-X-MEDIA:TYPE=CLOSED-CAPTIONS,GROUP-ID="cc",NAME="CC1",DEFAULT=NO,AUTOSELECT=YES,INSTREAM-ID="CC1"',
    );
    const variants = master.split('\n').filter((l) => l.startsWith('#EXT-X-STREAM-INF:'));
    expect(variants).toHaveLength(2);
    for (const v of variants) expect(v).toContain('CLOSED-CAPTIONS="cc"');
    const mpd = readFileSync(join(out, 'cc', 'manifest.mpd'), 'utf8');
    expect(mpd).toContain('<Accessibility schemeIdUri="urn:scte:dash:cc:cea-608:2015" value="CC1"/>');
    expect((await validateMpd(mpd)).errors).toBe('');

    for (const rung of ['360p', '240p']) {
      const dir = join(out, 'cc', 'v1', rung);
      const whole = join(root, `cc-${rung}.mp4`);
      writeFileSync(
        whole,
        Buffer.concat(['init.mp4', 'seg-1.m4s', 'seg-2.m4s'].map((f) => readFileSync(join(dir, f)))),
      );
      const srt = await captionsOf(whole);
      expect(srt, rung).toContain(CAPTION_TEXT);
      // shown from the 7th picture (0.233 s) until erased at 2 s, as in the source
      expect(srt, rung).toMatch(/00:00:00,2\d\d --> 00:00:0[12],\d{3}/);
      // and our reader, from the CMAF fragments, the same: one cue, CC1, row 15
      const ours = ourCues(dir, ['seg-1.m4s', 'seg-2.m4s']);
      expect(
        ours.map((c) => [c.cue.channel, c.cue.text, c.cue.row]),
        rung,
      ).toEqual([[1, CAPTION_TEXT, 15]]);
      expect(ours[0].cue.start, rung).toBeCloseTo(7 / 30, 2);
      expect(ours[0].end, rung).toBeCloseTo(2, 1);
    }
  });
});
