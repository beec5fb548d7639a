/**
 * The thumbnail track in the manifests: the HLS image media playlist (src/hls/image-playlist.ts,
 * the Image Media Playlist spec v0.4 that Roku and Shaka read), its EXT-X-IMAGE-STREAM-INF in the
 * multivariant playlist, and the DASH image AdaptationSet (DASH-IF IOP 4.3 §6.2.6), schema-valid.
 * A live channel lists one picture per segment on the video's own numbers and timeline. A
 * presentation without a track is written as before.
 */
import { describe, expect, it } from 'vitest';
import { writeMpd } from '../../../src/dash/mpd.js';
import { sheetDurations, writeImagePlaylist } from '../../../src/hls/image-playlist.js';
import { writeMediaPlaylist } from '../../../src/hls/media-playlist.js';
import { writeMultivariantPlaylist } from '../../../src/hls/multivariant.js';
import type { ThumbnailTrack } from '../../../src/media/presentation.js';
import { writeThumbnailVtt } from '../../../src/media/thumbnail-vtt.js';
import { livePresentation, vodPresentation } from './fixture-presentations.js';
import { validateMpd } from '../../support/xml-validate.js';

const TRACK: ThumbnailTrack = {
  id: 'thumbnails',
  width: 240,
  height: 136,
  columns: 4,
  rows: 3,
  intervalSec: 2,
  sheets: 0,
  bandwidth: 20_000,
};

/** A VOD presentation of `durationSec` with a 4×3, 2 s thumbnail track (24 s a sheet). */
function withThumbnails(durationSec: number) {
  const sheets = Math.ceil(durationSec / 24);
  return { ...vodPresentation(), duration: durationSec, thumbnails: { ...TRACK, sheets } };
}

describe('thumbnail manifests', () => {
  it('HLS image playlist: IMAGES-ONLY, a TILES tag before each sheet, the last sheet ends with the media', () => {
    const text = writeImagePlaylist(withThumbnails(50));
    expect(text).toBe(
      [
        '#EXTM3U',
        '#EXT-X-VERSION:7',
        '#EXT-X-TARGETDURATION:24',
        '#EXT-X-MEDIA-SEQUENCE:1',
        '#EXT-X-PLAYLIST-TYPE:VOD',
        '#EXT-X-IMAGES-ONLY',
        '#EXT-X-TILES:RESOLUTION=240x136,LAYOUT=4x3,DURATION=2.000',
        '#EXTINF:24.00000,',
        'tile-1.jpg',
        '#EXT-X-TILES:RESOLUTION=240x136,LAYOUT=4x3,DURATION=2.000',
        '#EXTINF:24.00000,',
        'tile-2.jpg',
        '#EXT-X-TILES:RESOLUTION=240x136,LAYOUT=4x3,DURATION=2.000',
        '#EXTINF:2.00000,',
        'tile-3.jpg',
        '#EXT-X-ENDLIST',
        '',
      ].join('\n'),
    );
    expect(writeImagePlaylist(withThumbnails(10), { query: 'token=t' })).toContain('\ntile-1.jpg?token=t\n');
    expect(sheetDurations({ ...TRACK, sheets: 2 }, 48)).toEqual([24, 24]);
    expect(() => writeImagePlaylist(vodPresentation())).toThrow(/no thumbnail track/);
  });

  it('HLS multivariant: one IMAGE-STREAM-INF (one picture’s RESOLUTION), prefixed and signed like the others', () => {
    const master = writeMultivariantPlaylist(withThumbnails(50), { pathPrefix: 'v3/', query: 'token=abc' });
    const lines = master.trimEnd().split('\n');
    expect(lines.filter((l) => l.startsWith('#EXT-X-IMAGE-STREAM-INF'))).toEqual([
      '#EXT-X-IMAGE-STREAM-INF:BANDWIDTH=20000,RESOLUTION=240x136,CODECS="jpeg",URI="v3/thumbnails/index.m3u8?token=abc"',
    ]);
    // after the variants and I-frame streams: clients that ignore the tag see the playlist as before
    expect(lines.at(-1)).toMatch(/^#EXT-X-IMAGE-STREAM-INF/);
    expect(writeMultivariantPlaylist(vodPresentation())).not.toContain('IMAGE');
  });

  it('DASH: an image AdaptationSet of whole sheets, the tile layout as EssentialProperty, schema-valid', async () => {
    const xml = writeMpd(withThumbnails(50), { query: 'token=a$b' });
    expect((await validateMpd(xml)).errors).toBe('');
    const set = /<AdaptationSet id="\d+" contentType="image" mimeType="image\/jpeg">[\s\S]*?<\/AdaptationSet>/.exec(
      xml,
    );
    expect(set?.[0]).toBeDefined();
    const s = set![0];
    // "$" in the query is written "$$" inside a template
    expect(s).toContain(
      '<SegmentTemplate media="thumbnails/tile-$Number$.jpg?token=a$$b" timescale="1000" duration="24000" startNumber="1"/>',
    );
    expect(s).toContain('<Representation id="thumbnails" bandwidth="20000" width="960" height="408">');
    expect(s).toContain('<EssentialProperty schemeIdUri="http://dashif.org/thumbnail_tile" value="4x3"/>');
    // the last set of the Period, after the media
    expect(xml.indexOf('contentType="image"')).toBeGreaterThan(xml.lastIndexOf('contentType="audio"'));
    expect(writeMpd(vodPresentation())).not.toContain('image');
  });

  it('live: one picture per complete segment of the first video rendition, on its numbers, PDTs and timeline', async () => {
    const base = livePresentation();
    const video = base.timelines[0];
    const complete = video.segments.filter((s) => s.complete);
    // pictures for all but the first complete segment, and one missing in between
    const numbers = complete.slice(1).map((s) => s.number);
    const missing = numbers[2];
    const pictures = new Set(numbers.filter((n) => n !== missing));
    const p = { ...base, thumbnails: { ...TRACK, columns: 1, rows: 1, intervalSec: 2, pictures } };
    const text = writeImagePlaylist(p, { query: 'token=t' });
    expect(text).toMatch(new RegExp(`^#EXT-X-MEDIA-SEQUENCE:${numbers[0]}$`, 'm'));
    expect(text).not.toContain('ENDLIST');
    expect(text).not.toContain('PLAYLIST-TYPE');
    const entries = text.split('#EXT-X-PROGRAM-DATE-TIME:').slice(1);
    expect(entries).toHaveLength(numbers.length);
    entries.forEach((e, i) => {
      const s = complete[i + 1];
      expect(e.startsWith(new Date(s.programDateTime!).toISOString())).toBe(true);
      expect(e).toContain('#EXT-X-TILES:RESOLUTION=240x136,LAYOUT=1x1\n');
      expect(e).toContain(`\ntile-${s.number}.jpg?token=t\n`);
      // the missing picture is a gap, not a hole in the sequence
      expect(e.includes('#EXT-X-GAP')).toBe(s.number === missing);
    });
    // no picture of the segment still in production
    expect(text).not.toContain(`tile-${video.segments.at(-1)!.number}.jpg`);
    expect(writeMultivariantPlaylist(p)).toContain(
      '#EXT-X-IMAGE-STREAM-INF:BANDWIDTH=20000,RESOLUTION=240x136,CODECS="jpeg",URI="thumbnails/index.m3u8"',
    );

    const xml = writeMpd(p);
    expect((await validateMpd(xml)).errors).toBe('');
    const set = /<AdaptationSet id="\d+" contentType="image"[\s\S]*?<\/AdaptationSet>/.exec(xml)![0];
    const ts = video.rendition.timescale;
    expect(set).toContain(
      `<SegmentTemplate timescale="${ts}" media="thumbnails/tile-$Number$.jpg" startNumber="${numbers[0]}">`,
    );
    const t = [...set.matchAll(/<S t="(\d+)"/g)].map((m) => Number(m[1]));
    expect(t[0]).toBe(complete[1].start);
    expect(set).toContain('<Representation id="thumbnails" bandwidth="20000" width="240" height="136">');
    expect(set).toContain('value="1x1"');
    // before the first picture: no image stream anywhere
    const none = { ...base, thumbnails: { ...TRACK, columns: 1, rows: 1, pictures: new Set<number>() } };
    expect(writeMpd(none)).not.toContain('contentType="image"');
  });

  it('live, low latency: the media playlists’ PART-HOLD-BACK and PART-TARGET, and no blocking reload (Shaka takes its delay from it)', () => {
    const base = livePresentation({ targetLatency: 2 });
    const pictures = new Set(base.timelines[0].segments.filter((s) => s.complete).map((s) => s.number));
    const p = { ...base, thumbnails: { ...TRACK, columns: 1, rows: 1, intervalSec: 2, pictures } };
    const image = writeImagePlaylist(p);
    const video = writeMediaPlaylist(p, base.timelines[0].rendition.id);
    const tag = (text: string, name: string) => new RegExp(`^#${name}:(.*)$`, 'm').exec(text)?.[1];
    const attr = (list: string | undefined, name: string) => new RegExp(`(?:^|,)${name}=([^,]*)`).exec(list ?? '')?.[1];
    const sc = tag(image, 'EXT-X-SERVER-CONTROL');
    expect(attr(sc, 'PART-HOLD-BACK')).toBe(attr(tag(video, 'EXT-X-SERVER-CONTROL'), 'PART-HOLD-BACK'));
    expect(Number(attr(sc, 'PART-HOLD-BACK'))).toBe(2);
    expect(tag(image, 'EXT-X-PART-INF')).toBe(tag(video, 'EXT-X-PART-INF'));
    // HOLD-BACK: three of its own target durations (RFC 8216bis 4.4.3.8)
    expect(Number(attr(sc, 'HOLD-BACK'))).toBe(3 * Number(tag(image, 'EXT-X-TARGETDURATION')));
    expect(sc).not.toContain('CAN-BLOCK-RELOAD');
    expect(image).not.toContain('#EXT-X-PART:');
    // a channel without low latency, and VOD, state none of it
    const plain = writeImagePlaylist({ ...p, live: { ...p.live!, lowLatency: false } });
    expect(plain).not.toContain('SERVER-CONTROL');
    expect(plain).not.toContain('PART-INF');
    expect(writeImagePlaylist({ ...vodPresentation(), thumbnails: TRACK })).not.toContain('SERVER-CONTROL');
  });
});

describe('the WebVTT thumbnail index', () => {
  it('one cue per picture: its span, and the sheet with the cell as a media fragment; the last ends with the media', () => {
    // 4×3 sheets of 2 s pictures: 24 s a sheet; 27 s of media is 14 pictures, the last 1 s long
    const vtt = writeThumbnailVtt({ ...vodPresentation(), duration: 27, thumbnails: { ...TRACK, sheets: 2 } });
    const cues = vtt
      .split('\n\n')
      .slice(1)
      .map((c) => c.trim())
      .filter((c) => c !== '');
    expect(vtt.startsWith('WEBVTT\n\n')).toBe(true);
    expect(cues).toHaveLength(14);
    expect(cues[0]).toBe('00:00:00.000 --> 00:00:02.000\ntile-1.jpg#xywh=0,0,240,136');
    expect(cues[5]).toBe('00:00:10.000 --> 00:00:12.000\ntile-1.jpg#xywh=240,136,240,136');
    expect(cues[11]).toBe('00:00:22.000 --> 00:00:24.000\ntile-1.jpg#xywh=720,272,240,136');
    expect(cues[12]).toBe('00:00:24.000 --> 00:00:26.000\ntile-2.jpg#xywh=0,0,240,136');
    expect(cues[13]).toBe('00:00:26.000 --> 00:00:27.000\ntile-2.jpg#xywh=240,0,240,136');
    // a signed URL's query goes before the fragment
    const signed = writeThumbnailVtt(
      { ...vodPresentation(), duration: 2, thumbnails: { ...TRACK, sheets: 1 } },
      { query: 'token=t' },
    );
    expect(signed).toContain('tile-1.jpg?token=t#xywh=0,0,240,136');
    expect(() => writeThumbnailVtt(livePresentation())).toThrow(/VOD thumbnails only/);
  });
});
