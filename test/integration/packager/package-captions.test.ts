/**
 * A source with CEA-608 closed captions in its H.264 (the `captioned` fixture: A/53 SEI, as
 * broadcast sources carry them) packages into renditions that still carry them, and manifests that
 * say so: HLS CLOSED-CAPTIONS (INSTREAM-ID CC1), DASH the 608 Accessibility descriptor. The proof
 * that they survived is ffmpeg's own caption decoder reading "HELLO" back out of each rendition.
 * A source without captions is not probed as having them. The channels announced are the ones the
 * video carries (read as it is segmented: a CC3-only source announces CC3), or what `--captions`
 * says (language and name; `none`). Real ffprobe, ffmpeg, our segmenter and the CLI.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CAPTION_708_TEXT, CAPTION_TEXT, fixture } from '../../../media-fixtures/generate.js';
import { packageVod } from '../../../packager/vod-job.js';
import { probeSource } from '../../../packager/probe.js';
import { ffmpegPath } from '../../../src/media/ffmpeg-binaries.js';
import { validateMpd } from '../../support/xml-validate.js';
import { captionTrackInfo, fragmentCaptions } from '../../../src/captions/fragment-captions.js';
import { Cea608Decoder, type Cea608Cue } from '../../../src/captions/cea608.js';
import { CaptionDecoder, type CaptionCue } from '../../../src/captions/caption-decoder.js';
import { run } from './verify-package.js';
import { runCli } from './cli-run.js';

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
    for (const p of fragmentCaptions(readFileSync(join(dir, s)), info!).pictures) decoder.feed(p.time, p.triplets);
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

  it('announces the channel the video carries: CC3 alone for a source captioned on field 2', async () => {
    const out = join(root, 'out-cc3');
    await packageVod({
      input: await fixture('captionedCc3'),
      outDir: out,
      assetId: 'cc3',
      ladder: 'small',
      segmentDuration: 2,
    });
    const master = readFileSync(join(out, 'cc3', 'master.m3u8'), 'utf8');
    expect(master.split('\n').filter((l) => l.includes('TYPE=CLOSED-CAPTIONS'))).toEqual([
      '#EXT-X-MEDIA:TYPE=CLOSED-CAPTIONS,GROUP-ID="cc",NAME="CC3",DEFAULT=NO,AUTOSELECT=YES,INSTREAM-ID="CC3"',
    ]);
    expect(readFileSync(join(out, 'cc3', 'manifest.mpd'), 'utf8')).toContain(
      '<Accessibility schemeIdUri="urn:scte:dash:cc:cea-608:2015" value="CC3"/>',
    );
    const ours = ourCues(join(out, 'cc3', 'v1', '360p'), ['seg-1.m4s', 'seg-2.m4s']);
    expect(ours.map((c) => [c.cue.channel, c.cue.text])).toEqual([[3, CAPTION_TEXT]]);
  });

  it('--captions names the language and the name, --captions-webvtt adds the captions as WebVTT; --captions none announces nothing', async () => {
    const out = join(root, 'out-named');
    const input = await fixture('captioned');
    const r = await runCli([
      'package',
      input,
      '--out',
      out,
      '--id',
      'named',
      '--ladder',
      'small',
      '--captions',
      'CC1=en:English',
      '--captions-webvtt',
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('captions: CEA-608 CC1 en "English" announced as --captions says');
    expect(r.stdout).toContain('captions: CC1 also as WebVTT subtitles (cc1/, 1 cue)');
    const named = readFileSync(join(out, 'named', 'master.m3u8'), 'utf8');
    expect(named).toContain(
      '#EXT-X-MEDIA:TYPE=CLOSED-CAPTIONS,GROUP-ID="cc",NAME="English",LANGUAGE="en",DEFAULT=NO,AUTOSELECT=YES,INSTREAM-ID="CC1"',
    );
    // the same caption as a subtitle track marked as captions (SDH), its cue at the caption's times and place
    expect(named).toContain(
      '#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="subs",NAME="English (CC)",LANGUAGE="en",DEFAULT=NO,AUTOSELECT=YES,FORCED=NO,' +
        'CHARACTERISTICS="public.accessibility.transcribes-spoken-dialog,public.accessibility.describes-music-and-sound",URI="v1/cc1/index.m3u8"',
    );
    expect(readFileSync(join(out, 'named', 'v1', 'cc1', 'subtitles.vtt'), 'utf8')).toContain(
      `00:00:00.233 --> 00:00:02.000 line:84.67% position:10.00% align:start\n${CAPTION_TEXT}`,
    );
    const mpd = readFileSync(join(out, 'named', 'manifest.mpd'), 'utf8');
    expect(mpd).toContain('<Accessibility schemeIdUri="urn:scte:dash:cc:cea-608:2015" value="CC1=en"/>');
    expect(mpd).toMatch(
      /<Label>English \(CC\)<\/Label>\s*<Role schemeIdUri="urn:mpeg:dash:role:2011" value="caption"\/>/,
    );
    expect((await validateMpd(mpd)).errors).toBe('');

    await packageVod({ input, outDir: out, assetId: 'silent', ladder: 'small', segmentDuration: 2, captions: 'none' });
    const master = readFileSync(join(out, 'silent', 'master.m3u8'), 'utf8');
    expect(master).not.toContain('TYPE=CLOSED-CAPTIONS');
    expect(master).toContain('CLOSED-CAPTIONS=NONE');

    const bad = await runCli(['package', input, '--out', out, '--id', 'bad', '--captions', 'CC5=en']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/--captions "CC5=en": expected none, or CC1–CC4/);
    const nothing = await runCli([
      'package',
      input,
      '--out',
      out,
      '--id',
      'bad',
      '--captions',
      'none',
      '--captions-webvtt',
    ]);
    expect(nothing.code).not.toBe(0);
    expect(nothing.stderr).toMatch(
      /--captions-webvtt converts the video's CEA-608 captions: with --captions none there are none/,
    );
  });

  it('CEA-708 beside the 608, as ATSC sources carry both: announced as SERVICE1 (HLS INSTREAM-ID, DASH 708 descriptor), carried through the encode, written as WebVTT', async () => {
    const out = join(root, 'out-708');
    const input = await fixture('captioned708');
    const r = await runCli(['package', input, '--out', out, '--id', 'atsc', '--ladder', 'small', '--captions-webvtt']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('captions: CEA-608/708 CC1, SERVICE1 in the source video, kept in every rendition');
    expect(r.stdout).toContain('captions: SERVICE1 also as WebVTT subtitles (service1/, 1 cue)');
    const master = readFileSync(join(out, 'atsc', 'master.m3u8'), 'utf8');
    expect(master.split('\n').filter((l) => l.includes('TYPE=CLOSED-CAPTIONS'))).toEqual([
      '#EXT-X-MEDIA:TYPE=CLOSED-CAPTIONS,GROUP-ID="cc",NAME="CC1",DEFAULT=NO,AUTOSELECT=YES,INSTREAM-ID="CC1"',
      '#EXT-X-MEDIA:TYPE=CLOSED-CAPTIONS,GROUP-ID="cc",NAME="SERVICE1",DEFAULT=NO,AUTOSELECT=YES,INSTREAM-ID="SERVICE1"',
    ]);
    const mpd = readFileSync(join(out, 'atsc', 'manifest.mpd'), 'utf8');
    expect(mpd).toContain('<Accessibility schemeIdUri="urn:scte:dash:cc:cea-608:2015" value="CC1"/>');
    expect(mpd).toContain('<Accessibility schemeIdUri="urn:scte:dash:cc:cea-708:2015" value="1=lang:und"/>');
    expect((await validateMpd(mpd)).errors).toBe('');
    // ffmpeg kept the DTVCC packets in every rendition: the 708 caption decodes from the packaged fragments
    for (const rung of ['360p', '240p']) {
      const dir = join(out, 'atsc', 'v1', rung);
      const info = captionTrackInfo(readFileSync(join(dir, 'init.mp4')))!;
      const cues: { cue: CaptionCue; end?: number }[] = [];
      const decoder = new CaptionDecoder({
        started: (cue) => cues.push({ cue }),
        ended: (cue, end) => (cues.find((c) => c.cue === cue)!.end = end),
      });
      const segs = readdirSync(dir)
        .filter((f) => /^seg-\d+\.m4s$/.test(f))
        .sort((a, b) => Number(/\d+/.exec(a)![0]) - Number(/\d+/.exec(b)![0]));
      expect(segs.length, rung).toBeGreaterThan(0);
      for (const seg of segs)
        for (const p of fragmentCaptions(readFileSync(join(dir, seg)), info).pictures) decoder.feed(p.time, p.triplets);
      expect(
        cues.map((c) => [c.cue.service, c.cue.text]),
        rung,
      ).toEqual([
        ['CC1', CAPTION_TEXT],
        ['SERVICE1', CAPTION_708_TEXT],
      ]);
      const svc = cues[1];
      expect(svc.cue.start, rung).toBeCloseTo(7 / 30, 2);
      expect(svc.end, rung).toBeCloseTo(3, 1);
    }
    expect(readFileSync(join(out, 'atsc', 'v1', 'service1', 'subtitles.vtt'), 'utf8')).toMatch(
      new RegExp(`00:00:00\\.233 --> 00:00:03\\.000 line:[\\d.]+% position:[\\d.]+% align:start\\n${CAPTION_708_TEXT}`),
    );

    // named by --captions: the 708 descriptor carries the language
    const named = join(root, 'out-708-named');
    const n = await runCli([
      'package',
      input,
      '--out',
      named,
      '--id',
      'n',
      '--ladder',
      'small',
      '--captions',
      'CC1=en,SERVICE1=es',
    ]);
    expect(n.code, n.stderr).toBe(0);
    expect(n.stdout).toContain(
      'captions: CEA-608/708 CC1 en "English", SERVICE1 es "Spanish" announced as --captions says',
    );
    const namedMpd = readFileSync(join(named, 'n', 'manifest.mpd'), 'utf8');
    expect(namedMpd).toContain('<Accessibility schemeIdUri="urn:scte:dash:cc:cea-708:2015" value="1=lang:es"/>');
    expect(readFileSync(join(named, 'n', 'master.m3u8'), 'utf8')).toContain(
      '#EXT-X-MEDIA:TYPE=CLOSED-CAPTIONS,GROUP-ID="cc",NAME="Spanish",LANGUAGE="es",DEFAULT=NO,AUTOSELECT=YES,INSTREAM-ID="SERVICE1"',
    );
  });
});
