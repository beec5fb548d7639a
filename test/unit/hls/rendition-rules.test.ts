/**
 * The rendition-rules checker itself: a compliant multivariant playlist passes, and each rule
 * fires on a playlist that breaks it (so a green packager test means something).
 */
import { describe, expect, it } from 'vitest';
import { checkRenditionRules } from '../../support/hls-rendition-rules.js';

const GOOD = [
  '#EXTM3U',
  '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="a",NAME="English",LANGUAGE="en",DEFAULT=YES,AUTOSELECT=YES,CHANNELS="2",URI="en.m3u8"',
  '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="a",NAME="French",LANGUAGE="fr",DEFAULT=NO,AUTOSELECT=YES,CHANNELS="2",URI="fr.m3u8"',
  '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="a",NAME="English (AD)",LANGUAGE="en",DEFAULT=NO,AUTOSELECT=YES,CHANNELS="2",CHARACTERISTICS="public.accessibility.describes-video",URI="ad.m3u8"',
  '#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="s",NAME="English",LANGUAGE="en",DEFAULT=NO,AUTOSELECT=YES,FORCED=NO,URI="s-en.m3u8"',
  '#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="s",NAME="English (forced)",LANGUAGE="en",DEFAULT=NO,AUTOSELECT=YES,FORCED=YES,URI="f-en.m3u8"',
  '#EXT-X-STREAM-INF:BANDWIDTH=1000000,CODECS="avc1.4d401e,mp4a.40.2",AUDIO="a",SUBTITLES="s",CLOSED-CAPTIONS=NONE',
  'v.m3u8',
].join('\n');

function rulesOf(text: string): string[] {
  return [...new Set(checkRenditionRules(text).map((v) => v.rule))].sort();
}

function replaceLine(i: number, line: string): string {
  const lines = GOOD.split('\n');
  lines[i] = line;
  return lines.join('\n');
}

describe('HLS rendition rules checker', () => {
  it('passes a compliant playlist', () => {
    expect(checkRenditionRules(GOOD)).toEqual([]);
  });

  it.each([
    [
      'media.required',
      1,
      '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="a",LANGUAGE="en",DEFAULT=YES,AUTOSELECT=YES,CHANNELS="2",URI="en.m3u8"',
    ],
    [
      'media.uri',
      4,
      '#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="s",NAME="English",LANGUAGE="en",DEFAULT=NO,AUTOSELECT=YES,FORCED=NO',
    ],
    [
      'media.language',
      2,
      '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="a",NAME="French",LANGUAGE="french",DEFAULT=NO,AUTOSELECT=YES,CHANNELS="2",URI="fr.m3u8"',
    ],
    [
      'media.autoselect',
      1,
      '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="a",NAME="English",LANGUAGE="en",DEFAULT=YES,AUTOSELECT=NO,CHANNELS="2",URI="en.m3u8"',
    ],
    [
      'media.forced',
      2,
      '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="a",NAME="French",LANGUAGE="fr",DEFAULT=NO,AUTOSELECT=YES,FORCED=NO,CHANNELS="2",URI="fr.m3u8"',
    ],
    [
      'media.characteristics',
      3,
      '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="a",NAME="English (AD)",LANGUAGE="en",DEFAULT=NO,AUTOSELECT=YES,CHANNELS="2",CHARACTERISTICS="described video",URI="ad.m3u8"',
    ],
    [
      'media.channels',
      2,
      '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="a",NAME="French",LANGUAGE="fr",DEFAULT=NO,AUTOSELECT=YES,URI="fr.m3u8"',
    ],
    [
      'group.default',
      2,
      '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="a",NAME="French",LANGUAGE="fr",DEFAULT=YES,AUTOSELECT=YES,CHANNELS="2",URI="fr.m3u8"',
    ],
    [
      'group.name',
      2,
      '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="a",NAME="English",LANGUAGE="fr",DEFAULT=NO,AUTOSELECT=YES,CHANNELS="2",URI="fr.m3u8"',
    ],
    [
      'group.autoselect',
      3,
      '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="a",NAME="English 2",LANGUAGE="en",DEFAULT=NO,AUTOSELECT=YES,CHANNELS="2",URI="ad.m3u8"',
    ],
    [
      'group.subtitles-forced',
      5,
      '#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="s",NAME="English (forced)",LANGUAGE="en",DEFAULT=NO,AUTOSELECT=NO,FORCED=YES,URI="f-en.m3u8"',
    ],
    [
      'variant.groups',
      6,
      '#EXT-X-STREAM-INF:BANDWIDTH=1000000,CODECS="avc1.4d401e,mp4a.40.2",AUDIO="b",SUBTITLES="s",CLOSED-CAPTIONS=NONE',
    ],
    [
      'variant.audio-codec',
      6,
      '#EXT-X-STREAM-INF:BANDWIDTH=1000000,CODECS="avc1.4d401e",AUDIO="a",SUBTITLES="s",CLOSED-CAPTIONS=NONE',
    ],
  ])('%s fires', (rule, line, text) => {
    expect(rulesOf(replaceLine(line, text))).toEqual([rule]);
  });

  it('an AUDIO group without a DEFAULT=YES fails', () => {
    const none = GOOD.replace(
      'DEFAULT=YES,AUTOSELECT=YES,CHANNELS="2",URI="en.m3u8"',
      'DEFAULT=NO,AUTOSELECT=YES,CHANNELS="2",URI="en.m3u8"',
    );
    expect(rulesOf(none)).toEqual(['group.default']);
  });
});
