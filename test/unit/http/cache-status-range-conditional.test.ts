import { describe, expect, it } from 'vitest';
import { appendCacheStatus, formatCacheStatus, parseCacheStatus } from '../../../src/http/cache-status.js';
import { contentRange, ifRangeAllows, parseRange, unsatisfiedRange } from '../../../src/http/range.js';
import { notModified, parseEtagList, weakMatch } from '../../../src/http/conditional.js';

describe('Cache-Status (RFC 9211)', () => {
  it('serializes hits, misses, stale and collapsed', () => {
    expect(formatCacheStatus({ cache: 'streamedge', hit: true, ttl: 12.7 })).toBe('streamedge; hit; ttl=12');
    expect(formatCacheStatus({ cache: 'streamedge', fwd: 'miss', stored: true })).toBe('streamedge; fwd=miss; stored');
    expect(formatCacheStatus({ cache: 'streamedge', fwd: 'stale', fwdStatus: 304, stored: true })).toBe(
      'streamedge; fwd=stale; fwd-status=304; stored',
    );
    expect(
      formatCacheStatus({ cache: 'streamedge', fwd: 'uri-miss', collapsed: true, detail: 'upstream timeout' }),
    ).toBe('streamedge; fwd=uri-miss; collapsed; detail="upstream timeout"');
    expect(formatCacheStatus({ cache: 'edge 1', hit: true })).toBe('"edge 1"; hit');
    // names are serialized once and remembered: the second answer reads the same
    expect(formatCacheStatus({ cache: 'edge 1', fwd: 'miss', key: 'a"b' })).toBe('"edge 1"; fwd=miss; key="a\\"b"');
  });
  it('appends after upstream members and parses back', () => {
    const v = appendCacheStatus('shield; fwd=miss; stored', { cache: 'edge', hit: true, ttl: 5 });
    expect(v).toBe('shield; fwd=miss; stored, edge; hit; ttl=5');
    expect(parseCacheStatus(v)).toEqual([
      { cache: 'shield', fwd: 'miss', stored: true },
      { cache: 'edge', hit: true, ttl: 5 },
    ]);
  });
});

describe('Range', () => {
  it('parses one range, suffix and open ranges', () => {
    expect(parseRange('bytes=0-99', 1000)).toEqual({ kind: 'satisfiable', start: 0, end: 99 });
    expect(parseRange('bytes=900-', 1000)).toEqual({ kind: 'satisfiable', start: 900, end: 999 });
    expect(parseRange('bytes=-100', 1000)).toEqual({ kind: 'satisfiable', start: 900, end: 999 });
    expect(parseRange('bytes=990-2000', 1000)).toEqual({ kind: 'satisfiable', start: 990, end: 999 });
  });
  it('416 when unsatisfiable, ignored when multiple or malformed', () => {
    expect(parseRange('bytes=1000-', 1000)).toEqual({ kind: 'unsatisfiable' });
    expect(parseRange('bytes=-0', 1000)).toEqual({ kind: 'unsatisfiable' });
    expect(parseRange('bytes=0-1,5-6', 1000)).toEqual({ kind: 'none' });
    expect(parseRange('items=0-1', 1000)).toEqual({ kind: 'none' });
    expect(parseRange('bytes=5-1', 1000)).toEqual({ kind: 'none' });
    expect(parseRange(undefined, 1000)).toEqual({ kind: 'none' });
    expect(contentRange(0, 99, 1000)).toBe('bytes 0-99/1000');
    expect(unsatisfiedRange(1000)).toBe('bytes */1000');
  });
  it('If-Range needs a strong etag match', () => {
    expect(ifRangeAllows('"a"', '"a"', undefined)).toBe(true);
    expect(ifRangeAllows('W/"a"', 'W/"a"', undefined)).toBe(false);
    expect(ifRangeAllows('"b"', '"a"', undefined)).toBe(false);
    expect(ifRangeAllows(undefined, undefined, undefined)).toBe(true);
  });
});

describe('conditional requests', () => {
  it('If-None-Match uses weak comparison and wins over If-Modified-Since', () => {
    expect(parseEtagList('W/"a", "b" ,"c,d"')).toEqual(['W/"a"', '"b"', '"c,d"']);
    expect(weakMatch('W/"a"', '"a"')).toBe(true);
    expect(notModified({ 'if-none-match': 'W/"x", "a"' }, { etag: 'W/"a"' })).toBe(true);
    expect(
      notModified(
        { 'if-none-match': '"b"', 'if-modified-since': new Date().toUTCString() },
        { etag: '"a"', lastModified: 'Sun, 06 Nov 1994 08:49:37 GMT' },
      ),
    ).toBe(false);
    expect(notModified({ 'if-none-match': '*' }, {})).toBe(true);
  });
  it('If-Modified-Since compares against Last-Modified', () => {
    const lm = 'Sun, 06 Nov 1994 08:49:37 GMT';
    expect(notModified({ 'if-modified-since': lm }, { lastModified: lm })).toBe(true);
    expect(notModified({ 'if-modified-since': 'Sat, 05 Nov 1994 08:49:37 GMT' }, { lastModified: lm })).toBe(false);
    expect(notModified({ 'if-modified-since': 'garbage' }, { lastModified: lm })).toBe(false);
  });
});
