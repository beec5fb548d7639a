/**
 * The thumbnail track in the manifests: the HLS image media playlist (src/hls/image-playlist.ts,
 * the Image Media Playlist spec v0.4 that Roku and Shaka read), its EXT-X-IMAGE-STREAM-INF in the
 * multivariant playlist, and the DASH image AdaptationSet (DASH-IF IOP 4.3 §6.2.6), schema-valid.
 * A presentation without one is written as before.
 */
import { describe, expect, it } from 'vitest';
import { writeMpd } from '../../../src/dash/mpd.js';
import { sheetDurations, writeImagePlaylist } from '../../../src/hls/image-playlist.js';
import { writeMultivariantPlaylist } from '../../../src/hls/multivariant.js';
import type { ThumbnailTrack } from '../../../src/media/presentation.js';
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

  it('live presentations get no thumbnail set (VOD only, for now)', () => {
    const p = { ...livePresentation(), thumbnails: { ...TRACK, sheets: 1 } };
    expect(writeMpd(p)).not.toContain('contentType="image"');
    expect(writeMultivariantPlaylist(p)).not.toContain('IMAGE');
  });
});
