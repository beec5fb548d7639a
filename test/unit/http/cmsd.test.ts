/**
 * CMSD (CTA-5006) as structured fields: the origin's CMSD-Static dictionary, a hop's CMSD-Dynamic
 * entry, and what a player and an edge read back (the cap, duress, the next object).
 */
import { describe, expect, it } from 'vitest';
import { cmsdAdvice, formatCmsdDynamicEntry, formatCmsdStatic, parseCmsdDynamic } from '../../../src/http/cmsd.js';
import { nextObjectOf, parseCmcd } from '../../../src/http/cmcd.js';

describe('CMSD-Static', () => {
  it('writes keys in alphabetical order: tokens bare, strings quoted and escaped, integers rounded', () => {
    expect(formatCmsdStatic({ st: 'v', ot: 'v', d: 2002.4, br: 812.6, nor: 'seg-5.m4s' })).toBe(
      'br=813,d=2002,nor="seg-5.m4s",ot=v,st=v',
    );
    expect(formatCmsdStatic({ ot: 'm', sf: 'h', st: 'l' })).toBe('ot=m,sf=h,st=l');
    expect(formatCmsdStatic({ n: 'a "b" \\ c\u00e9' })).toBe('n="a \\"b\\" \\\\ c"');
    // a negative or non-finite number is left out rather than written wrong
    expect(formatCmsdStatic({ d: -1, br: Number.NaN, ot: 'a' })).toBe('ot=a');
  });

  it('reads back with the dictionary parser, and gives the next object percent-decoded', () => {
    const text = formatCmsdStatic({ br: 900, d: 2000, nor: 'seg-6.m4s', ot: 'v', st: 'v' });
    expect(Object.fromEntries(parseCmcd(text))).toEqual({ br: 900, d: 2000, nor: 'seg-6.m4s', ot: 'v', st: 'v' });
    expect(nextObjectOf(text)).toBe('seg-6.m4s');
    expect(nextObjectOf('nor="seg%201.m4s",ot=v')).toBe('seg 1.m4s');
    expect(nextObjectOf('ot=v')).toBeUndefined();
    expect(nextObjectOf('nor="%E0%A4%A"')).toBeUndefined();
    expect(nextObjectOf(undefined)).toBeUndefined();
  });
});

describe('CMSD-Dynamic', () => {
  it("writes a hop's entry: the server name, then du and the integers in key order", () => {
    expect(formatCmsdDynamicEntry({ server: 'edge-a', mb: 3000 })).toBe('"edge-a";mb=3000');
    expect(formatCmsdDynamicEntry({ server: 'edge-a', du: true, etp: 52000, rtt: 12, rd: 3 })).toBe(
      '"edge-a";du;etp=52000;rd=3;rtt=12',
    );
  });

  it('reads every hop of a joined header, skipping what is not an entry', () => {
    expect(parseCmsdDynamic('"origin";du, "edge-a";mb=3000;etp=100, shield;rtt=7')).toEqual([
      { server: 'origin', du: true },
      { server: 'edge-a', mb: 3000, etp: 100 },
      { server: 'shield', rtt: 7 },
    ]);
    expect(parseCmsdDynamic('"e";du=?0;mb=abc')).toEqual([{ server: 'e', du: false }]);
    expect(parseCmsdDynamic(undefined)).toEqual([]);
    expect(parseCmsdDynamic('')).toEqual([]);
  });

  it("a player's advice: the lowest cap of any hop, duress if any hop says so", () => {
    expect(cmsdAdvice('"shield";mb=5000, "edge-a";mb=3000')).toEqual({ maxBitrateKbps: 3000, duress: false });
    expect(cmsdAdvice('"origin";du, "edge-a"')).toEqual({ duress: true });
    expect(cmsdAdvice(undefined)).toEqual({ duress: false });
  });
});
