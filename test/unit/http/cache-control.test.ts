import { describe, expect, it } from 'vitest';
import { deltaSeconds, parseCacheControl, parseSurrogateControl } from '../../../src/http/cache-control.js';

describe('Cache-Control parsing', () => {
  it('parses tokens, integers and quoted strings, case-insensitively', () => {
    const d = parseCacheControl('Public, MAX-AGE=60, no-cache="set-cookie, x-a", s-maxage=30');
    expect(d.get('public')).toBe(true);
    expect(deltaSeconds(d, 'max-age')).toBe(60);
    expect(d.get('no-cache')).toBe('set-cookie, x-a');
    expect(deltaSeconds(d, 's-maxage')).toBe(30);
  });
  it('first occurrence wins, malformed values are ignored', () => {
    const d = parseCacheControl(['max-age=10', 'max-age=99, stale-if-error=abc']);
    expect(deltaSeconds(d, 'max-age')).toBe(10);
    expect(deltaSeconds(d, 'stale-if-error')).toBeUndefined();
    expect(deltaSeconds(parseCacheControl('max-age=99999999999'), 'max-age')).toBe(2 ** 31);
  });
  it('reads structured-field booleans in CDN-Cache-Control (RFC 9213)', () => {
    const d = parseCacheControl('no-store=?1, max-age=5, private=?0');
    expect(d.has('no-store')).toBe(true);
    expect(d.has('private')).toBe(false);
  });
  it('Surrogate-Control ignores device targets', () => {
    const d = parseSurrogateControl('max-age=300;edge1, no-store;other');
    expect(deltaSeconds(d, 'max-age')).toBe(300);
    expect(d.has('no-store')).toBe(true);
  });
});
