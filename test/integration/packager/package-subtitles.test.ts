/**
 * Subtitles through the real packager (ffmpeg) and origin: `--subtitles en=<vtt>` and
 * `pt-BR=<srt>` become HLS WebVTT renditions (EXT-X-MEDIA TYPE=SUBTITLES, segmented on the video's
 * boundaries, X-TIMESTAMP-MAP) and DASH text AdaptationSets (lang, Role, Label; the whole WebVTT
 * file), valid against the DASH schema. Bad subtitle input costs one line and publishes nothing.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixture } from '../../../media-fixtures/generate.js';
import { serveVod, type VodOrigin } from './vod-origin.js';
import { packageVod } from '../../../packager/vod-job.js';
import { validateMpd } from '../../support/xml-validate.js';
import { expectEachRefused } from './cli-run.js';
import { parseM3u8 } from './verify-package.js';

const root = mkdtempSync(join(tmpdir(), 'se-pkg-subs-'));
const out = join(root, 'out');
let origin: VodOrigin;

const EN = 'WEBVTT\n\n00:00:00.500 --> 00:00:01.500\nHello\n\n00:00:01.800 --> 00:00:02.600\nAcross the boundary\n';
const PT = '1\n00:00:03,000 --> 00:00:03,900\nOlá\n';

const get = (path: string) => origin.get(path);

beforeAll(async () => {
  writeFileSync(join(root, 'en.vtt'), EN);
  writeFileSync(join(root, 'pt.srt'), PT);
  await packageVod({
    input: await fixture('small'),
    outDir: out,
    assetId: 'movie',
    ladder: 'small',
    segmentDuration: 2,
    subtitles: [
      { language: 'en', file: join(root, 'en.vtt') },
      { language: 'pt-br', file: join(root, 'pt.srt') },
    ],
  });
  origin = await serveVod(out);
}, 120_000);

afterAll(async () => {
  await origin?.close();
  rmSync(root, { recursive: true, force: true });
});

describe('VOD subtitles', () => {
  it('HLS: two WebVTT renditions in one group, segmented on the video boundaries with X-TIMESTAMP-MAP', async () => {
    const master = await get('/vod/movie/master.m3u8');
    expect(master.status).toBe(200);
    const media = master.text.split('\n').filter((l) => l.startsWith('#EXT-X-MEDIA:TYPE=SUBTITLES'));
    expect(media).toEqual([
      '#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="subs",NAME="English",LANGUAGE="en",DEFAULT=NO,AUTOSELECT=YES,FORCED=NO,URI="v1/subs-en/index.m3u8"',
      '#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="subs",NAME="Brazilian Portuguese",LANGUAGE="pt-BR",DEFAULT=NO,AUTOSELECT=YES,FORCED=NO,URI="v1/subs-pt-BR/index.m3u8"',
    ]);
    const parsed = parseM3u8(master.text) as unknown as { playlists: { attributes: Record<string, unknown> }[] };
    for (const v of parsed.playlists) expect(v.attributes['SUBTITLES']).toBe('subs');

    const video = await get('/vod/movie/v1/360p/index.m3u8');
    const en = await get('/vod/movie/v1/subs-en/index.m3u8');
    expect(en.status).toBe(200);
    const extinf = (t: string) => t.split('\n').filter((l) => l.startsWith('#EXTINF'));
    expect(extinf(en.text)).toEqual(extinf(video.text)); // same count and durations as the video
    expect(en.text).toContain('#EXT-X-ENDLIST');
    const seg1 = await get('/vod/movie/v1/subs-en/seg-1.vtt');
    const seg2 = await get('/vod/movie/v1/subs-en/seg-2.vtt');
    expect(seg1.headers['content-type']).toBe('text/vtt');
    expect(seg1.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    for (const s of [seg1, seg2]) expect(s.text).toMatch(/^WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:\d+,LOCAL:00:00:00\.000\n/);
    expect(seg1.text).toContain('Hello');
    expect(seg1.text).toContain('Across the boundary');
    expect(seg2.text).toContain('Across the boundary'); // a cue across a boundary is in both
    expect(seg2.text).not.toContain('Hello');
    const pt2 = await get('/vod/movie/v1/subs-pt-BR/seg-2.vtt');
    expect(pt2.text).toContain('00:00:03.000 --> 00:00:03.900\nOlá'); // converted from SRT
  });

  it('DASH: one text AdaptationSet per language (lang, Label, Role), WebVTT file; the MPD is schema-valid', async () => {
    const mpd = (await get('/vod/movie/manifest.mpd')).text;
    const v = await validateMpd(mpd);
    expect(v.errors).toBe('');
    expect(v.valid).toBe(true);
    const sets = [...mpd.matchAll(/<AdaptationSet[^>]*contentType="text"[^>]*>([\s\S]*?)<\/AdaptationSet>/g)];
    expect(sets).toHaveLength(2);
    expect(mpd).toMatch(/contentType="text" lang="en" mimeType="text\/vtt"/);
    expect(mpd).toMatch(/contentType="text" lang="pt-BR" mimeType="text\/vtt"/);
    for (const s of sets) expect(s[1]).toContain('<Role schemeIdUri="urn:mpeg:dash:role:2011" value="subtitle"/>');
    const file = await get('/vod/movie/v1/subs-en/subtitles.vtt');
    expect(file.status).toBe(200);
    expect(file.text).toContain('00:00:00.500 --> 00:00:01.500\nHello');
    expect(mpd).toContain('<BaseURL>subs-en/subtitles.vtt</BaseURL>');
  });

  it('bad subtitle input: one clear line, nothing published', async () => {
    const input = await fixture('small');
    const bad = (name: string, text: string): string => {
      const f = join(root, name);
      writeFileSync(f, text);
      return f;
    };
    const good = join(root, 'en.vtt');
    const cases: [string[], RegExp][] = [
      [
        ['en=' + bad('broken.vtt', 'WEBVTT\n\n00:00:01.000 --> 00:00:0x.000\nx\n')],
        /broken\.vtt:3: malformed cue timing/,
      ],
      [['english=' + good], /"english" is not a BCP 47 language tag/],
      [['en=' + good, 'EN=' + good], /two tracks with language "en" and name "English"/],
      [
        ['en=' + bad('late.vtt', 'WEBVTT\n\n00:00:03.000 --> 00:00:09.000\nlate\n')],
        /late\.vtt: a cue ends at 9\.000 s, after the video/,
      ],
      [['en=' + bad('subs.txt', 'x')], /use a \.vtt \(WebVTT\) or \.srt \(SubRip\) file/],
    ];
    await expectEachRefused(root, input, '--subtitles', cases);
  }, 120_000);
});
