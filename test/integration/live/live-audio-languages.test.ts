/**
 * A second audio language on a live channel: the lavfi test signal with `audioLanguages: ['en',
 * 'fr']` (one sine each: 440 and 660 Hz) is encoded by one live ffmpeg that maps both tones. The
 * live HLS multivariant playlist lists both as EXT-X-MEDIA renditions (English the DEFAULT) and
 * passes the rendition rules; each language has its own LL-HLS playlist with parts and preload
 * hints, and every hint on both audio renditions comes true; the live MPD has one audio
 * AdaptationSet per language (lang, Role main/alternate) and is schema-valid; the French
 * segments carry the French tone.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateMpd } from '../../support/xml-validate.js';
import { checkRenditionRules } from '../../support/hls-rendition-rules.js';
import { type LiveOrigin, startTestChannel, type TestChannel, toneOf } from './live-helpers.js';
import { auditHints } from './hint-audit.js';

const AUDIT_MS = 20_000;
let ch: TestChannel;
let dir: string;
let o: LiveOrigin;

beforeAll(async () => {
  ch = await startTestChannel('se-live-langs-', { audioLanguages: ['en', 'fr'] }, [
    ['180p', 1],
    ['audio-en', 1],
    ['audio-fr', 1],
  ]);
  ({ dir, o } = ch);
}, 60_000);

afterAll(async () => {
  await ch?.close();
});

describe('live channel with two audio languages', () => {
  it('HLS: both languages are EXT-X-MEDIA renditions (English DEFAULT), each an LL-HLS playlist with parts and a hint', async () => {
    const master = (await o.get('/live/ch/master.m3u8')).text;
    expect(master.split('\n').filter((l) => l.startsWith('#EXT-X-MEDIA:TYPE=AUDIO'))).toEqual([
      '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio",NAME="English",LANGUAGE="en",DEFAULT=YES,AUTOSELECT=YES,CHANNELS="2",URI="audio-en/index.m3u8"',
      '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio",NAME="French",LANGUAGE="fr",DEFAULT=NO,AUTOSELECT=YES,CHANNELS="2",URI="audio-fr/index.m3u8"',
    ]);
    expect(checkRenditionRules(master)).toEqual([]);
    for (const id of ['audio-en', 'audio-fr']) {
      const pl = (await o.get(`/live/ch/${id}/index.m3u8`)).text;
      expect(pl).toContain('#EXT-X-PART:');
      expect(pl).toMatch(/#EXT-X-PRELOAD-HINT:TYPE=PART,URI="seg-\d+\.\d+\.m4s"/);
    }
  });

  it('DASH: the live MPD has one audio AdaptationSet per language with Role main/alternate and is schema-valid', async () => {
    const mpd = (await o.get('/live/ch/manifest.mpd')).text;
    const v = await validateMpd(mpd);
    expect(v.errors).toBe('');
    expect(v.valid).toBe(true);
    const sets = [...mpd.matchAll(/<AdaptationSet[^>]*contentType="audio"[^>]*>([\s\S]*?)<\/AdaptationSet>/g)];
    expect(
      sets.map((s) => [
        /lang="([^"]+)"/.exec(s[0])?.[1],
        /<Role schemeIdUri="urn:mpeg:dash:role:2011" value="([^"]+)"\/>/.exec(s[1])?.[1],
      ]),
    ).toEqual([
      ['en', 'main'],
      ['fr', 'alternate'],
    ]);
  });

  it('each language carries its own tone (English 440 Hz, French 660 Hz)', async () => {
    const pl = (await o.get('/live/ch/audio-fr/index.m3u8')).text;
    const n = Number(/seg-(\d+)\.m4s\s*$/m.exec(pl)?.[1]);
    expect(n).toBeGreaterThanOrEqual(0);
    expect(Math.abs((await toneOf(o, dir, 'ch', 'audio-en', n)) - 440)).toBeLessThan(15);
    expect(Math.abs((await toneOf(o, dir, 'ch', 'audio-fr', n)) - 660)).toBeLessThan(20);
  });

  it(
    'every preload hint on both audio renditions comes true',
    async () => {
      const audits = await Promise.all([
        auditHints(o.base, 'ch', 'audio-en', AUDIT_MS),
        auditHints(o.base, 'ch', 'audio-fr', AUDIT_MS),
      ]);
      for (const a of audits) {
        expect(a.notFound, `${a.rendition}: hinted parts that 404ed`).toEqual([]);
        expect(a.otherFailures, a.rendition).toEqual([]);
        expect(a.hints).toBeGreaterThan(AUDIT_MS / 1000);
        expect(a.kept).toBe(a.hints);
      }
    },
    AUDIT_MS + 30_000,
  );
});
