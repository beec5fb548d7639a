import { describe, expect, it } from 'vitest';
import { writeMpd } from '../../../src/dash/mpd.js';
import type { Presentation, Segment } from '../../../src/media/presentation.js';
import {
  AST,
  AUDIO_TS,
  ladder,
  LIVE_FIRST,
  livePresentation,
  VIDEO_TS,
  vodAudioDurations,
  vodPresentation,
  vodVideoDurations,
} from '../hls/fixture-presentations.js';
import { parseMpd } from '../hls/parsers.js';
import { hasXmllintBinary, validateMpd } from '../../support/xml-validate.js';

type Seg = { uri: string; resolvedUri: string; duration: number; map: { uri: string } };

async function expectSchemaValid(xml: string): Promise<void> {
  const r = await validateMpd(xml);
  expect(r.errors).toBe('');
  expect(r.valid).toBe(true);
}

describe('writeMpd: VOD', () => {
  const vod = vodPresentation();
  const xml = writeMpd(vod);
  const m = parseMpd(xml);

  it('validates against the ISO/IEC 23009-1 schema', async () => {
    await expectSchemaValid(xml);
  });

  it('is a static CMAF presentation with one period', () => {
    expect(xml).toContain(
      '<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" profiles="urn:mpeg:dash:profile:isoff-live:2011,urn:mpeg:dash:profile:cmaf:2019" type="static" mediaPresentationDuration="PT30S"',
    );
    expect(xml).toContain('<Period id="0" start="PT0S">');
    expect(xml).toMatch(/minBufferTime="PT4\.033S"/);
    expect(m.duration).toBe(30);
    expect(m.endList).toBe(true);
  });

  it('describes the video ladder', () => {
    expect(xml).toContain(
      '<AdaptationSet id="0" contentType="video" par="16:9" maxWidth="1920" maxHeight="1080" maxFrameRate="30" mimeType="video/mp4" segmentAlignment="true" startWithSAP="1">',
    );
    expect(m.playlists).toHaveLength(3);
    ladder.forEach((r, i) => {
      const pl = m.playlists[i];
      expect(pl.attributes).toMatchObject({
        NAME: r.id,
        BANDWIDTH: r.bandwidth,
        CODECS: r.codecs,
        RESOLUTION: { width: r.width, height: r.height },
        'FRAME-RATE': 30,
      });
      expect(pl.segments).toHaveLength(vodVideoDurations.length);
      pl.segments.forEach((s: Seg, k: number) => {
        expect(s.uri).toBe(`${r.id}/seg-${k + 1}.m4s`);
        expect(s.duration).toBeCloseTo(vodVideoDurations[k] / VIDEO_TS, 9);
        expect(s.map.uri).toBe(`${r.id}/init.mp4`);
      });
    });
    expect(xml).toContain(
      '<Representation id="720p" bandwidth="3100000" codecs="avc1.64001f" width="1280" height="720" frameRate="30" sar="1:1"/>',
    );
  });

  it('run-length compresses the SegmentTimeline', () => {
    expect(xml).toContain(
      '<SegmentTimeline>\n          <S t="0" d="61440" r="1"/>\n          <S d="61952"/>\n          <S d="60928"/>\n          <S d="61440" r="2"/>\n          <S d="30720"/>\n        </SegmentTimeline>',
    );
    expect(xml).toContain(
      '<SegmentTemplate timescale="15360" media="$RepresentationID$/seg-$Number$.m4s" initialization="$RepresentationID$/init.mp4" startNumber="1">',
    );
  });

  it('describes the audio with language and channel configuration', () => {
    expect(xml).toContain(
      '<AdaptationSet id="1" contentType="audio" lang="en" mimeType="audio/mp4" segmentAlignment="true" startWithSAP="1">',
    );
    expect(xml).toContain(
      '<AudioChannelConfiguration schemeIdUri="urn:mpeg:dash:23003:3:audio_channel_configuration:2011" value="2"/>',
    );
    const group = m.mediaGroups.AUDIO.audio.en;
    expect(group.language).toBe('en');
    const a = group.playlists[0];
    expect(a.attributes).toMatchObject({ NAME: 'audio', BANDWIDTH: 132000, CODECS: 'mp4a.40.2' });
    expect(a.segments.map((s: Seg) => s.duration)).toEqual(vodAudioDurations.map((d) => d / AUDIO_TS));
    expect(a.segments[7].uri).toBe('audio/seg-8.m4s');
  });

  it('writes per-representation templates when timelines differ', () => {
    const p = vodPresentation();
    p.timelines[2].segments[1].duration += 512;
    for (const s of p.timelines[2].segments.slice(2)) s.start += 512;
    const x = writeMpd(p);
    const parsed = parseMpd(x);
    expect(parsed.playlists[2].segments[1].duration).toBeCloseTo((61440 + 512) / VIDEO_TS, 9);
    expect(parsed.playlists[0].segments[1].duration).toBeCloseTo(61440 / VIDEO_TS, 9);
    expect((x.match(/<SegmentTemplate /g) ?? []).length).toBe(4); // three video + one audio
    return expectSchemaValid(x);
  });

  it('writes valid video-only and audio-only presentations', async () => {
    const videoOnly = writeMpd(vodPresentation({ videoOnly: true }));
    const audioOnly = writeMpd(vodPresentation({ audioOnly: true }));
    expect(videoOnly).not.toContain('contentType="audio"');
    expect(audioOnly).not.toContain('contentType="video"');
    expect(parseMpd(audioOnly).mediaGroups.AUDIO.audio.en.playlists[0].segments).toHaveLength(8);
    await expectSchemaValid(videoOnly);
    await expectSchemaValid(audioOnly);
  });

  it('appends the query to the templates and writes BaseURL', async () => {
    const signed = writeMpd(vod, { query: 'token=a$b&c', baseUrl: 'https://cdn.test/vod/asset1/' });
    expect(signed).toContain('media="$RepresentationID$/seg-$Number$.m4s?token=a$$b&amp;c"');
    expect(signed).toContain('initialization="$RepresentationID$/init.mp4?token=a$$b&amp;c"');
    expect(signed).toContain('<BaseURL>https://cdn.test/vod/asset1/</BaseURL>');
    const parsed = parseMpd(signed);
    const s = parsed.playlists[0].segments[0];
    expect(s.resolvedUri).toBe('https://cdn.test/vod/asset1/1080p/seg-1.m4s?token=a$b&c');
    expect(s.map.resolvedUri).toBe('https://cdn.test/vod/asset1/1080p/init.mp4?token=a$b&c');
    await expectSchemaValid(signed);
  });
});

describe('writeMpd: 5.1 twins in two codecs', () => {
  const vod = vodPresentation();
  const en = vod.timelines.find((t) => t.rendition.kind === 'audio')!;
  const stereo = { ...en, rendition: { ...en.rendition, name: 'English' } };
  const twin = (id: string, codecs: string, channelMask?: number) => ({
    rendition: { ...en.rendition, id, codecs, channels: 6, name: 'English', ...(channelMask ? { channelMask } : {}) },
    segments: en.segments,
  });
  const xml = writeMpd({
    ...vod,
    timelines: [
      ...vod.timelines.filter((t) => t !== en),
      stereo,
      twin('audio-5.1-eac3', 'ec-3', 0xf801),
      twin('audio-5.1-aac', 'mp4a.40.2'),
    ],
  });

  it('one AdaptationSet per codec, each Label naming its codec, schema-valid', async () => {
    const sets = [
      ...xml.matchAll(
        /<AdaptationSet id="(\d)" contentType="audio"[^]*?<Label>([^<]+)<\/Label>[^]*?<Representation id="([^"]+)"[^>]*codecs="([^"]+)"/g,
      ),
    ];
    expect(sets.map((x) => x.slice(2))).toEqual([
      ['English', 'audio', 'mp4a.40.2'],
      ['English (5.1, Dolby Digital Plus)', 'audio-5.1-eac3', 'ec-3'],
      ['English (5.1, AAC)', 'audio-5.1-aac', 'mp4a.40.2'],
    ]);
    expect(xml).toContain('schemeIdUri="tag:dolby.com,2014:dash:audio_channel_configuration:2011" value="F801"');
    await expectSchemaValid(xml);
  });
});

describe('writeMpd: HDR HEVC beside SDR H.264', () => {
  const vod = vodPresentation();
  const videos = vod.timelines.filter((t) => t.rendition.kind === 'video');
  const twins = (range: 'PQ' | 'HLG') =>
    videos.map((t) => ({
      ...t,
      rendition: { ...t.rendition, id: `${t.rendition.id}-hevc`, codecs: 'hvc1.2.4.L93.90', videoRange: range },
    }));
  const mpdWith = (range: 'PQ' | 'HLG') => writeMpd({ ...vod, timelines: [...vod.timelines, ...twins(range)] });
  const properties = (xml: string): string[][] =>
    [...xml.matchAll(/<AdaptationSet [^>]*contentType="video"[^>]*>([\s\S]*?)<\/AdaptationSet>/g)].map((m) =>
      [...m[1].matchAll(/<(\w+Property) schemeIdUri="urn:mpeg:mpegB:cicp:(\w+)" value="(\d+)"/g)].map(
        (p) => `${p[1]} ${p[2]}=${p[3]}`,
      ),
    );

  it('PQ: the HEVC set carries BT.2020 and PQ as essential properties, the SDR set nothing; schema-valid', async () => {
    const xml = mpdWith('PQ');
    expect(properties(xml)).toEqual([
      [],
      [
        'EssentialProperty ColourPrimaries=9',
        'EssentialProperty TransferCharacteristics=16',
        'EssentialProperty MatrixCoefficients=9',
      ],
    ]);
    await expectSchemaValid(xml);
  });

  it('HLG: the BT.2020 transfer as essential (a legacy decoder shows it), HLG as supplemental; schema-valid', async () => {
    const xml = mpdWith('HLG');
    expect(properties(xml)[1]).toEqual([
      'EssentialProperty ColourPrimaries=9',
      'EssentialProperty TransferCharacteristics=14',
      'EssentialProperty MatrixCoefficients=9',
      'SupplementalProperty TransferCharacteristics=18',
    ]);
    await expectSchemaValid(xml);
  });
});

describe('writeMpd: live', () => {
  const p = livePresentation();
  const xml = writeMpd(p, { baseUrl: 'https://origin.test/live/channel1/' });

  it('validates against the schema (low latency and plain)', async () => {
    await expectSchemaValid(xml);
    await expectSchemaValid(writeMpd(livePresentation({ lowLatency: false })));
  });

  it('is dynamic with availability and DVR timing', () => {
    expect(xml).toContain('type="dynamic"');
    expect(xml).toContain(`availabilityStartTime="${new Date(AST).toISOString()}"`);
    expect(xml).toContain(`publishTime="${new Date(p.live!.publishTime).toISOString()}"`);
    expect(xml).toContain(
      'minimumUpdatePeriod="PT1S" timeShiftBufferDepth="PT20S" suggestedPresentationDelay="PT1.5S"',
    );
    expect(xml).not.toContain('mediaPresentationDuration');
    const m = parseMpd(xml, { NOW: p.live!.publishTime });
    expect(m.minimumUpdatePeriod).toBe(1000);
    expect(m.suggestedPresentationDelay).toBe(1.5);
    expect(m.playlists[0].endList).toBe(false);
  });

  it('asks for a refresh once a segment, or with low latency as often as an edge may reuse the MPD', () => {
    // 2 s segments, 0.5 s parts: an edge reuses a live MPD for a second (half a part, at least 1 s)
    expect(xml).toContain('minimumUpdatePeriod="PT1S"');
    expect(writeMpd(livePresentation({ lowLatency: false }))).toContain('minimumUpdatePeriod="PT2S"');
  });

  it('lists only the complete segments of the window, numbered from the first', () => {
    expect(xml).toContain(`startNumber="${LIVE_FIRST}"`);
    expect(xml).toContain(`<S t="${LIVE_FIRST * 2 * VIDEO_TS}" d="30720" r="9"/>`);
    const m = parseMpd(xml, { NOW: p.live!.publishTime });
    const segs = m.playlists[0].segments as Seg[];
    expect(segs.map((s) => s.uri)).toEqual(Array.from({ length: 10 }, (_, i) => `720p/seg-${LIVE_FIRST + i}.m4s`));
    expect(segs[0].resolvedUri).toBe('https://origin.test/live/channel1/720p/seg-100.m4s');
    const audio = m.mediaGroups.AUDIO.audio.en.playlists[0].segments as Seg[];
    expect(audio).toHaveLength(10);
    expect(audio[0].duration).toBeCloseTo((94 * 1024) / AUDIO_TS, 9);
  });

  it('low latency: lists the segment in production at the length its producer planned, once its parts say so', () => {
    /** The presentation with the in-progress segment's parts saying where it ends (`end(segment)`). */
    const planned = (q: Presentation, end: (s: Segment, ts: number) => number): Presentation => ({
      ...q,
      timelines: q.timelines.map((t) => ({
        ...t,
        segments: t.segments.map((s) =>
          s.complete ? s : { ...s, parts: s.parts.map((x) => ({ ...x, segmentEnd: end(s, t.rendition.timescale) })) },
        ),
      })),
    });
    const last = LIVE_FIRST + 10; // the in-progress one
    const timelineOf = (x: string) => parseMpd(x, { NOW: p.live!.publishTime }).playlists[0].segments as Seg[];
    const withIt = writeMpd(planned(p, (s, ts) => s.start + 2 * ts));
    const segs = timelineOf(withIt);
    expect(segs.map((s) => s.uri).at(-1)).toBe(`720p/seg-${last}.m4s`);
    expect(segs.at(-1)!.duration).toBe(2); // its planned length, not the 1 s made so far
    expect(withIt).toContain(`<S t="${LIVE_FIRST * 2 * VIDEO_TS}" d="30720" r="10"/>`);
    // the audio too
    const audio = parseMpd(withIt, { NOW: p.live!.publishTime }).mediaGroups.AUDIO.audio.en.playlists[0]
      .segments as Seg[];
    expect(audio).toHaveLength(11);
    expect(audio.at(-1)!.duration).toBe(2);
    // without a plan, or without low latency, or past its plan (its encoder moved it), only complete ones
    expect(timelineOf(xml)).toHaveLength(10);
    expect(
      timelineOf(writeMpd(planned(livePresentation({ lowLatency: false }), (s, ts) => s.start + 2 * ts))),
    ).toHaveLength(10);
    expect(timelineOf(writeMpd(planned(p, (s) => s.start + s.duration - 1)))).toHaveLength(10);
  });

  it('announces low latency: availabilityTimeOffset, service description, UTC timing', () => {
    expect(xml).toContain('availabilityTimeOffset="1.5" availabilityTimeComplete="false"');
    expect(xml).toContain(
      '<ServiceDescription id="0">\n    <Latency target="1500" min="1125" max="2250"/>\n    <PlaybackRate min="0.96" max="1.04"/>\n  </ServiceDescription>',
    );
    expect(xml).toContain(
      '<UTCTiming schemeIdUri="urn:mpeg:dash:utc:http-iso:2014" value="https://origin.test/time"/>',
    );
    // schema order: BaseURL, ServiceDescription, Period, UTCTiming
    const order = ['<BaseURL>', '<ServiceDescription', '<Period', '<UTCTiming'].map((t) => xml.indexOf(t));
    expect(order.every((x, i) => x > 0 && (i === 0 || x > order[i - 1]))).toBe(true);
  });

  it('leaves low-latency signalling out of plain live', () => {
    const plain = writeMpd(livePresentation({ lowLatency: false }));
    expect(plain).not.toContain('availabilityTimeOffset');
    expect(plain).not.toContain('ServiceDescription');
    expect(plain).toContain('suggestedPresentationDelay="PT6S"');
    expect(plain).toContain('<UTCTiming schemeIdUri="urn:mpeg:dash:utc:http-iso:2014" value="/time"/>');
  });
});

describe('MPD schema validation helper', () => {
  it('rejects an MPD with elements out of schema order', async () => {
    const xml = writeMpd(livePresentation());
    const utc = /\n {2}<UTCTiming[^\n]*/.exec(xml)![0];
    const misordered = xml.replace(utc, '').replace('\n  <Period', `${utc}\n  <Period`);
    const r = await validateMpd(misordered);
    expect(r.valid).toBe(false);
    expect(r.errors).toMatch(/UTCTiming/);
  });

  it('validates with xmllint-wasm as well as the xmllint binary', async () => {
    const xml = writeMpd(vodPresentation());
    const wasm = await validateMpd(xml, 'xmllint-wasm');
    expect(wasm).toEqual({ valid: true, errors: '', via: 'xmllint-wasm' });
    const bad = await validateMpd(xml.replace('startWithSAP="1"', 'startWithSAP="9"'), 'xmllint-wasm');
    expect(bad.valid).toBe(false);
    if (hasXmllintBinary()) expect((await validateMpd(xml, 'xmllint')).valid).toBe(true);
  });
});
