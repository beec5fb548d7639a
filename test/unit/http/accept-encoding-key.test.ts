import { describe, expect, it } from 'vitest';
import { cacheKey, keyHeaderValue, preferredEncoding } from '../../../src/http/cache-key.js';

describe('Accept-Encoding in the cache key', () => {
  it('reduces Accept-Encoding to the one coding a cache would store', () => {
    expect(preferredEncoding('gzip, deflate, br')).toBe('br');
    expect(preferredEncoding('gzip, deflate')).toBe('gzip');
    expect(preferredEncoding('deflate')).toBe('identity');
    expect(preferredEncoding('')).toBe('identity');
    expect(preferredEncoding('br;q=0, gzip')).toBe('gzip');
    expect(preferredEncoding('br;q=0.2, gzip;q=0.8')).toBe('gzip');
    expect(preferredEncoding('*')).toBe('br');
    expect(preferredEncoding('*;q=0, identity')).toBe('identity');
    expect(preferredEncoding('GZIP ; Q=1')).toBe('gzip');
  });

  it('gives requests that accept the same stored coding the same key, and others a different one', () => {
    const policy = { queryParams: [], headers: ['accept-encoding'] };
    const chrome = cacheKey('/vod/a/master.m3u8', { 'accept-encoding': 'gzip, deflate, br, zstd' }, policy);
    const safari = cacheKey('/vod/a/master.m3u8', { 'accept-encoding': 'br, gzip, deflate' }, policy);
    const curl = cacheKey('/vod/a/master.m3u8', {}, policy);
    const old = cacheKey('/vod/a/master.m3u8', { 'accept-encoding': 'gzip' }, policy);
    expect(chrome).toBe(safari);
    expect(curl).not.toBe(chrome);
    expect(old).not.toBe(chrome);
    expect(keyHeaderValue('accept-encoding', undefined)).toBe('identity');
    expect(keyHeaderValue('x-device', [' tv ', 'hd '])).toBe('tv,hd');
  });
});
