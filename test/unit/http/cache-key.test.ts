import { describe, expect, it } from 'vitest';
import {
  cacheKey,
  keyTarget,
  normalizePath,
  normalizeQuery,
  normalizeUrl,
  parseVary,
  removeDotSegments,
  variantKey,
} from '../../../src/http/cache-key.js';

describe('cache key normalization', () => {
  it('lowercases scheme and host and drops default ports', () => {
    expect(normalizeUrl('HTTP://Example.COM:80/a')).toBe('http://example.com/a');
    expect(normalizeUrl('https://Example.com:443/a')).toBe('https://example.com/a');
    expect(normalizeUrl('https://example.com:8443/a')).toBe('https://example.com:8443/a');
    expect(normalizeUrl('http://example.com')).toBe('http://example.com/');
  });

  it('removes dot segments per RFC 3986 §5.2.4 (the RFC examples)', () => {
    expect(removeDotSegments('/a/b/c/./../../g')).toBe('/a/g');
    expect(removeDotSegments('mid/content=5/../6')).toBe('mid/6');
    expect(removeDotSegments('/../../x')).toBe('/x');
    expect(normalizePath('/vod/a/../b/./seg-1.m4s')).toBe('/vod/b/seg-1.m4s');
  });

  it('normalizes percent-encoding before removing dot segments', () => {
    expect(normalizePath('/%7Euser/%2e%2E/x')).toBe('/x');
    expect(normalizePath('/a%2fb')).toBe('/a%2Fb');
    expect(normalizePath('/%41%42c')).toBe('/ABc');
  });

  it('keeps only allowlisted query params, sorted; tracking and token never kept', () => {
    expect(normalizeQuery('_HLS_part=2&_HLS_msn=10&utm_source=x&token=abc&foo=1')).toBe('_HLS_msn=10&_HLS_part=2');
    expect(normalizeQuery('b=2&a=1&utm_medium=m&fbclid=1&gclid=2&token=t', { queryParams: 'all', headers: [] })).toBe(
      'a=1&b=2',
    );
    expect(normalizeQuery('')).toBe('');
  });

  it('query: only RFC 3986 §6.2.2 equivalences; `+` is not `%20`, `flag` is not `flag=`', () => {
    const all = { queryParams: 'all' as const, headers: [] };
    expect(normalizeQuery('tag=c++', all)).toBe('tag=c++');
    expect(normalizeQuery('tag=c%20%20', all)).toBe('tag=c%20%20');
    expect(normalizeQuery('tag=c%2b', all)).toBe('tag=c%2B');
    expect(normalizeQuery('flag', all)).toBe('flag');
    expect(normalizeQuery('flag=', all)).toBe('flag=');
    expect(cacheKey('/q?tag=c++', {}, all)).not.toBe(cacheKey('/q?tag=c%20%20', {}, all));
    expect(cacheKey('/q?tag=c++', {}, all)).not.toBe(cacheKey('/q?tag=c%2B%2B', {}, all));
    expect(cacheKey('/q?flag', {}, all)).not.toBe(cacheKey('/q?flag=', {}, all));
    // what RFC 3986 does make equivalent still shares a key: hex case, escaped unreserved characters
    expect(cacheKey('/q?a=%7e%2f&b%2D=1', {}, all)).toBe(cacheKey('/q?b-=1&a=~%2F', {}, all));
    // sorted by name, a bare name before a valued one, then by value
    expect(normalizeQuery('b=2&a=1&flag=&flag&a=0', all)).toBe('a=0&a=1&b=2&flag&flag=');
  });

  it('two spellings of one URL give one key; different content gives different keys', () => {
    const a = cacheKey('/live/c/v/index.m3u8?_HLS_msn=5&_HLS_part=1&utm_campaign=z', {});
    const b = cacheKey('/live/c/./v/index.m3u8?token=xyz&_HLS_part=1&_HLS_msn=5', {});
    expect(a).toBe(b);
    expect(a).toBe('/live/c/v/index.m3u8?_HLS_msn=5&_HLS_part=1');
    expect(cacheKey('/live/c/v/index.m3u8?_HLS_msn=6&_HLS_part=1', {})).not.toBe(a);
    expect(keyTarget(a)).toBe(a);
  });

  it('only allowlisted request headers vary the key', () => {
    const policy = { queryParams: [], headers: ['accept-encoding'] };
    const k1 = cacheKey('/a', { 'accept-encoding': 'gzip', 'x-forwarded-host': 'evil' }, policy);
    const k2 = cacheKey('/a', { 'accept-encoding': 'gzip', 'x-forwarded-host': 'other' }, policy);
    const k3 = cacheKey('/a', { 'accept-encoding': 'br' }, policy);
    expect(k1).toBe(k2);
    expect(k1).not.toBe(k3);
    expect(keyTarget(k1)).toBe('/a');
    expect(cacheKey('/a', { 'x-forwarded-host': 'evil' })).toBe(cacheKey('/a', {}));
  });

  it('variants follow the response Vary: names normalised, Accept-Encoding spellings share a variant', () => {
    expect(parseVary(undefined)).toEqual([]);
    expect(parseVary('Accept-Encoding, accept-language ,Accept-Encoding')).toEqual([
      'accept-encoding',
      'accept-language',
    ]);
    expect(parseVary('Accept-Encoding, *')).toBe('*');
    expect(variantKey('/a', [], { 'accept-encoding': 'br' })).toBe('/a');
    const k1 = variantKey('/a', ['accept-encoding'], { 'accept-encoding': 'gzip, br' });
    const k2 = variantKey('/a', ['accept-encoding'], { 'accept-encoding': 'br, gzip' });
    expect(k1).toBe(k2);
    expect(variantKey('/a', ['accept-encoding'], { 'accept-encoding': 'gzip' })).not.toBe(k1);
    expect(keyTarget(k1)).toBe('/a');
    expect(variantKey('/a', ['accept-language'], { 'accept-language': 'fr&x=1' })).toBe(
      '/a\naccept-language=fr%26x%3D1',
    );
  });
});
