import { describe, expect, it } from 'vitest';
import { parseWebVtt, segmentWebVtt, srtToWebVtt, writeWebVtt } from '../../../src/media/webvtt.js';
import { parseLanguageTag } from '../../../src/media/language-tag.js';

const VTT = `WEBVTT - a header

STYLE
::cue { color: yellow }

NOTE a comment

1
00:00:00.500 --> 00:00:02.000 line:0
Hello

00:01.500 --> 00:00:05.250
Across a boundary
second line
`;

describe('WebVTT', () => {
  it('parses cues (ids, hours optional, settings), keeps STYLE, skips NOTE; round-trips', () => {
    const v = parseWebVtt(VTT, 'en.vtt');
    expect(v.headerBlocks).toEqual(['STYLE\n::cue { color: yellow }']);
    expect(v.cues).toEqual([
      { id: '1', start: 0.5, end: 2, settings: 'line:0', text: 'Hello' },
      { start: 1.5, end: 5.25, settings: '', text: 'Across a boundary\nsecond line' },
    ]);
    expect(parseWebVtt(writeWebVtt(v), 'again.vtt')).toEqual(v);
  });

  it('refuses malformed files with the file and line', () => {
    expect(() => parseWebVtt('1\n00:00:01.000 --> 00:00:02.000\nx\n', 'a.vtt')).toThrow(/a\.vtt:1: not a WebVTT file/);
    expect(() => parseWebVtt('WEBVTT\n\n00:00:01,000 --> 00:00:02.000\nx\n', 'b.vtt')).toThrow(
      /b\.vtt:3: malformed cue timing/,
    );
    expect(() => parseWebVtt('WEBVTT\n\n00:00:03.000 --> 00:00:02.000\nx\n', 'c.vtt')).toThrow(
      /c\.vtt:3: cue ends .* before it starts/,
    );
    expect(() => parseWebVtt('WEBVTT\n\nid only\n', 'd.vtt')).toThrow(
      expect.objectContaining({ code: 'BAD_SUBTITLES' }),
    );
    expect(() =>
      parseWebVtt('WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nx\n00:00:02.000 --> 00:00:03.000\ny\n', 'e.vtt'),
    ).toThrow(/e\.vtt:5: cue text contains "-->"/);
  });

  it('converts SRT (comma decimals, numbered blocks, ASS tags dropped)', () => {
    const srt =
      '1\r\n00:00:01,000 --> 00:00:02,500\r\n{\\an8}<i>Top</i>\r\n\r\n2\r\n0:00:03,000 --> 0:00:04,000\r\nTwo\r\n';
    const v = parseWebVtt(srtToWebVtt(srt, 'x.srt'), 'x.srt');
    expect(v.cues.map((c) => [c.start, c.end, c.text])).toEqual([
      [1, 2.5, '<i>Top</i>'],
      [3, 4, 'Two'],
    ]);
    expect(() => srtToWebVtt('1\n00:00:01 --> 00:00:02\nx\n', 'y.srt')).toThrow(/y\.srt:2: malformed SRT timing/);
  });

  it('segments on the media boundaries with X-TIMESTAMP-MAP; a cue across a boundary is in both', () => {
    const segs = segmentWebVtt(parseWebVtt(VTT, 'en.vtt'), [0, 2, 4, 6]);
    expect(segs).toHaveLength(3);
    for (const s of segs)
      expect(s.split('\n').slice(0, 2)).toEqual(['WEBVTT', 'X-TIMESTAMP-MAP=MPEGTS:0,LOCAL:00:00:00.000']);
    const cueCount = (s: string): number => s.split('-->').length - 1;
    expect(segs.map(cueCount)).toEqual([2, 1, 1]);
    expect(segs[2]).toContain('00:00:01.500 --> 00:00:05.250');
  });
});

describe('BCP 47 language tags', () => {
  it('accepts well-formed tags in canonical case and refuses the rest with one clear line', () => {
    expect(parseLanguageTag('en', 'x')).toBe('en');
    expect(parseLanguageTag('PT-br', 'x')).toBe('pt-BR');
    expect(parseLanguageTag('zh-hant-tw', 'x')).toBe('zh-Hant-TW');
    expect(parseLanguageTag('es-419', 'x')).toBe('es-419');
    expect(parseLanguageTag('x-klingon', 'x')).toBe('x-klingon');
    for (const bad of ['english', 'e', 'en_US', 'en-', '123', 'en-US-'])
      expect(() => parseLanguageTag(bad, '--subtitles')).toThrow(/--subtitles: ".*" is not a BCP 47 language tag/);
  });
});
