import { describe, expect, it } from 'vitest';
import {
  deltaSeconds,
  parseCacheControl,
  parseSurrogateControl,
  parseTargetedCacheControl,
} from '../../../src/http/cache-control.js';

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

describe('targeted cache-control fields (RFC 9213 §2.1: an RFC 8941 Dictionary)', () => {
  const parse = (v: string | string[]) => parseTargetedCacheControl(v);
  it('reads booleans, integers, tokens and strings; parameters are dropped; the last duplicate wins', () => {
    const d = parse('max-age=60;x=1, no-store=?0, must-revalidate, no-cache="set-cookie", x=tok;a=?1, l=(1 "a");p')!;
    expect(deltaSeconds(d, 'max-age')).toBe(60);
    expect(d.has('no-store')).toBe(false);
    expect(d.get('must-revalidate')).toBe(true);
    expect(d.get('no-cache')).toBe('set-cookie');
    expect(d.get('x')).toBe('tok');
    expect(d.get('l')).toBe(true);
    expect(deltaSeconds(parse('max-age=5, max-age=60')!, 'max-age')).toBe(60);
    expect(parse('no-store, no-store=?0')!.has('no-store')).toBe(false);
    expect(deltaSeconds(parse(['max-age=5', 'max-age=7'])!, 'max-age')).toBe(7);
  });
  it('a delta-seconds directive is consumed only as a non-negative Integer', () => {
    for (const v of ['max-age="60"', 'max-age=1.5', 'max-age=-1', 'max-age=a', 'max-age']) {
      const d = parse(v);
      expect(d, v).toBeDefined();
      expect(deltaSeconds(d!, 'max-age'), v).toBeUndefined();
    }
    expect(deltaSeconds(parse('stale-while-revalidate=10')!, 'stale-while-revalidate')).toBe(10);
  });
  it('an empty or invalid field is undefined (ignored by the cache)', () => {
    for (const v of [
      '',
      '  ',
      'MAX-AGE=60',
      'Max-Age=60',
      'max-age=60,',
      ',max-age=60',
      'max-age=60 public',
      'max-age=60;X=1',
      'max-age="6',
      'max-age="a\\b"',
      'max-age=1234567890123456',
      'max-age=1.',
      'max-age=?2',
      'max-age=(1',
      'max-age=:YQ==',
      'no-store;',
      '1max-age=1',
    ]) {
      expect(parse(v), v).toBeUndefined();
    }
    expect(parse(undefined as unknown as string)).toBeUndefined();
    expect(parse(' max-age=60 ,  public ')).toBeDefined();
    expect(parse('max-age=:YQ==:')).toBeDefined();
  });
});
