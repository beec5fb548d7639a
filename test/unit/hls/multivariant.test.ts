import { describe, expect, it } from 'vitest';
import { writeMultivariantPlaylist } from '../../../src/hls/multivariant.js';
import { audio, ladder, livePresentation, VIDEO_TS, vodPresentation } from './fixture-presentations.js';
import { parseM3u8 } from './parsers.js';
import { playlistUris } from './uri-check.js';
import { checkRenditionRules } from '../../support/hls-rendition-rules.js';

describe('writeMultivariantPlaylist', () => {
  const vod = vodPresentation();
  const text = writeMultivariantPlaylist(vod);
  const m = parseM3u8(text);

  it('lists one variant per video rendition with combined bandwidths and codecs', () => {
    expect(m.playlists).toHaveLength(3);
    ladder.forEach((r, i) => {
      const v = m.playlists[i];
      expect(v.uri).toBe(`${r.id}/index.m3u8`);
      expect(v.attributes.BANDWIDTH).toBe(r.bandwidth + audio.bandwidth);
      expect(Number(v.attributes['AVERAGE-BANDWIDTH'])).toBe(r.averageBandwidth + audio.averageBandwidth);
      expect(v.attributes.CODECS).toBe(`${r.codecs},mp4a.40.2`);
      expect(v.attributes.RESOLUTION).toEqual({ width: r.width, height: r.height });
      expect(v.attributes['FRAME-RATE']).toBe(30);
      expect(v.attributes.AUDIO).toBe('audio');
      expect(v.attributes['VIDEO-RANGE']).toBe('SDR');
      expect(v.attributes['CLOSED-CAPTIONS']).toBe('NONE');
    });
    expect(text).toContain(
      '#EXT-X-STREAM-INF:BANDWIDTH=3232000,AVERAGE-BANDWIDTH=2628000,CODECS="avc1.64001f,mp4a.40.2",RESOLUTION=1280x720,FRAME-RATE=30.000,VIDEO-RANGE=SDR,AUDIO="audio",CLOSED-CAPTIONS=NONE\n720p/index.m3u8\n',
    );
  });

  it('lists an HDR rendition with its VIDEO-RANGE (PQ, HLG), on its variant and its I-frame stream', () => {
    const hdr = vodPresentation();
    hdr.timelines = hdr.timelines.map((t, i) =>
      i === 0
        ? { ...t, rendition: { ...t.rendition, videoRange: 'PQ' as const } }
        : i === 1
          ? { ...t, rendition: { ...t.rendition, videoRange: 'HLG' as const } }
          : t,
    );
    const lines = writeMultivariantPlaylist(hdr, { iframePlaylists: true }).split('\n');
    const ranges = (prefix: string) =>
      lines.filter((l) => l.startsWith(prefix)).map((l) => /VIDEO-RANGE=(\w+)/.exec(l)?.[1]);
    expect(ranges('#EXT-X-STREAM-INF:')).toEqual(['PQ', 'HLG', 'SDR']);
    expect(ranges('#EXT-X-I-FRAME-STREAM-INF:')).toEqual(['PQ', 'HLG', 'SDR']);
  });

  it('declares the audio group', () => {
    const english = m.mediaGroups.AUDIO.audio.English;
    expect(english).toMatchObject({ default: true, autoselect: true, language: 'en', uri: 'audio/index.m3u8' });
    expect(text).toContain(
      '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio",NAME="English",LANGUAGE="en",DEFAULT=YES,AUTOSELECT=YES,CHANNELS="2",URI="audio/index.m3u8"',
    );
    expect(text.startsWith('#EXTM3U\n#EXT-X-VERSION:4\n#EXT-X-INDEPENDENT-SEGMENTS\n')).toBe(true);
  });

  it('advertises I-frame playlists with bandwidth computed from the key frames', () => {
    expect(m.iFramePlaylists).toHaveLength(3);
    ladder.forEach((r, i) => {
      const tl = vod.timelines[i];
      let peak = 0;
      let bytes = 0;
      let units = 0;
      for (const s of tl.segments) {
        for (const f of s.iframes!) {
          peak = Math.max(peak, (f.length * 8) / (f.duration / VIDEO_TS));
          bytes += f.length;
          units += f.duration;
        }
      }
      const iv = m.iFramePlaylists[i];
      expect(iv.uri).toBe(`${r.id}/iframes.m3u8`);
      expect(iv.attributes.BANDWIDTH).toBe(Math.ceil(peak));
      expect(Number(iv.attributes['AVERAGE-BANDWIDTH'])).toBe(Math.ceil((bytes * 8) / (units / VIDEO_TS)));
      expect(iv.attributes.CODECS).toBe(r.codecs);
      expect(iv.attributes.RESOLUTION).toEqual({ width: r.width, height: r.height });
    });
    // I-frame streams are cheaper than the full stream
    expect(Number(m.iFramePlaylists[0].attributes['AVERAGE-BANDWIDTH'])).toBeLessThan(ladder[0].averageBandwidth);
  });

  it('can leave the I-frame playlists out, and never lists them for live', () => {
    expect(writeMultivariantPlaylist(vod, { iframePlaylists: false })).not.toContain('I-FRAME');
    expect(writeMultivariantPlaylist(vodPresentation({ iframes: false }))).not.toContain('I-FRAME');
    expect(writeMultivariantPlaylist(livePresentation())).not.toContain('I-FRAME');
  });

  it('appends the query to every URI', () => {
    const signed = writeMultivariantPlaylist(vod, { query: 'token=abc' });
    const uris = playlistUris(signed);
    expect(uris).toHaveLength(3 + 1 + 3); // variants, audio rendition, I-frame playlists
    for (const u of uris) expect(u).toMatch(/\?token=abc$/);
    expect(parseM3u8(signed).playlists[0].uri).toBe('1080p/index.m3u8?token=abc');
    // a leading "?" in the option is not doubled
    expect(writeMultivariantPlaylist(vod, { query: '?token=abc' })).toBe(signed);
  });

  it('writes a valid video-only playlist (no audio group)', () => {
    const t = writeMultivariantPlaylist(vodPresentation({ videoOnly: true }));
    const p = parseM3u8(t);
    expect(t).not.toContain('EXT-X-MEDIA:');
    expect(p.playlists).toHaveLength(3);
    expect(p.playlists[1].attributes.CODECS).toBe('avc1.64001f');
    expect(p.playlists[1].attributes.BANDWIDTH).toBe(ladder[1].bandwidth);
    expect(p.playlists[1].attributes.AUDIO).toBeUndefined();
  });

  it('writes a valid audio-only playlist (one variant pointing at the audio playlist)', () => {
    const t = writeMultivariantPlaylist(vodPresentation({ audioOnly: true }));
    const p = parseM3u8(t);
    expect(t).not.toContain('EXT-X-MEDIA:');
    expect(t).not.toContain('I-FRAME');
    expect(p.playlists).toHaveLength(1);
    expect(p.playlists[0].uri).toBe('audio/index.m3u8');
    expect(p.playlists[0].attributes).toMatchObject({ BANDWIDTH: 132000, CODECS: 'mp4a.40.2' });
    expect(Number(p.playlists[0].attributes['AVERAGE-BANDWIDTH'])).toBe(128000);
    expect(p.playlists[0].attributes.AUDIO).toBeUndefined();
  });

  it('groups several audio languages, one default, and sizes variants for the heaviest', () => {
    const p = vodPresentation({ iframes: false });
    const fr = {
      ...p.timelines[3],
      rendition: {
        ...audio,
        id: 'audio-fr',
        language: 'fr',
        bandwidth: 200_000,
        averageBandwidth: 190_000,
        codecs: 'ec-3',
      },
    };
    p.timelines.push(fr);
    const parsed = parseM3u8(writeMultivariantPlaylist(p));
    const group = parsed.mediaGroups.AUDIO.audio;
    expect(Object.keys(group)).toEqual(['English', 'French']);
    expect(group.English.default).toBe(true);
    expect(group.French.default).toBe(false);
    expect(group.French.uri).toBe('audio-fr/index.m3u8');
    expect(parsed.playlists[2].attributes.BANDWIDTH).toBe(900_000 + 200_000);
    expect(Number(parsed.playlists[2].attributes['AVERAGE-BANDWIDTH'])).toBe(700_000 + 190_000);
    expect(parsed.playlists[2].attributes.CODECS).toBe('avc1.64001e,mp4a.40.2,ec-3');
  });
});

describe('writeMultivariantPlaylist with a 5.1 twin', () => {
  const vod = vodPresentation();
  const stereo = vod.timelines.find((t) => t.rendition.kind === 'audio')!;
  const twin = {
    rendition: { ...audio, id: 'audio-5.1', channels: 6, bandwidth: 396_000, averageBandwidth: 384_000 },
    segments: stereo.segments,
  };
  // the twin listed before its stereo track: the groups still come out stereo first
  const text = writeMultivariantPlaylist({
    ...vod,
    timelines: [...vod.timelines.filter((t) => t !== stereo), twin, stereo],
  });
  const m = parseM3u8(text);

  it('puts the twin in group audio-6ch, each with its own DEFAULT, and passes the rendition rules', () => {
    expect(text.split('\n').filter((l) => l.startsWith('#EXT-X-MEDIA:TYPE=AUDIO'))).toEqual([
      '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio",NAME="English",LANGUAGE="en",DEFAULT=YES,AUTOSELECT=YES,CHANNELS="2",URI="audio/index.m3u8"',
      '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio-6ch",NAME="English",LANGUAGE="en",DEFAULT=YES,AUTOSELECT=YES,CHANNELS="6",URI="audio-5.1/index.m3u8"',
    ]);
    expect(checkRenditionRules(text)).toEqual([]);
  });

  it('lists every video variant once per group, stereo first, each with its group bandwidth', () => {
    expect(m.playlists).toHaveLength(2 * ladder.length);
    ladder.forEach((r, i) => {
      const s = m.playlists[i];
      const t = m.playlists[ladder.length + i];
      expect([s.uri, s.attributes.AUDIO, s.attributes.BANDWIDTH]).toEqual([
        `${r.id}/index.m3u8`,
        'audio',
        r.bandwidth + audio.bandwidth,
      ]);
      expect([t.uri, t.attributes.AUDIO, t.attributes.BANDWIDTH]).toEqual([
        `${r.id}/index.m3u8`,
        'audio-6ch',
        r.bandwidth + 396_000,
      ]);
    });
  });
});

describe('writeMultivariantPlaylist with a 5.1 twin for one language of two', () => {
  it('offers every language in the 5.1 group: the twin where there is one, else the stereo rendition', () => {
    const vod = vodPresentation();
    const en = vod.timelines.find((t) => t.rendition.kind === 'audio')!;
    const fr = { rendition: { ...audio, id: 'audio-fr', language: 'fr', name: 'French' }, segments: en.segments };
    const twin = { rendition: { ...audio, id: 'audio-5.1', channels: 6, name: 'English' }, segments: en.segments };
    const withName = { ...en, rendition: { ...en.rendition, name: 'English', default: true } };
    const text = writeMultivariantPlaylist({
      ...vod,
      timelines: [...vod.timelines.filter((t) => t !== en), withName, fr, twin],
    });
    const media = text.split('\n').filter((l) => l.startsWith('#EXT-X-MEDIA:TYPE=AUDIO'));
    expect(
      media.map((l) =>
        /GROUP-ID="([^"]+)".*NAME="([^"]+)".*DEFAULT=(\w+).*CHANNELS="(\d)",URI="([^"]+)"/.exec(l)!.slice(1),
      ),
    ).toEqual([
      ['audio', 'English', 'YES', '2', 'audio/index.m3u8'],
      ['audio', 'French', 'NO', '2', 'audio-fr/index.m3u8'],
      ['audio-6ch', 'English', 'YES', '6', 'audio-5.1/index.m3u8'],
      ['audio-6ch', 'French', 'NO', '2', 'audio-fr/index.m3u8'],
    ]);
    expect(checkRenditionRules(text)).toEqual([]);
  });
});

describe('writeMultivariantPlaylist with 5.1 twins in two codecs', () => {
  const vod = vodPresentation();
  const en = vod.timelines.find((t) => t.rendition.kind === 'audio')!;
  const stereo = { ...en, rendition: { ...en.rendition, name: 'English', default: true } };
  const fr = { rendition: { ...audio, id: 'audio-fr', language: 'fr', name: 'French' }, segments: en.segments };
  const twin = (id: string, codecs: string, bandwidth: number) => ({
    rendition: { ...audio, id, codecs, channels: 6, name: 'English', default: true, bandwidth },
    segments: en.segments,
  });
  const text = writeMultivariantPlaylist({
    ...vod,
    timelines: [
      ...vod.timelines.filter((t) => t !== en),
      stereo,
      fr,
      twin('audio-5.1-eac3', 'ec-3', 420_000),
      twin('audio-5.1-aac', 'mp4a.40.2', 400_000),
    ],
  });
  const m = parseM3u8(text);

  it('one group per codec, named alike across codecs (a client cannot switch codecs within a group)', () => {
    const media = text.split('\n').filter((l) => l.startsWith('#EXT-X-MEDIA:TYPE=AUDIO'));
    expect(
      media.map((l) => /GROUP-ID="([^"]+)",NAME="([^"]+)".*CHANNELS="(\d)",URI="([^"]+)"/.exec(l)!.slice(1)),
    ).toEqual([
      ['audio', 'English', '2', 'audio/index.m3u8'],
      ['audio', 'French', '2', 'audio-fr/index.m3u8'],
      ['audio-6ch-ec-3', 'English', '6', 'audio-5.1-eac3/index.m3u8'],
      ['audio-6ch-ec-3', 'French', '2', 'audio-fr/index.m3u8'],
      ['audio-6ch-aac', 'English', '6', 'audio-5.1-aac/index.m3u8'],
      ['audio-6ch-aac', 'French', '2', 'audio-fr/index.m3u8'],
    ]);
    expect(checkRenditionRules(text)).toEqual([]);
  });

  it("lists every video variant once per group, each with its group's codecs and bandwidth", () => {
    expect(m.playlists).toHaveLength(3 * ladder.length);
    const variant = (g: number, i: number) => m.playlists[g * ladder.length + i];
    ladder.forEach((r, i) => {
      expect([variant(0, i).attributes.AUDIO, variant(0, i).attributes.CODECS]).toEqual([
        'audio',
        `${r.codecs},mp4a.40.2`,
      ]);
      expect([
        variant(1, i).attributes.AUDIO,
        variant(1, i).attributes.CODECS,
        variant(1, i).attributes.BANDWIDTH,
      ]).toEqual(['audio-6ch-ec-3', `${r.codecs},ec-3,mp4a.40.2`, r.bandwidth + 420_000]);
      expect([
        variant(2, i).attributes.AUDIO,
        variant(2, i).attributes.CODECS,
        variant(2, i).attributes.BANDWIDTH,
      ]).toEqual(['audio-6ch-aac', `${r.codecs},mp4a.40.2`, r.bandwidth + 400_000]);
    });
  });
});
