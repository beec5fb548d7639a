/**
 * CMCD (CTA-5004) serialization: key order, value rules (booleans, strings, tokens, rounding,
 * omitted defaults), the query form and the split over the four headers.
 */
import { describe, expect, it } from 'vitest';
import { cmcdHeaders, cmcdPayload, withCmcdQuery } from '../../../src/abr/cmcd.js';

describe('CMCD', () => {
  const data = {
    sid: '6e2fb550-c457-11e9-bb97-0800200c9a66',
    cid: 'news',
    br: 3200.4,
    bl: 21_349,
    bs: true,
    su: false,
    d: 4004,
    mtp: 25_432,
    ot: 'v' as const,
    sf: 'h' as const,
    st: 'l' as const,
    pr: 1,
    tb: 6000,
  };

  it('orders keys alphabetically and applies the value rules', () => {
    expect(cmcdPayload(data)).toBe(
      'bl=21300,br=3200,bs,cid="news",d=4004,mtp=25400,ot=v,sf=h,sid="6e2fb550-c457-11e9-bb97-0800200c9a66",st=l,tb=6000',
    );
    expect(cmcdPayload({ pr: 1.05, su: true })).toBe('pr=1.05,su');
    expect(cmcdPayload({ br: Number.NaN, bl: -1 })).toBe('');
  });

  it('adds the CMCD query argument, URL-encoded, keeping existing arguments and fragments', () => {
    expect(withCmcdQuery('http://h/a/p1.m4s', { ot: 'v', br: 800 })).toBe('http://h/a/p1.m4s?CMCD=br%3D800%2Cot%3Dv');
    expect(withCmcdQuery('http://h/i.m3u8?_HLS_msn=4#x', { sid: 'a b' })).toBe(
      'http://h/i.m3u8?_HLS_msn=4&CMCD=sid%3D%22a%20b%22#x',
    );
    expect(withCmcdQuery('http://h/x', {})).toBe('http://h/x');
  });

  it('splits keys over CMCD-Object, -Request, -Session and -Status', () => {
    expect(cmcdHeaders(data)).toEqual({
      'CMCD-Object': 'br=3200,d=4004,ot=v,tb=6000',
      'CMCD-Request': 'bl=21300,mtp=25400',
      'CMCD-Session': 'cid="news",sf=h,sid="6e2fb550-c457-11e9-bb97-0800200c9a66",st=l',
      'CMCD-Status': 'bs',
    });
    expect(cmcdHeaders({ ot: 'm' })).toEqual({ 'CMCD-Object': 'ot=m' });
  });
});
