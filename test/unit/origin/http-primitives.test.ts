import { describe, expect, it } from 'vitest';
import { parseRange } from '../../../packager/origin/http-range.js';
import { etagFor, ifRangeHolds, notModified } from '../../../packager/origin/conditional.js';
import { checkRelativePath } from '../../../packager/origin/safe-path.js';
import { advancePartLimit, parseDirectives } from '../../../packager/origin/blocking-reload.js';
import { contentTypeFor } from '../../../packager/origin/content-type.js';

describe('Range parsing (RFC 9110 §14)', () => {
  it('reads first-last, open-ended and suffix ranges, clamped to the size', () => {
    expect(parseRange('bytes=0-9', 100)).toEqual({ kind: 'range', start: 0, end: 9 });
    expect(parseRange('bytes=90-', 100)).toEqual({ kind: 'range', start: 90, end: 99 });
    expect(parseRange('bytes=-10', 100)).toEqual({ kind: 'range', start: 90, end: 99 });
    expect(parseRange('bytes=-1000', 100)).toEqual({ kind: 'range', start: 0, end: 99 });
    expect(parseRange('bytes=50-1000', 100)).toEqual({ kind: 'range', start: 50, end: 99 });
  });
  it('is unsatisfiable past the end, ignored when malformed or multiple', () => {
    expect(parseRange('bytes=100-', 100)).toEqual({ kind: 'unsatisfiable' });
    expect(parseRange('bytes=-0', 100)).toEqual({ kind: 'unsatisfiable' });
    expect(parseRange('bytes=5-2', 100)).toEqual({ kind: 'none' });
    expect(parseRange('bytes=0-1,5-6', 100)).toEqual({ kind: 'none' });
    expect(parseRange('items=0-1', 100)).toEqual({ kind: 'none' });
    expect(parseRange(undefined, 100)).toEqual({ kind: 'none' });
  });
});

describe('conditional requests', () => {
  const st = { size: 1234, mtimeMs: Date.parse('2024-01-02T03:04:05.678Z') };
  const strong = etagFor(st, false);
  const weak = etagFor(st, true);
  it('matches If-None-Match weakly and If-Modified-Since by whole seconds', () => {
    expect(weak).toBe(`W/${strong}`);
    expect(notModified({ 'if-none-match': strong }, weak, st.mtimeMs)).toBe(true);
    expect(notModified({ 'if-none-match': `"other", ${weak}` }, strong, st.mtimeMs)).toBe(true);
    expect(notModified({ 'if-none-match': '"other"' }, strong, st.mtimeMs)).toBe(false);
    expect(notModified({ 'if-modified-since': new Date(st.mtimeMs).toUTCString() }, strong, st.mtimeMs)).toBe(true);
    expect(notModified({ 'if-modified-since': new Date(st.mtimeMs - 2000).toUTCString() }, strong, st.mtimeMs)).toBe(
      false,
    );
    // If-None-Match wins over If-Modified-Since
    expect(
      notModified(
        { 'if-none-match': '"x"', 'if-modified-since': new Date(st.mtimeMs).toUTCString() },
        strong,
        st.mtimeMs,
      ),
    ).toBe(false);
  });
  it('applies If-Range only with a strong matching validator', () => {
    expect(ifRangeHolds(strong, strong, st.mtimeMs)).toBe(true);
    expect(ifRangeHolds('"nope"', strong, st.mtimeMs)).toBe(false);
    expect(ifRangeHolds(weak, weak, st.mtimeMs)).toBe(false);
    expect(ifRangeHolds(undefined, strong, st.mtimeMs)).toBe(true);
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
