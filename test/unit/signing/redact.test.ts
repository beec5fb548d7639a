import { describe, expect, it } from 'vitest';
import { REDACTED, redactTokens } from '../../../src/signing/redact.js';
import { extractToken } from '../../../src/signing/token-placement.js';

const T = 'eyJhbGciOiJIUzI1NiJ9.eyJwZngiOiIvIn0.c2lnbmF0dXJl';

/** Every spelling a client might send: the ones verification accepts and the near misses it refuses. */
const SPELLINGS: Array<[string, boolean]> = [
  [`/t/${T}/vod/a/seg-1.m4s`, true],
  [`/%74/${T}/vod/a/seg-1.m4s`, true],
  [`/vod/a/seg-1.m4s?token=${T}`, true],
  [`/vod/a/seg-1.m4s?%74oken=${T}`, true],
  [`/vod/a/seg-1.m4s?tok%65n=${T}`, true],
  [`/vod/a/seg-1.m4s?a=1&token=${T}&b=2`, true],
  [`/vod/a/seg-1.m4s?token=${T.replace(/\./g, '%2E')}`, true],
  [`http://edge.example/t/${T}/vod/a/seg-1.m4s`, true],
  [`/T/${T}/vod/a/seg-1.m4s`, false],
  [`/%54/${T}/vod/a/seg-1.m4s`, false],
  [`/vod/a/seg-1.m4s?TOKEN=${T}`, false],
  [`/vod/a/seg-1.m4s?Token=${T}`, false],
  [`/vod/a/seg-1.m4s?%2574oken=${T}`, false],
  [`/vod/a/seg-1.m4s?a=1;token=${T}`, false],
  [`/vod/a/seg-1.m4s?token+=${T}`, false],
];

describe('token spellings', () => {
  it('verification accepts lowercase `token` and `/t/`, also percent-encoded (RFC 3986 §6.2.2.2), nothing else', () => {
    for (const [url, accepted] of SPELLINGS) {
      const ex = extractToken(url);
      expect(ex.token, url).toBe(accepted ? T : undefined);
      if (accepted) expect(ex.strippedUrl, url).not.toContain(T.split('.')[2]);
    }
  });

  it('redaction removes the token from every spelling, accepted or not, and keeps the rest', () => {
    for (const [url] of SPELLINGS) {
      const r = redactTokens(url);
      expect(r, url).not.toContain(T.split('.')[2]);
      expect(r, url).toContain(REDACTED);
      expect(r, url).toContain('/vod/a/seg-1.m4s');
    }
    expect(redactTokens(`/vod/a/seg-1.m4s?a=1&token=${T}&b=2`)).toBe(`/vod/a/seg-1.m4s?a=1&token=${REDACTED}&b=2`);
    expect(redactTokens(`/t/${T}/vod/a/x?_HLS_msn=3`)).toBe(`/t/${REDACTED}/vod/a/x?_HLS_msn=3`);
    expect(redactTokens(`/t/${T}`)).toBe(`/t/${REDACTED}`);
  });

  it('leaves URLs without a token untouched, byte for byte', () => {
    for (const u of [
      '/vod/a/master.m3u8',
      '/vod/t/seg-1.m4s',
      '/t',
      '/t/',
      '/vod/a/x?tokens=1&a=%zz',
      '/vod/a/%ff',
      '',
    ]) {
      expect(redactTokens(u)).toBe(u);
    }
    expect(redactTokens(undefined as unknown as string)).toBeUndefined();
  });
});
