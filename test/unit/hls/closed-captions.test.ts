/**
 * CEA-608 captions inside the video, as the manifests announce them: HLS an EXT-X-MEDIA of TYPE
 * CLOSED-CAPTIONS (INSTREAM-ID, no URI) named by every variant's CLOSED-CAPTIONS; DASH an
 * Accessibility descriptor of SCTE 214-1's 608 scheme on the video AdaptationSet, schema-valid.
 * Without captions: CLOSED-CAPTIONS=NONE and no descriptor.
 */
import { describe, expect, it } from 'vitest';
import { writeMultivariantPlaylist } from '../../../src/hls/multivariant.js';
import { writeMpd } from '../../../src/dash/mpd.js';
import { vodPresentation } from './fixture-presentations.js';
import { checkRenditionRules } from '../../support/hls-rendition-rules.js';
import { validateMpd } from '../../support/xml-validate.js';

const captioned = { ...vodPresentation(), closedCaptions: [{ instreamId: 'CC1' as const, name: 'CC1' }] };

describe('closed captions in the manifests', () => {
  it('HLS: one CLOSED-CAPTIONS rendition, named by every variant', () => {
    const text = writeMultivariantPlaylist(captioned);
    const lines = text.split('\n');
    expect(lines.filter((l) => l.includes('TYPE=CLOSED-CAPTIONS'))).toEqual([
      '#EXT-X-MEDIA:TYPE=CLOSED-CAPTIONS,GROUP-ID="cc",NAME="CC1",DEFAULT=NO,AUTOSELECT=YES,INSTREAM-ID="CC1"',
    ]);
    const variants = lines.filter((l) => l.startsWith('#EXT-X-STREAM-INF:'));
    expect(variants.length).toBeGreaterThan(0);
    for (const v of variants) expect(v).toMatch(/,CLOSED-CAPTIONS="cc"(,|$)/);
    expect(checkRenditionRules(text)).toEqual([]);
    // a language, when known, is the rendition's LANGUAGE
    const english = { ...captioned, closedCaptions: [{ instreamId: 'CC1' as const, name: 'English', language: 'en' }] };
    expect(writeMultivariantPlaylist(english)).toContain(
      '#EXT-X-MEDIA:TYPE=CLOSED-CAPTIONS,GROUP-ID="cc",NAME="English",LANGUAGE="en",DEFAULT=NO,AUTOSELECT=YES,INSTREAM-ID="CC1"',
    );
  });

  it('DASH: the 608 Accessibility descriptor on the video AdaptationSet only, schema-valid', async () => {
    const mpd = writeMpd(captioned);
    const sets = mpd.split('<AdaptationSet').slice(1);
    const video = sets.filter((s) => s.includes('contentType="video"'));
    expect(video).toHaveLength(1);
    expect(video[0]).toContain('<Accessibility schemeIdUri="urn:scte:dash:cc:cea-608:2015" value="CC1"/>');
    expect(sets.filter((s) => s.includes('Accessibility'))).toHaveLength(1);
    expect((await validateMpd(mpd)).errors).toBe('');
    const two = {
      ...captioned,
      closedCaptions: [
        { instreamId: 'CC1' as const, name: 'English', language: 'eng' },
        { instreamId: 'CC3' as const, name: 'Deutsch', language: 'deu' },
      ],
    };
    expect(writeMpd(two)).toContain('value="CC1=eng;CC3=deu"');
  });

  it('without captions: CLOSED-CAPTIONS=NONE, no rendition, no descriptor', () => {
    const p = vodPresentation();
    const text = writeMultivariantPlaylist(p);
    expect(text).not.toContain('TYPE=CLOSED-CAPTIONS');
    expect(text).toContain('CLOSED-CAPTIONS=NONE');
    expect(writeMpd(p)).not.toContain('Accessibility');
  });
});
