/**
 * Seek-bar thumbnails in our player (player-demo/player/thumbnails.ts): the HLS image playlist
 * (EXT-X-IMAGE-STREAM-INF, EXT-X-TILES) and the DASH image AdaptationSet (thumbnail_tile) read
 * into one model: sheet URLs resolved against the manifest and its BaseURLs (the stable entry
 * point's `v1/` prefix, a signed URL's `?token=` kept), each sheet's start and length (a last
 * sheet partly filled), the grid and interval; and the cell for a time, at cell and sheet
 * boundaries, before 0 and past the end. Live, as our origin writes it (one picture per segment):
 * the HLS image playlist's pictures at their PROGRAM-DATE-TIMEs, an EXT-X-GAP shown as none, a later
 * window (a later media sequence) placing the pictures it still lists where the earlier one did;
 * the dynamic MPD's SegmentTimeline (r repeats, startNumber, presentationTimeOffset). Then the
 * sources, over a loopback server: the image stream is never a video rendition, its sheets are
 * there, and a manifest without one has none (HLS: no request for it); live, the image playlist
 * and the MPD are read again as the window slides.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  readDashThumbnails,
  readHlsImagePlaylist,
  readHlsImageStream,
  thumbnailAt,
  type ThumbnailModel,
} from '../../../player-demo/player/thumbnails.js';
import { HlsSource } from '../../../player-demo/player/hls-source.js';
import { DashSource } from '../../../player-demo/player/dash-source.js';
import { loopbackServer, type LoopbackServer } from '../../support/loopback-server.js';

const IMAGE_STREAM = `#EXT-X-IMAGE-STREAM-INF:BANDWIDTH=16000,RESOLUTION=240x136,CODECS="jpeg",URI="thumbnails/index.m3u8"`;

/** The multivariant playlist of a version folder: one video variant, its I-frame playlist, and `extra`. */
function multivariant(extra: string, prefix = ''): string {
  return `#EXTM3U
#EXT-X-VERSION:4
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-STREAM-INF:BANDWIDTH=728136,CODECS="avc1.4d401e",RESOLUTION=640x360,FRAME-RATE=30.000
${prefix}360p/index.m3u8
#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=36056,CODECS="avc1.4d401e",RESOLUTION=640x360,URI="${prefix}360p/iframes.m3u8"
${extra}
`;
}

/** The image playlist of the brief: a full 5x5 sheet of 4 s pictures (100 s), then one of 20.48 s. */
function imagePlaylist(query = ''): string {
  return `#EXTM3U
#EXT-X-VERSION:7
#EXT-X-TARGETDURATION:100
#EXT-X-MEDIA-SEQUENCE:1
#EXT-X-PLAYLIST-TYPE:VOD
#EXT-X-IMAGES-ONLY
#EXT-X-TILES:RESOLUTION=240x136,LAYOUT=5x5,DURATION=4.000
#EXTINF:100.000,
tile-1.jpg${query}
#EXT-X-TILES:RESOLUTION=240x136,LAYOUT=5x5,DURATION=4.000
#EXTINF:20.480,
tile-2.jpg${query}
#EXT-X-ENDLIST
`;
}

/** A static MPD of 120.48 s with a video AdaptationSet and `image` (an image AdaptationSet), MPD-level `baseUrl`. */
function mpd(image: string, { baseUrl = '', type = 'static' } = {}): string {
  const live =
    type === 'dynamic'
      ? 'availabilityStartTime="2026-01-01T00:00:00Z" minimumUpdatePeriod="PT2S"'
      : 'mediaPresentationDuration="PT2M0.48S"';
  return `<?xml version="1.0" encoding="UTF-8"?>
<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" profiles="urn:mpeg:dash:profile:isoff-live:2011" type="${type}" ${live} minBufferTime="PT2S">
  ${baseUrl ? `<BaseURL>${baseUrl}</BaseURL>` : ''}
  <Period id="0" start="PT0S">
    <AdaptationSet id="0" contentType="video" mimeType="video/mp4" segmentAlignment="true">
      <SegmentTemplate timescale="1000" media="$RepresentationID$/seg-$Number$.m4s" initialization="$RepresentationID$/init.mp4" duration="2000" startNumber="1"/>
      <Representation id="360p" bandwidth="628632" codecs="avc1.4d401e" width="640" height="360"/>
      <Representation id="240p" bandwidth="322576" codecs="avc1.4d4015" width="426" height="240"/>
    </AdaptationSet>
    ${image}
  </Period>
</MPD>
`;
}

/** The image AdaptationSet of the brief; `property` goes on the Representation, `setProperty` on the set. */
function imageSet({
  media = 'thumbnails/tile-$Number$.jpg',
  property = '<EssentialProperty schemeIdUri="http://dashif.org/thumbnail_tile" value="5x5"/>',
  setProperty = '',
} = {}): string {
  return `<AdaptationSet id="2" contentType="image" mimeType="image/jpeg">
      ${setProperty}
      <SegmentTemplate media="${media}" timescale="1000" duration="100000" startNumber="1"/>
      <Representation id="thumbnails" bandwidth="16000" width="1200" height="680">
        ${property}
      </Representation>
    </AdaptationSet>`;
}

const LAYOUT_5X5 = { width: 240, height: 136, columns: 5, rows: 5, intervalSec: 4 };

/** The sheets' URLs, starts and lengths (rounded to the ms). */
function sheetsOf(m: ThumbnailModel | null): { url: string; startSec: number; durationSec: number }[] {
  return (m?.sheets ?? []).map((s) => ({
    url: s.url,
    startSec: Math.round(s.startSec * 1000) / 1000,
    durationSec: Math.round(s.durationSec * 1000) / 1000,
  }));
}

describe('HLS: EXT-X-IMAGE-STREAM-INF and the image playlist', () => {
  it('finds the image stream in the multivariant playlist, and none where there is none', () => {
    expect(readHlsImageStream(multivariant(IMAGE_STREAM), 'https://cdn.test/vod/movie/v1/master.m3u8')).toEqual({
      url: 'https://cdn.test/vod/movie/v1/thumbnails/index.m3u8',
      bandwidth: 16000,
      resolution: [240, 136],
    });
    expect(readHlsImageStream(multivariant(''), 'https://cdn.test/vod/movie/v1/master.m3u8')).toBeNull();
  });

  it("the stable entry point's version prefix and a query token stay in the image playlist's URL", () => {
    const line = IMAGE_STREAM.replace('URI="thumbnails/', 'URI="v1/thumbnails/').replace(
      'index.m3u8"',
      'index.m3u8?token=abc%2Fdef"',
    );
    const stream = readHlsImageStream(
      multivariant(line, 'v1/'),
      'https://cdn.test/vod/movie/master.m3u8?token=abc%2Fdef',
    );
    expect(stream?.url).toBe('https://cdn.test/vod/movie/v1/thumbnails/index.m3u8?token=abc%2Fdef');
  });

  it('reads each sheet: URL, start, length, grid and interval; the last one partly filled', () => {
    const url = 'https://cdn.test/vod/movie/v1/thumbnails/index.m3u8';
    const m = readHlsImagePlaylist(imagePlaylist(), url, { url, bandwidth: 16000, resolution: [240, 136] });
    expect(m?.layout).toEqual(LAYOUT_5X5);
    expect(m?.bandwidth).toBe(16000);
    expect(m?.sheets.map((s) => s.layout)).toEqual([LAYOUT_5X5, LAYOUT_5X5]);
    expect(sheetsOf(m)).toEqual([
      { url: 'https://cdn.test/vod/movie/v1/thumbnails/tile-1.jpg', startSec: 0, durationSec: 100 },
      { url: 'https://cdn.test/vod/movie/v1/thumbnails/tile-2.jpg', startSec: 100, durationSec: 20.48 },
    ]);
  });

  it("keeps the token the playlist's URIs carry (query placement), and the playlist URL's where they carry none", () => {
    const url = 'https://cdn.test/vod/movie/v1/thumbnails/index.m3u8?token=t0k';
    const signed = [
      'https://cdn.test/vod/movie/v1/thumbnails/tile-1.jpg?token=t0k',
      'https://cdn.test/vod/movie/v1/thumbnails/tile-2.jpg?token=t0k',
    ];
    expect(readHlsImagePlaylist(imagePlaylist('?token=t0k'), url)?.sheets.map((s) => s.url)).toEqual(signed);
    expect(readHlsImagePlaylist(imagePlaylist(), url)?.sheets.map((s) => s.url)).toEqual(signed);
  });

  it('EXT-X-TILES without DURATION spreads the pictures over the EXTINF; an image without tiles is one picture', () => {
    const text = `#EXTM3U
#EXT-X-IMAGES-ONLY
#EXT-X-TILES:RESOLUTION=160x90,LAYOUT=2x2
#EXTINF:8,
a.jpg
#EXTINF:5,
b.jpg
#EXT-X-ENDLIST
`;
    const url = 'https://cdn.test/t/index.m3u8';
    const m = readHlsImagePlaylist(text, url, { url, resolution: [320, 180] });
    expect(m?.sheets[0].layout).toEqual({ width: 160, height: 90, columns: 2, rows: 2, intervalSec: 2 });
    // (an image without its own EXT-X-TILES keeps the one before it)
    expect(m?.sheets[1].layout).toEqual({ width: 160, height: 90, columns: 2, rows: 2, intervalSec: 2 });
    const plain = readHlsImagePlaylist(text.replace(/#EXT-X-TILES:.*\n/, ''), url, { url, resolution: [320, 180] });
    expect(plain?.sheets.map((s) => s.layout)).toEqual([
      { width: 320, height: 180, columns: 1, rows: 1, intervalSec: 8 },
      { width: 320, height: 180, columns: 1, rows: 1, intervalSec: 5 },
    ]);
  });

  it('a live image playlist (no EXT-X-ENDLIST) without PROGRAM-DATE-TIME cannot be placed: none', () => {
    const text = imagePlaylist().replace('#EXT-X-ENDLIST\n', '').replace('#EXT-X-PLAYLIST-TYPE:VOD\n', '');
    expect(readHlsImagePlaylist(text, 'https://cdn.test/t/index.m3u8')).toBeNull();
  });
});

/** The PDT of the live image playlists below: segment n starts 2 n s after it. */
const LIVE_ZERO_MS = Date.parse('2026-12-05T21:00:24.128Z');

/**
 * A live image playlist as our origin writes it: segments `from` to `to` of 2 s, one 160×90
 * picture each, dated by PDT; the numbers in `gaps` are EXT-X-GAP entries.
 */
function liveImagePlaylist(from: number, to: number, gaps: number[] = []): string {
  const lines = ['#EXTM3U', '#EXT-X-VERSION:7', '#EXT-X-TARGETDURATION:2', `#EXT-X-MEDIA-SEQUENCE:${from}`];
  lines.push('#EXT-X-IMAGES-ONLY');
  for (let n = from; n <= to; n++) {
    lines.push(`#EXT-X-PROGRAM-DATE-TIME:${new Date(LIVE_ZERO_MS + n * 2000).toISOString()}`);
    lines.push('#EXT-X-TILES:RESOLUTION=160x90,LAYOUT=1x1');
    if (gaps.includes(n)) lines.push('#EXT-X-GAP');
    lines.push('#EXTINF:2.00000,', `tile-${n}.jpg`);
  }
  return lines.join('\n') + '\n';
}

describe('HLS live: the image playlist of a sliding window', () => {
  const url = 'https://cdn.test/live/ch/thumbnails/index.m3u8';
  const tile = (n: number) => `https://cdn.test/live/ch/thumbnails/tile-${n}.jpg`;
  /** Segment n's PDT, epoch seconds: the timeline a live image playlist is read on. */
  const pdtSec = (n: number) => (LIVE_ZERO_MS + n * 2000) / 1000;

  it('places each picture at its PROGRAM-DATE-TIME, for its EXTINF, one 160×90 picture a sheet', () => {
    const m = readHlsImagePlaylist(liveImagePlaylist(5, 8), url, { url, bandwidth: 13164, resolution: [160, 90] });
    expect(m?.layout).toEqual({ width: 160, height: 90, columns: 1, rows: 1, intervalSec: 2 });
    expect(m?.sheets.map((s) => [s.url, s.startSec, s.durationSec])).toEqual(
      [5, 6, 7, 8].map((n) => [tile(n), pdtSec(n), 2]),
    );
    expect(thumbnailAt(m!, pdtSec(6))).toEqual({
      url: tile(6),
      x: 0,
      y: 0,
      width: 160,
      height: 90,
      startSec: pdtSec(6),
      durationSec: 2,
    });
    expect(thumbnailAt(m!, pdtSec(6) + 1.999)?.url).toBe(tile(6));
    expect(thumbnailAt(m!, pdtSec(7))?.url).toBe(tile(7));
    // before the window, and past its newest picture
    expect(thumbnailAt(m!, pdtSec(5) - 0.001)).toBeNull();
    expect(thumbnailAt(m!, pdtSec(9))).toBeNull();
  });

  it('an EXT-X-GAP entry is no picture: nothing for its time, and the ones after it stay in place', () => {
    const m = readHlsImagePlaylist(liveImagePlaylist(5, 8, [6]), url)!;
    expect(m.sheets.map((s) => s.url)).toEqual([tile(5), tile(7), tile(8)]);
    expect(thumbnailAt(m, pdtSec(6) + 1)).toBeNull();
    expect(thumbnailAt(m, pdtSec(7) + 1)).toMatchObject({ url: tile(7), startSec: pdtSec(7) });
    // a gap first: the window's first picture is the next one
    expect(readHlsImagePlaylist(liveImagePlaylist(5, 6, [5]), url)?.sheets.map((s) => s.url)).toEqual([tile(6)]);
  });

  it('a later window (a later media sequence): the pictures it still lists are where they were, the new ones after', () => {
    const earlier = readHlsImagePlaylist(liveImagePlaylist(5, 8), url)!;
    const later = readHlsImagePlaylist(liveImagePlaylist(7, 11), url)!;
    expect(later.sheets.map((s) => s.url)).toEqual([7, 8, 9, 10, 11].map(tile));
    for (const n of [7, 8]) expect(thumbnailAt(later, pdtSec(n) + 1)).toEqual(thumbnailAt(earlier, pdtSec(n) + 1));
    expect(thumbnailAt(later, pdtSec(11) + 1.5)?.url).toBe(tile(11));
    // slid out of the window
    expect(thumbnailAt(later, pdtSec(6) + 1)).toBeNull();
  });

  it('an entry without a PROGRAM-DATE-TIME of its own follows the one before it; one before any is left out', () => {
    const text = liveImagePlaylist(5, 7);
    const without7 = text.replace(`#EXT-X-PROGRAM-DATE-TIME:${new Date(LIVE_ZERO_MS + 14_000).toISOString()}\n`, '');
    expect(readHlsImagePlaylist(without7, url)?.sheets.map((s) => s.startSec)).toEqual([5, 6, 7].map(pdtSec));
    const without5 = text.replace(`#EXT-X-PROGRAM-DATE-TIME:${new Date(LIVE_ZERO_MS + 10_000).toISOString()}\n`, '');
    expect(readHlsImagePlaylist(without5, url)?.sheets.map((s) => s.url)).toEqual([tile(6), tile(7)]);
  });
});

describe('thumbnailAt: the cell for a time', () => {
  const m = readHlsImagePlaylist(imagePlaylist(), 'https://cdn.test/t/index.m3u8')!;
  const tile1 = 'https://cdn.test/t/tile-1.jpg';
  const tile2 = 'https://cdn.test/t/tile-2.jpg';
  const cell = (t: number) => thumbnailAt(m, t);

  it('fills a sheet row by row, left to right, one picture per interval', () => {
    expect(cell(0)).toEqual({ url: tile1, x: 0, y: 0, width: 240, height: 136, startSec: 0, durationSec: 4 });
    expect(cell(3.999)).toMatchObject({ x: 0, y: 0, startSec: 0 });
    // a cell's edge belongs to the next cell
    expect(cell(4)).toMatchObject({ url: tile1, x: 240, y: 0, startSec: 4 });
    expect(cell(19.999)).toMatchObject({ x: 960, y: 0, startSec: 16 });
    // the sixth picture starts the second row
    expect(cell(20)).toMatchObject({ x: 0, y: 136, startSec: 20 });
    expect(cell(57)).toMatchObject({ x: 960, y: 272, startSec: 56 });
    // the last cell of a full sheet, then the next sheet's first
    expect(cell(99.999)).toMatchObject({ url: tile1, x: 960, y: 544, startSec: 96, durationSec: 4 });
    expect(cell(100)).toMatchObject({ url: tile2, x: 0, y: 0, startSec: 100, durationSec: 4 });
  });

  it('in the partly filled last sheet: its last picture lasts to the end, then nothing', () => {
    const last = cell(120.2);
    expect(last).toMatchObject({ url: tile2, x: 0, y: 136, startSec: 120 });
    expect(last?.durationSec).toBeCloseTo(0.48, 9);
    expect(cell(120.48)).toBeNull();
    expect(cell(500)).toBeNull();
  });

  it('a sheet listed a little longer than its grid keeps its last cell to its end', () => {
    const longer = readHlsImagePlaylist(
      imagePlaylist().replace('#EXTINF:100.000,', '#EXTINF:100.040,'),
      'https://cdn.test/t/index.m3u8',
    )!;
    expect(thumbnailAt(longer, 100.02)).toMatchObject({ url: tile1, x: 960, y: 544, startSec: 96 });
  });

  it('before 0 (and for no time at all) there is none', () => {
    expect(cell(-0.001)).toBeNull();
    expect(cell(Number.NaN)).toBeNull();
  });

  it('a time k × interval lands in cell k, whatever the float rounding (0.3 = 3 × 0.1)', () => {
    const fine = readHlsImagePlaylist(
      `#EXTM3U\n#EXT-X-TILES:RESOLUTION=10x10,LAYOUT=10x10,DURATION=0.1\n#EXTINF:10,\na.jpg\n#EXT-X-ENDLIST\n`,
      'https://cdn.test/t/index.m3u8',
    )!;
    expect(0.3 / 0.1).toBeLessThan(3); // (the case)
    expect(thumbnailAt(fine, 0.3)).toMatchObject({ x: 30, y: 0 });
    expect(thumbnailAt(fine, 2.3)).toMatchObject({ x: 30, y: 20 });
  });
});

describe('DASH: the image AdaptationSet', () => {
  const mpdUrl = 'https://cdn.test/vod/movie/manifest.mpd';

  it("reads the sheets: the template's numbers, the whole sheet's size over the grid, the last sheet to the end", () => {
    const m = readDashThumbnails(mpd(imageSet(), { baseUrl: 'v1/' }), mpdUrl);
    expect(m?.layout).toEqual(LAYOUT_5X5);
    expect(m?.bandwidth).toBe(16000);
    // the stable entry point's MPD-level BaseURL
    expect(sheetsOf(m)).toEqual([
      { url: 'https://cdn.test/vod/movie/v1/thumbnails/tile-1.jpg', startSec: 0, durationSec: 100 },
      { url: 'https://cdn.test/vod/movie/v1/thumbnails/tile-2.jpg', startSec: 100, durationSec: 20.48 },
    ]);
    expect(thumbnailAt(m!, 101)).toMatchObject({ url: m!.sheets[1].url, x: 0, y: 0, startSec: 100 });
    expect(thumbnailAt(m!, 120.48)).toBeNull();
  });

  it('keeps the token of a signed MPD (query placement: template and BaseURL carry it), or of its URL', () => {
    const text = mpd(imageSet({ media: 'thumbnails/tile-$Number$.jpg?token=t0k' }), { baseUrl: 'v1/?token=t0k' });
    const signed = [
      'https://cdn.test/vod/movie/v1/thumbnails/tile-1.jpg?token=t0k',
      'https://cdn.test/vod/movie/v1/thumbnails/tile-2.jpg?token=t0k',
    ];
    expect(readDashThumbnails(text, `${mpdUrl}?token=t0k`)?.sheets.map((s) => s.url)).toEqual(signed);
    // (an MPD whose URLs carry none: the MPD URL's, as for the Clear Key license)
    const bare = mpd(imageSet(), { baseUrl: 'v1/' });
    expect(readDashThumbnails(bare, `${mpdUrl}?token=t0k`)?.sheets.map((s) => s.url)).toEqual(signed);
  });

  it('the thumbnail_tile property on the AdaptationSet, and under the older guidelines scheme', () => {
    const onSet = imageSet({
      property: '',
      setProperty: '<EssentialProperty schemeIdUri="http://dashif.org/thumbnail_tile" value="4x2"/>',
    });
    expect(readDashThumbnails(mpd(onSet), mpdUrl)?.layout).toEqual({
      width: 300,
      height: 340,
      columns: 4,
      rows: 2,
      intervalSec: 12.5,
    });
    const old = imageSet({
      property: '<EssentialProperty schemeIdUri="http://dashif.org/guidelines/thumbnail_tile" value="10x20"/>',
    });
    expect(readDashThumbnails(mpd(old), mpdUrl)?.layout).toEqual({
      width: 120,
      height: 34,
      columns: 10,
      rows: 20,
      intervalSec: 0.5,
    });
    // another scheme is no tiling: one picture per image
    const other = imageSet({ property: '<EssentialProperty schemeIdUri="urn:example:tiles" value="5x5"/>' });
    expect(readDashThumbnails(mpd(other), mpdUrl)?.layout).toEqual({
      width: 1200,
      height: 680,
      columns: 1,
      rows: 1,
      intervalSec: 100,
    });
  });

  it('each Period of several has its own sheets, from its start, numbered from startNumber', () => {
    const text = `<?xml version="1.0" encoding="UTF-8"?>
<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static" mediaPresentationDuration="PT30S" minBufferTime="PT2S">
  <Period id="ad" start="PT0S" duration="PT10S">
    <AdaptationSet contentType="image" mimeType="image/jpeg">
      <SegmentTemplate media="ad/tile-$Number$.jpg" timescale="1" duration="6" startNumber="1"/>
      <Representation id="ad-thumbs" bandwidth="1000" width="200" height="100">
        <EssentialProperty schemeIdUri="http://dashif.org/thumbnail_tile" value="2x1"/>
      </Representation>
    </AdaptationSet>
  </Period>
  <Period id="main" start="PT10S">
    <AdaptationSet contentType="image" mimeType="image/jpeg">
      <SegmentTemplate media="main/tile-$Number$.jpg" timescale="1" duration="20" startNumber="7"/>
      <Representation id="thumbs" bandwidth="1000" width="200" height="100">
        <EssentialProperty schemeIdUri="http://dashif.org/thumbnail_tile" value="2x1"/>
      </Representation>
    </AdaptationSet>
  </Period>
</MPD>`;
    const m = readDashThumbnails(text, mpdUrl);
    expect(sheetsOf(m)).toEqual([
      { url: 'https://cdn.test/vod/movie/ad/tile-1.jpg', startSec: 0, durationSec: 6 },
      { url: 'https://cdn.test/vod/movie/ad/tile-2.jpg', startSec: 6, durationSec: 4 },
      { url: 'https://cdn.test/vod/movie/main/tile-7.jpg', startSec: 10, durationSec: 20 },
    ]);
    expect(thumbnailAt(m!, 12)).toMatchObject({ url: 'https://cdn.test/vod/movie/main/tile-7.jpg', x: 0 });
    expect(thumbnailAt(m!, 20)).toMatchObject({ url: 'https://cdn.test/vod/movie/main/tile-7.jpg', x: 100 });
  });

  it('none in an MPD without an image AdaptationSet, nor in a live one numbered by @duration (no Period end)', () => {
    expect(readDashThumbnails(mpd(''), mpdUrl)).toBeNull();
    expect(readDashThumbnails(mpd(imageSet(), { type: 'dynamic' }), mpdUrl)).toBeNull();
  });
});

/**
 * A live MPD as our origin writes it (timescale 15360, 2 s segments): the video's SegmentTimeline,
 * copied into the image AdaptationSet with its startNumber; `periodAttrs` and `pto` move it.
 */
function liveMpd(timeline: string, startNumber: number, { periodAttrs = 'start="PT0S"', pto = '' } = {}): string {
  const template = (media: string, extra = '') =>
    `<SegmentTemplate timescale="15360" ${pto ? `presentationTimeOffset="${pto}"` : ''} media="${media}" startNumber="${startNumber}" ${extra}>
        <SegmentTimeline>${timeline}</SegmentTimeline>
      </SegmentTemplate>`;
  return `<?xml version="1.0" encoding="UTF-8"?>
<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="dynamic" availabilityStartTime="2026-12-05T21:06:10.622Z" minimumUpdatePeriod="PT2S" timeShiftBufferDepth="PT30S" minBufferTime="PT2S">
  <Period id="0" ${periodAttrs}>
    <AdaptationSet id="0" contentType="video" mimeType="video/mp4">
      ${template('$RepresentationID$/seg-$Number$.m4s', 'initialization="$RepresentationID$/init.mp4"')}
      <Representation id="180p" bandwidth="202500" codecs="avc1.4d400d" width="320" height="180"/>
    </AdaptationSet>
    <AdaptationSet id="2" contentType="image" mimeType="image/jpeg">
      ${template('thumbnails/tile-$Number$.jpg')}
      <Representation id="thumbnails" bandwidth="13164" width="160" height="90">
        <EssentialProperty schemeIdUri="http://dashif.org/thumbnail_tile" value="1x1"/>
      </Representation>
    </AdaptationSet>
  </Period>
</MPD>
`;
}

describe('DASH live: the image AdaptationSet on a SegmentTimeline', () => {
  const mpdUrl = 'https://cdn.test/live/ch/manifest.mpd';
  const tile = (n: number) => `https://cdn.test/live/ch/thumbnails/tile-${n}.jpg`;

  it('one picture per listed segment, r repeats unrolled, numbered from startNumber, at t / timescale', () => {
    // four segments of 2 s (r=3), then one of 1.5 s: numbers 40…44
    const m = readDashThumbnails(liveMpd('<S t="1797" d="30720" r="3"/><S d="23040"/>', 40), mpdUrl);
    expect(m?.layout).toEqual({ width: 160, height: 90, columns: 1, rows: 1, intervalSec: 2 });
    expect(m?.bandwidth).toBe(13164);
    const start = (k: number) => (1797 + k * 30720) / 15360;
    expect(m?.sheets.map((s) => [s.url, s.startSec, s.durationSec])).toEqual([
      [tile(40), start(0), 2],
      [tile(41), start(1), 2],
      [tile(42), start(2), 2],
      [tile(43), start(3), 2],
      [tile(44), start(4), 1.5],
    ]);
    expect(thumbnailAt(m!, start(2) + 1.99)).toEqual({
      url: tile(42),
      x: 0,
      y: 0,
      width: 160,
      height: 90,
      startSec: start(2),
      durationSec: 2,
    });
    expect(thumbnailAt(m!, start(4) + 1.49)?.url).toBe(tile(44));
    expect(thumbnailAt(m!, start(4) + 1.5)).toBeNull();
    expect(thumbnailAt(m!, start(0) - 0.01)).toBeNull();
  });

  it('a later MPD (the window slid on, a later startNumber): the same segment keeps its picture and time', () => {
    const earlier = readDashThumbnails(liveMpd('<S t="1797" d="30720" r="4"/>', 0), mpdUrl)!;
    const later = readDashThumbnails(liveMpd(`<S t="${1797 + 3 * 30720}" d="30720" r="5"/>`, 3), mpdUrl)!;
    expect(later.sheets.map((s) => s.url)).toEqual([3, 4, 5, 6, 7, 8].map(tile));
    for (const n of [3, 4]) expect(later.sheets[n - 3]).toEqual(earlier.sheets[n]);
  });

  it("on the Period timeline: the Period's start plus (t − presentationTimeOffset) / timescale", () => {
    const m = readDashThumbnails(
      liveMpd('<S t="307200" d="30720" r="1"/>', 7, { periodAttrs: 'start="PT100S"', pto: '153600' }),
      mpdUrl,
    );
    expect(m?.sheets.map((s) => [s.url, s.startSec])).toEqual([
      [tile(7), 110],
      [tile(8), 112],
    ]);
  });

  it('r = -1 repeats up to the next S', () => {
    const m = readDashThumbnails(liveMpd('<S t="0" d="30720" r="-1"/><S t="92160" d="15360"/>', 1), mpdUrl);
    expect(m?.sheets.map((s) => [s.startSec, s.durationSec])).toEqual([
      [0, 2],
      [2, 2],
      [4, 2],
      [6, 1],
    ]);
  });
});

describe('the sources: thumbnails beside the ladder, never in it', () => {
  let server: LoopbackServer;
  let base = '';
  const files = new Map<string, string>();
  const asked: string[] = [];
  const media = `#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-PLAYLIST-TYPE:VOD\n#EXT-X-MAP:URI="init.mp4"\n#EXTINF:2,\nseg-1.m4s\n#EXT-X-ENDLIST\n`;

  beforeAll(async () => {
    server = await loopbackServer((req, res) => {
      const path = (req.url ?? '/').replace(/\?.*$/, '');
      asked.push(path);
      const body = files.get(path);
      if (body === undefined) return void res.writeHead(404).end();
      res.writeHead(200).end(body);
    });
    base = server.base;
    files.set('/with/master.m3u8', multivariant(IMAGE_STREAM));
    files.set('/with/360p/index.m3u8', media);
    files.set('/with/thumbnails/index.m3u8', imagePlaylist());
    files.set('/without/master.m3u8', multivariant(''));
    files.set('/without/360p/index.m3u8', media);
    files.set('/with/manifest.mpd', mpd(imageSet()));
    files.set('/without/manifest.mpd', mpd(''));
  });

  afterAll(() => server.close());

  it('HLS: the image stream is no variant; its sheets come from the image playlist', async () => {
    const source = new HlsSource(`${base}/with/master.m3u8`, {});
    await source.open(new AbortController().signal);
    expect(source.video.map((v) => v.id)).toEqual(['360p']);
    expect(source.video.map((v) => v.bitrate)).toEqual([728136]);
    // read in the background: there once its request is answered
    await vi.waitFor(() => expect(source.thumbnails()).not.toBeNull());
    expect(sheetsOf(source.thumbnails())).toEqual([
      { url: `${base}/with/thumbnails/tile-1.jpg`, startSec: 0, durationSec: 100 },
      { url: `${base}/with/thumbnails/tile-2.jpg`, startSec: 100, durationSec: 20.48 },
    ]);
    expect(source.thumbnails()?.bandwidth).toBe(16000);
    source.close();
  });

  it('HLS without an image stream: no thumbnails, and no request beyond the playlists', async () => {
    asked.length = 0;
    const source = new HlsSource(`${base}/without/master.m3u8`, {});
    await source.open(new AbortController().signal);
    expect(source.video.map((v) => v.id)).toEqual(['360p']);
    expect(source.thumbnails()).toBeNull();
    expect(asked).toEqual(['/without/master.m3u8', '/without/360p/index.m3u8']);
    source.close();
  });

  it('DASH: the image AdaptationSet is no Representation of the ladder; its sheets are read from the MPD', async () => {
    const source = new DashSource(`${base}/with/manifest.mpd`, {});
    await source.open(new AbortController().signal);
    expect(source.video.map((v) => v.id)).toEqual(['240p', '360p']);
    expect(source.audioTracks).toEqual([]);
    expect(source.thumbnails()?.layout).toEqual(LAYOUT_5X5);
    expect(sheetsOf(source.thumbnails()).map((s) => s.url)).toEqual([
      `${base}/with/thumbnails/tile-1.jpg`,
      `${base}/with/thumbnails/tile-2.jpg`,
    ]);
    const without = new DashSource(`${base}/without/manifest.mpd`, {});
    await without.open(new AbortController().signal);
    expect(without.video.map((v) => v.id)).toEqual(['240p', '360p']);
    expect(without.thumbnails()).toBeNull();
  });
  it('HLS live: the image playlist is read again every target duration; the model follows its window', async () => {
    const live = (from: number, to: number) =>
      [
        '#EXTM3U',
        '#EXT-X-TARGETDURATION:1',
        `#EXT-X-MEDIA-SEQUENCE:${from}`,
        '#EXT-X-MAP:URI="init.mp4"',
        ...Array.from({ length: to - from + 1 }, (_, i) => [
          `#EXT-X-PROGRAM-DATE-TIME:${new Date(LIVE_ZERO_MS + (from + i) * 1000).toISOString()}`,
          '#EXTINF:1.00000,',
          `seg-${from + i}.m4s`,
        ]).flat(),
      ].join('\n') + '\n';
    const images = (from: number, to: number) =>
      liveImagePlaylist(from, to).replace('#EXT-X-TARGETDURATION:2', '#EXT-X-TARGETDURATION:1');
    files.set('/live/master.m3u8', multivariant(IMAGE_STREAM));
    files.set('/live/360p/index.m3u8', live(5, 8));
    files.set('/live/thumbnails/index.m3u8', images(5, 8));
    const source = new HlsSource(`${base}/live/master.m3u8`, {});
    try {
      await source.open(new AbortController().signal);
      expect(source.live).toBe(true);
      const urls = () => source.thumbnails()?.sheets.map((s) => s.url.replace(base, ''));
      await vi.waitFor(() => expect(urls()).toEqual([5, 6, 7, 8].map((n) => `/live/thumbnails/tile-${n}.jpg`)));
      // the window slides on: the next read (a target duration later) has it
      files.set('/live/thumbnails/index.m3u8', images(7, 10));
      await vi.waitFor(() => expect(urls()).toEqual([7, 8, 9, 10].map((n) => `/live/thumbnails/tile-${n}.jpg`)), {
        timeout: 5000,
      });
    } finally {
      source.close();
    }
  });

  it('HLS live: an image playlist not there yet (503 at first) is asked again until it is', async () => {
    const live = [
      '#EXTM3U',
      '#EXT-X-TARGETDURATION:1',
      '#EXT-X-MEDIA-SEQUENCE:5',
      '#EXT-X-MAP:URI="init.mp4"',
      `#EXT-X-PROGRAM-DATE-TIME:${new Date(LIVE_ZERO_MS + 5000).toISOString()}`,
      '#EXTINF:1.00000,',
      'seg-5.m4s',
    ].join('\n');
    files.set('/young/master.m3u8', multivariant(IMAGE_STREAM));
    files.set('/young/360p/index.m3u8', `${live}\n`);
    // no picture yet: the origin answers 404 here (the server above), as a young channel's 503
    const source = new HlsSource(`${base}/young/master.m3u8`, {});
    try {
      await source.open(new AbortController().signal);
      expect(source.live).toBe(true);
      await vi.waitFor(() => expect(asked.filter((p) => p === '/young/thumbnails/index.m3u8').length).toBe(2), {
        timeout: 5000,
      });
      expect(source.thumbnails()).toBeNull();
      files.set('/young/thumbnails/index.m3u8', liveImagePlaylist(5, 6));
      await vi.waitFor(() => expect(source.thumbnails()?.sheets.length).toBe(2), { timeout: 10_000 });
    } finally {
      source.close();
    }
  });

  it('DASH live: the image set is read again with each MPD the source reloads', async () => {
    files.set('/live/manifest.mpd', liveMpd('<S t="0" d="30720" r="2"/>', 0).replace('PT2S', 'PT1S'));
    const source = new DashSource(`${base}/live/manifest.mpd`, {});
    const signal = new AbortController().signal;
    await source.open(signal);
    expect(source.live).toBe(true);
    const urls = () => source.thumbnails()?.sheets.map((s) => s.url.replace(base, ''));
    expect(urls()).toEqual([0, 1, 2].map((n) => `/live/thumbnails/tile-${n}.jpg`));
    // the next MPD lists two more segments: asking for the first of them reloads it
    files.set('/live/manifest.mpd', liveMpd('<S t="30720" d="30720" r="3"/>', 1).replace('PT2S', 'PT1S'));
    expect(await source.chunkAt('180p', { msn: 3, part: 0 }, signal)).toMatchObject({ msn: 3 });
    expect(urls()).toEqual([1, 2, 3, 4].map((n) => `/live/thumbnails/tile-${n}.jpg`));
  });
});
