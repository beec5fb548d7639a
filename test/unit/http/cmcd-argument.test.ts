/**
 * CMCD's query argument as the edge's hit path takes it off a request target (src/http/cmcd.ts):
 * the rest of the target unchanged, the raw value, and undefined for anything the general path
 * (edge/request-rules.ts) should decide.
 */
import { describe, expect, it } from 'vitest';
import { cmcdLogFields, cmcdQueryValue, splitCmcdArgument } from '../../../src/http/cmcd.js';
import { parseRules, requestTargets } from '../../../edge/request-rules.js';

const DEFAULT_RULES = parseRules({});

describe('splitCmcdArgument', () => {
  it('takes the argument off wherever it sits in the query', () => {
    expect(splitCmcdArgument('/a/s.m4s?CMCD=ot%3Dv')).toEqual({ target: '/a/s.m4s', raw: 'ot%3Dv' });
    expect(splitCmcdArgument('/a/p.m3u8?CMCD=ot%3Dm&x=1')).toEqual({ target: '/a/p.m3u8?x=1', raw: 'ot%3Dm' });
    expect(splitCmcdArgument('/a/p.m3u8?x=1&CMCD=ot%3Dm')).toEqual({ target: '/a/p.m3u8?x=1', raw: 'ot%3Dm' });
    expect(splitCmcdArgument('/a/p.m3u8?x=1&CMCD=&y=2')).toEqual({ target: '/a/p.m3u8?x=1&y=2', raw: '' });
  });

  it('leaves targets without it, with it twice, under another name or with a fragment to the general path', () => {
    expect(splitCmcdArgument('/a/s.m4s')).toBeUndefined();
    expect(splitCmcdArgument('/CMCD=/s.m4s')).toBeUndefined();
    expect(splitCmcdArgument('/a?xCMCD=1')).toBeUndefined();
    expect(splitCmcdArgument('/a?CMCD=1&CMCD=2')).toBeUndefined();
    expect(splitCmcdArgument('/a?xCMCD=1&CMCD=2')).toBeUndefined();
    expect(splitCmcdArgument('/a?CMCD=1#f')).toBeUndefined();
  });

  it('gives the key target and logged keys the general path gives', () => {
    const payload = 'bl=1200,bs,ot=v,sid="s 1"';
    for (const target of [
      `/live/p.m3u8?CMCD=${encodeURIComponent(payload)}&_HLS_msn=5`,
      `/live/p.m3u8?_HLS_msn=5&CMCD=${encodeURIComponent(payload).replace(/%20/g, '+')}`,
      `/vod/a/seg-1.m4s?CMCD=${encodeURIComponent(payload)}`,
    ]) {
      const split = splitCmcdArgument(target)!;
      const general = requestTargets(target, {}, DEFAULT_RULES);
      expect(requestTargets(split.target, {}, DEFAULT_RULES).keyTarget).toBe(general.keyTarget);
      expect(cmcdLogFields(cmcdQueryValue(split.raw), {})).toEqual(general.cmcd);
    }
  });

  it('reads a malformed value as no payload', () => {
    expect(cmcdQueryValue('%E0%A4%A')).toBeUndefined();
    expect(cmcdQueryValue('a+b%2Cc')).toBe('a b,c');
  });
});
