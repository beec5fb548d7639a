import { describe, expect, it } from 'vitest';
import { routeLabel } from '../../../packager/origin/request-metrics.js';
import { etagFor } from '../../../packager/origin/etag.js';
import { checkRelativePath } from '../../../packager/origin/safe-path.js';
import { advancePartLimit, parseDirectives } from '../../../packager/origin/blocking-reload.js';
import { contentTypeFor } from '../../../packager/origin/content-type.js';
import { liveMpdCdnCacheControl, livePlaylistCdnCacheControl } from '../../../packager/origin/cache-headers.js';

describe('origin entity-tags', () => {
  it('are size + mtime, weak for manifests', () => {
    const st = { size: 1234, mtimeMs: Date.parse('2024-01-02T03:04:05.678Z') };
    expect(etagFor(st, false)).toBe(`"4d2-${Math.floor(st.mtimeMs).toString(16)}"`);
    expect(etagFor(st, true)).toBe(`W/${etagFor(st, false)}`);
  });
});

describe('safe relative paths', () => {
  const bad = (p: string) => {
    const r = checkRelativePath(p);
    expect(r.ok, p).toBe(false);
    return r.ok ? 0 : r.status;
  };
  it('accepts plain names and decodes each segment on its own', () => {
    expect(checkRelativePath('a1/720p/seg-1.m4s')).toEqual({ ok: true, segments: ['a1', '720p', 'seg-1.m4s'] });
    expect(checkRelativePath('a%31/init.mp4')).toEqual({ ok: true, segments: ['a1', 'init.mp4'] });
  });
  it('rejects dot segments, encoded separators, backslashes, NUL, control bytes, hidden names, long paths', () => {
    expect(bad('../x')).toBe(400);
    expect(bad('a/%2e%2e/x')).toBe(400);
    expect(bad('a/%2E%2E/x')).toBe(400);
    expect(bad('a%2f..%2fx')).toBe(400);
    expect(bad('a%5c..%5cx')).toBe(400);
    expect(bad('a\\..\\x')).toBe(400);
    expect(bad('a/x%00.m3u8')).toBe(400);
    expect(bad('a/x%0a')).toBe(400);
    expect(bad('a/%zz')).toBe(400);
    expect(bad('.versions/a/v1/master.m3u8')).toBe(404);
    expect(bad('a//b')).toBe(404);
    expect(bad('a/' + 'x'.repeat(2000))).toBe(400);
  });
});

describe('LL-HLS delivery directives', () => {
  it('parses msn/part/skip and rejects _HLS_part without _HLS_msn or malformed values', () => {
    expect(parseDirectives({ _HLS_msn: '12', _HLS_part: '3', _HLS_skip: 'YES' })).toEqual({
      ok: true,
      value: { msn: 12, part: 3, skip: 'YES' },
    });
    expect(parseDirectives({ _HLS_skip: 'v2' })).toEqual({ ok: true, value: { skip: 'v2' } });
    expect(parseDirectives({ _HLS_part: '1' }).ok).toBe(false);
    expect(parseDirectives({ _HLS_msn: '-1' }).ok).toBe(false);
    expect(parseDirectives({ _HLS_msn: '1.5' }).ok).toBe(false);
    expect(parseDirectives({ _HLS_msn: ['1', '2'] }).ok).toBe(false);
    expect(parseDirectives({ _HLS_skip: 'NO' }).ok).toBe(false);
  });
  it('uses the Advance Part Limit of RFC 8216bis 6.2.5.2', () => {
    expect(advancePartLimit(0.5)).toBe(6);
    expect(advancePartLimit(0.333)).toBe(9);
    expect(advancePartLimit(1)).toBe(3);
    expect(advancePartLimit(2)).toBe(3);
  });
});

describe('content types', () => {
  it('maps manifests and CMAF media', () => {
    expect(contentTypeFor('master.m3u8')).toBe('application/vnd.apple.mpegurl');
    expect(contentTypeFor('manifest.mpd')).toBe('application/dash+xml');
    expect(contentTypeFor('seg-3.m4s')).toBe('video/iso.segment');
    expect(contentTypeFor('init.mp4', '720p')).toBe('video/mp4');
    expect(contentTypeFor('init.mp4', 'audio')).toBe('audio/mp4');
  });
});

describe('request route labels (the requests_total counter)', () => {
  it('label media by the last path segment from the third on, the admin routes by name, the rest as other', () => {
    const cases: [string, string][] = [
      ['/vod/a/master.m3u8', 'vod-manifest'],
      ['/vod/a/manifest.mpd?token=x', 'vod-manifest'],
      ['/vod/a/v1/360p/index.m3u8', 'vod-manifest'],
      ['/vod/a/360p/init.mp4', 'vod-init'],
      ['/vod/a/360p/seg-3.m4s', 'vod-segment'],
      ['/live/ch/v/seg-3.1.m4s', 'live-part'],
      ['/live/ch/v/seg-3.m4s', 'live-segment'],
      ['/live/ch/v/index.m3u8?_HLS_msn=4&_HLS_part=1', 'live-manifest'],
      ['/live/ch/v/notes.txt', 'live-other'],
      ['/vod/a/v1/thumbnails/tile-2.jpg', 'vod-thumbnail'],
      ['/live/ch/thumbnails/tile-40.jpg?token=t', 'live-thumbnail'],
      ['/vod/a/v2/keys/00112233445566778899aabbccddeeff', 'vod-key'],
      ['/vod/a/keys/clearkey', 'vod-license'],
      ['/live/ch/keys/clearkey?token=t', 'live-license'],
      ['/live/keys/clearkey', 'live-other'],
      ['/live/ch', 'live-other'],
      ['/live', 'live-other'],
      ['/vod/master.m3u8', 'vod-other'],
      ['/health', 'health'],
      ['/metrics?x=1', 'metrics'],
      ['/time/iso', 'time'],
      ['/', 'other'],
      ['/favicon.ico', 'other'],
      ['*', 'other'],
    ];
    for (const [url, label] of cases) expect([url, routeLabel(url)]).toEqual([url, label]);
  });
});

describe('live manifest freshness for CDN caches', () => {
  it('a low-latency MPD has no stale-while-revalidate; a plain one and the playlists keep it', () => {
    expect(liveMpdCdnCacheControl(0.5, true)).toBe('max-age=1');
    expect(liveMpdCdnCacheControl(0.5, false)).toBe('max-age=1, stale-while-revalidate=1');
    expect(liveMpdCdnCacheControl(4, true)).toBe('max-age=2');
    expect(livePlaylistCdnCacheControl(0.5)).toBe('max-age=1, stale-while-revalidate=1');
  });
});
