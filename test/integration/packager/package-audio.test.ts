/**
 * Several audio languages through the real packager (ffmpeg) and origin: a source with two
 * tagged audio tracks (eng 440 Hz, fre 880 Hz) plus `--audio de=<3 s dub at 660 Hz>` and two
 * subtitle tracks. HLS: one EXT-X-MEDIA per language in one group (exactly one DEFAULT=YES), and
 * the whole multivariant playlist passes the rendition rules (RFC 8216bis 4.4.6 + Apple). DASH:
 * one audio AdaptationSet per language with lang, Label and Role main/alternate, schema-valid.
 * Each rendition carries its own track (decoded tone), aligned to the video (same segments);
 * the short dub is padded with silence. Bad input: one line, nothing published.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixture } from '../../../media-fixtures/generate.js';
import { serveVod, type VodOrigin } from './vod-origin.js';
import { packageVod, type VodSummary } from '../../../packager/vod-job.js';
import { validateMpd } from '../../support/xml-validate.js';
import { checkRenditionRules } from '../../support/hls-rendition-rules.js';
import { decodedTone } from '../../support/decoded-tone.js';
import { expectEachRefused, runCli } from './cli-run.js';

const root = mkdtempSync(join(tmpdir(), 'se-pkg-audio-'));
const out = join(root, 'out');
let origin: VodOrigin;
let summary: VodSummary;

const get = (path: string) => origin.get(path);

/** Decodes init + one segment of an audio rendition; returns its tone (zero crossings / 2 / s) and RMS level. */
function tone(rendition: string, n: number): Promise<{ hz: number; rms: number }> {
  const dir = join(out, 'movie', 'v1', rendition);
  const file = join(root, `${rendition}-${n}.mp4`);
  writeFileSync(file, Buffer.concat([readFileSync(join(dir, 'init.mp4')), readFileSync(join(dir, `seg-${n}.m4s`))]));
  return decodedTone(file);
}

beforeAll(async () => {
  writeFileSync(join(root, 'en.vtt'), 'WEBVTT\n\n00:00:00.500 --> 00:00:01.500\nHello\n');
  writeFileSync(join(root, 'fr.vtt'), 'WEBVTT\n\n00:00:00.500 --> 00:00:01.500\nBonjour\n');
  summary = await packageVod({
    input: await fixture('bilingual'),
    outDir: out,
    assetId: 'movie',
    ladder: 'small',
    segmentDuration: 2,
    audio: [{ language: 'de', file: await fixture('dubShort') }],
    subtitles: [
      { language: 'en', file: join(root, 'en.vtt') },
      { language: 'fr', file: join(root, 'fr.vtt') },
    ],
  });
  origin = await serveVod(out);
}, 120_000);

afterAll(async () => {
  await origin?.close();
  rmSync(root, { recursive: true, force: true });
});

describe('VOD with several audio languages', () => {
  it('HLS: one EXT-X-MEDIA per language, English the one DEFAULT; the rendition rules pass with two subtitle tracks', async () => {
    const entry = (await get('/vod/movie/master.m3u8')).text;
    expect(entry.split('\n').filter((l) => l.startsWith('#EXT-X-MEDIA:TYPE=AUDIO'))).toEqual([
      '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio",NAME="English",LANGUAGE="en",DEFAULT=YES,AUTOSELECT=YES,CHANNELS="2",URI="v1/audio-en/index.m3u8"',
      '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio",NAME="French",LANGUAGE="fr",DEFAULT=NO,AUTOSELECT=YES,CHANNELS="2",URI="v1/audio-fr/index.m3u8"',
      '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio",NAME="German",LANGUAGE="de",DEFAULT=NO,AUTOSELECT=YES,CHANNELS="2",URI="v1/audio-de/index.m3u8"',
    ]);
    expect(entry.split('\n').filter((l) => l.startsWith('#EXT-X-MEDIA:TYPE=SUBTITLES'))).toHaveLength(2);
    expect(checkRenditionRules(entry)).toEqual([]);
    const versioned = (await get('/vod/movie/v1/master.m3u8')).text;
    expect(checkRenditionRules(versioned)).toEqual([]);
    expect(entry).toMatch(/#EXT-X-STREAM-INF:.*CODECS="avc1\.[0-9a-f]+,mp4a\.40\.2".*AUDIO="audio",SUBTITLES="subs"/);

    // every language is cut on the video's segment grid
    const extinf = (t: string) => t.split('\n').filter((l) => l.startsWith('#EXTINF'));
    const video = extinf((await get('/vod/movie/v1/240p/index.m3u8')).text);
    expect(video).toHaveLength(4);
    for (const id of ['audio-en', 'audio-fr', 'audio-de']) {
      const pl = await get(`/vod/movie/v1/${id}/index.m3u8`);
      expect(pl.status).toBe(200);
      expect(extinf(pl.text)).toHaveLength(video.length);
      expect(pl.text).toContain('#EXT-X-ENDLIST');
    }
  });

  it('DASH: one audio AdaptationSet per language with lang, Label and Role (main for English); schema-valid', async () => {
    const mpd = (await get('/vod/movie/manifest.mpd')).text;
    const v = await validateMpd(mpd);
    expect(v.errors).toBe('');
    expect(v.valid).toBe(true);
    const sets = [...mpd.matchAll(/<AdaptationSet[^>]*contentType="audio"[^>]*>([\s\S]*?)<\/AdaptationSet>/g)];
    const described = sets.map((s) => ({
      lang: /lang="([^"]+)"/.exec(s[0])?.[1],
      label: /<Label>([^<]+)<\/Label>/.exec(s[1])?.[1],
      role: /<Role schemeIdUri="urn:mpeg:dash:role:2011" value="([^"]+)"\/>/.exec(s[1])?.[1],
      rep: /<Representation id="([^"]+)"/.exec(s[1])?.[1],
    }));
    expect(described).toEqual([
      { lang: 'en', label: 'English', role: 'main', rep: 'audio-en' },
      { lang: 'fr', label: 'French', role: 'alternate', rep: 'audio-fr' },
      { lang: 'de', label: 'German', role: 'alternate', rep: 'audio-de' },
    ]);
  });

  it('each rendition carries its own track: English 440 Hz, French 880 Hz, German 660 Hz, padded with silence after its 3 s', async () => {
    const en = await tone('audio-en', 1);
    const fr = await tone('audio-fr', 1);
    const de = await tone('audio-de', 1);
    expect(Math.abs(en.hz - 440)).toBeLessThan(15);
    expect(Math.abs(fr.hz - 880)).toBeLessThan(25);
    expect(Math.abs(de.hz - 660)).toBeLessThan(20);
    const deTail = await tone('audio-de', 4); // 6–8 s: past the dub's end
    expect(deTail.rms).toBeLessThan(1);
    expect(en.rms).toBeGreaterThan(1000);
    expect(summary.audioNotes).toEqual([
      expect.stringMatching(
        /^audio-de \(--audio de=.*dub-660hz-3s\.m4a\) is 5\.00 s shorter than the video: padded with silence$/,
      ),
    ]);
    expect(summary.renditions.filter((r) => r.kind === 'audio').map((r) => [r.id, r.language, r.segments])).toEqual([
      ['audio-en', 'en', 4],
      ['audio-fr', 'fr', 4],
      ['audio-de', 'de', 4],
    ]);
  });

  it('a longer --audio file is trimmed to the video (and the CLI says so)', async () => {
    const dir = join(root, 'trim');
    const r = await runCli([
      'package',
      await fixture('small'),
      '--out',
      dir,
      '--id',
      'm',
      '--ladder',
      'small',
      '--audio',
      `fr=${await fixture('bilingual')}`,
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/audio: audio-fr \(--audio fr=.*\) is 4\.00 s longer than the video: trimmed to 4\.00 s/);
    const master = readFileSync(join(dir, 'm', 'master.m3u8'), 'utf8');
    expect(master).toContain('NAME="French",LANGUAGE="fr",DEFAULT=NO');
    expect(master).toMatch(/NAME="Audio 1",DEFAULT=YES/); // the source's untagged track stays the default
    expect(checkRenditionRules(master)).toEqual([]);
  }, 120_000);

  it('bad audio input: one clear line, nothing published', async () => {
    const input = await fixture('bilingual');
    const dub = await fixture('dubShort');
    const cases: [string[], RegExp][] = [
      [['english=' + dub], /--audio english=.*: "english" is not a BCP 47 language tag/],
      [['EN=' + dub], /two audio tracks with language "en" and name "English" \(source audio 1 and --audio EN=/],
      [['de=' + (await fixture('videoOnly'))], /--audio de=.*video-only\.mp4: .*video-only\.mp4 has no audio stream/],
      [['de=' + join(root, 'missing.m4a')], /--audio de=.*: file not found/],
      [['de'], /--audio "de": expected <lang>=<file>/],
    ];
    await expectEachRefused(root, input, '--audio', cases);
  }, 120_000);
});
