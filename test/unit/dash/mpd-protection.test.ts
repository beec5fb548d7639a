/**
 * The MPD of an encrypted presentation (src/dash/mpd.ts): ContentProtection in every video and
 * audio AdaptationSet, in the schema's place (before Role and SegmentTemplate), none in a text
 * set; the license URL relative (with a signed URL's query) or the absolute one configured.
 */
import { describe, expect, it } from 'vitest';
import { writeMpd } from '../../../src/dash/mpd.js';
import { writeMediaPlaylist } from '../../../src/hls/media-playlist.js';
import { writeMultivariantPlaylist } from '../../../src/hls/multivariant.js';
import { livePresentation, vodPresentation } from '../hls/fixture-presentations.js';
import { validateMpd } from '../../support/xml-validate.js';

const KID = '00112233445566778899aabbccddeeff';

describe('an encrypted presentation', () => {
  it('MPD: both descriptors in each media AdaptationSet, first among its children, schema-valid', async () => {
    const p = { ...vodPresentation(), protection: { scheme: 'cbcs' as const, kid: KID } };
    const xml = writeMpd(p);
    expect((await validateMpd(xml)).errors).toBe('');
    expect(xml).toMatch(
      /<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" xmlns:cenc="urn:mpeg:cenc:2013" xmlns:dashif="https:\/\/dashif.org\/CPS"/,
    );
    const sets = [...xml.matchAll(/<AdaptationSet[^>]*>\n(\s*<[^\n]*)/g)];
    expect(sets.length).toBeGreaterThan(1);
    for (const s of sets)
      expect(s[1].trim()).toMatch(
        /^<ContentProtection schemeIdUri="urn:mpeg:dash:mp4protection:2011" value="cbcs" cenc:default_KID="00112233-4455-6677-8899-aabbccddeeff"\/>$/,
      );
    expect(xml.match(/<dashif:Laurl Lic_type="EME-1.0">keys\/clearkey<\/dashif:Laurl>/g)).toHaveLength(sets.length);
  });

  it('MPD: a signed URL query goes on the relative license URL; an absolute one is written as given', () => {
    const p = { ...livePresentation(), protection: { scheme: 'cenc' as const, kid: KID } };
    expect(writeMpd(p, { query: 'token=abc' })).toContain('>keys/clearkey?token=abc</dashif:Laurl>');
    const abs = { ...p, protection: { ...p.protection, licenseUrl: 'https://keys.example/lic?asset=1' } };
    const xml = writeMpd(abs, { query: 'token=abc' });
    expect(xml).toContain('>https://keys.example/lic?asset=1</dashif:Laurl>');
    expect(xml).toContain('value="cenc"');
  });

  it('HLS: SESSION-KEY in the multivariant playlist (version 5), KEY before the map with the query', () => {
    const p = { ...vodPresentation(), protection: { scheme: 'cenc' as const, kid: KID } };
    const master = writeMultivariantPlaylist(p, { pathPrefix: 'v2/', query: 'token=abc' });
    expect(master).toMatch(/^#EXT-X-VERSION:5$/m);
    expect(master).toContain(
      `#EXT-X-SESSION-KEY:METHOD=SAMPLE-AES-CTR,URI="v2/keys/${KID}?token=abc",KEYFORMAT="identity",KEYFORMATVERSIONS="1"`,
    );
    const media = writeMediaPlaylist(p, p.timelines[0].rendition.id);
    const key = media.indexOf(`#EXT-X-KEY:METHOD=SAMPLE-AES-CTR,URI="../keys/${KID}",KEYFORMAT="identity"`);
    expect(key).toBeGreaterThan(0);
    expect(key).toBeLessThan(media.indexOf('#EXT-X-MAP'));
    // clear: no key tags, the version as before
    const clear = vodPresentation();
    expect(writeMultivariantPlaylist(clear)).not.toContain('KEY');
    expect(writeMediaPlaylist(clear, clear.timelines[0].rendition.id)).not.toContain('KEY');
  });
});
