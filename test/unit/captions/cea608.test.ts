/**
 * The CEA-608 decoder on byte pairs written as caption encoders write them (parity set, control
 * codes doubled): pop-on, roll-up and paint-on captions, channels, special and extended
 * characters, and the pairs it must ignore (a failed parity, XDS, text mode).
 */
import { describe, expect, it } from 'vitest';
import { Cea608Decoder, type Cea608Cue, type CcTriplet } from '../../../src/captions/cea608.js';

function parity(b: number): number {
  let ones = 0;
  for (let x = b & 0x7f; x; x >>= 1) ones += x & 1;
  return ones % 2 === 0 ? (b & 0x7f) | 0x80 : b & 0x7f;
}

/** A pair of field `type` (0: field 1, 1: field 2) with parity. */
function pair(b1: number, b2: number, type = 0): CcTriplet {
  return { type, b1: parity(b1), b2: parity(b2) };
}

/** Text as pairs of characters. */
function chars(text: string, type = 0): CcTriplet[] {
  const out: CcTriplet[] = [];
  for (let i = 0; i < text.length; i += 2)
    out.push(pair(text.charCodeAt(i), i + 1 < text.length ? text.charCodeAt(i + 1) : 0, type));
  return out;
}

/** A control code sent twice, as encoders do. */
function twice(b1: number, b2: number, type = 0): CcTriplet[] {
  return [pair(b1, b2, type), pair(b1, b2, type)];
}

interface Seen {
  channel: number;
  start: number;
  end?: number;
  text: string;
  row: number;
  column: number;
}

/** A decoder fed one pair per picture at 30 fps; the cues it gave, ended or not. */
function decode(pairs: CcTriplet[], opts: { perPicture?: number } = {}): Seen[] {
  const seen: Seen[] = [];
  const open = new Map<Cea608Cue, Seen>();
  const d = new Cea608Decoder({
    started: (c) => {
      const s: Seen = { channel: c.channel, start: c.start, text: c.text, row: c.row, column: c.column };
      open.set(c, s);
      seen.push(s);
    },
    ended: (c, end) => {
      open.get(c)!.end = end;
      open.delete(c);
    },
  });
  const per = opts.perPicture ?? 1;
  for (let i = 0; i * per < pairs.length; i++) d.feed(i / 30, pairs.slice(i * per, (i + 1) * per));
  return seen;
}

const RCL = [0x14, 0x20] as const;
const EOC = [0x14, 0x2f] as const;
const EDM = [0x14, 0x2c] as const;
const CR = [0x14, 0x2d] as const;

describe('CEA-608 decoder', () => {
  it('pop-on: built off screen, shown at EOC, gone at EDM, placed by its PAC', () => {
    const seen = decode([
      ...twice(...RCL),
      ...twice(0x14, 0x70), // PAC row 15, column 0
      ...chars('HELLO'),
      ...twice(...EOC), // the first of the two (picture 7) shows it
      pair(0, 0),
      ...twice(...EDM), // erased at picture 10
    ]);
    expect(seen).toEqual([{ channel: 1, start: 7 / 30, end: 10 / 30, text: 'HELLO', row: 15, column: 0 }]);
  });

  it('pop-on: two rows with an indent, and the next caption replacing the first at its EOC', () => {
    const seen = decode([
      ...twice(...RCL),
      ...twice(0x13, 0x54), // PAC row 12, indent 8
      ...chars('ONE'),
      ...twice(0x14, 0x52), // PAC row 14, indent 4
      ...chars('TWO'),
      ...twice(...EOC),
      ...twice(...RCL),
      ...twice(0x14, 0x70),
      ...chars('THREE'),
      ...twice(...EOC),
    ]);
    // 0x54: indent ((0x54 & 0x0e) >> 1) * 4 = 8; 0x52: 4. The cue is cut at the leftmost column.
    expect(seen.map((s) => [s.text, s.row, s.column])).toEqual([
      ['    ONE\nTWO', 12, 4],
      ['THREE', 15, 0],
    ]);
    expect(seen[0].end).toBe(seen[1].start);
  });

  it('roll-up: each carriage return lifts the rows, at most RU2 rows shown', () => {
    const seen = decode(
      [...twice(0x14, 0x25), ...chars('AB'), ...twice(...CR), ...chars('CD'), ...twice(...CR), ...chars('EF')],
      {
        perPicture: 1,
      },
    );
    const texts = seen.map((s) => s.text);
    expect(texts).toContain('AB\nCD');
    expect(texts.at(-1)).toBe('CD\nEF');
    expect(texts).not.toContain('AB\nCD\nEF');
    expect(seen.at(-1)!.row).toBe(14); // two rows ending at the base row, 15
  });

  it('paint-on: characters are shown as they arrive', () => {
    const seen = decode([...twice(0x14, 0x29), ...twice(0x14, 0x70), ...chars('HI'), ...chars('!!')]);
    expect(seen.map((s) => s.text)).toEqual(['HI', 'HI!!']);
  });

  it('a control code sent twice acts once; sent again later it acts again', () => {
    // Two EOCs back to back swap once (shown); a third swaps back (hidden).
    const seen = decode([...twice(...RCL), ...twice(0x14, 0x70), ...chars('X'), ...twice(...EOC), pair(...EOC)]);
    expect(seen).toHaveLength(1);
    expect(seen[0].text).toBe('X');
    expect(seen[0].end).toBeDefined();
  });

  it('CC2 and CC3 are kept apart from CC1 (the control code says the channel; field 2 is CC3/CC4)', () => {
    const seen = decode(
      [
        ...twice(0x1c, 0x29), // CC2 paint-on (0x1c: channel bit)
        ...twice(0x1c, 0x70),
        ...chars('TWO'),
        ...twice(0x15, 0x29, 1), // CC3 paint-on (field 2 misc codes: 0x15)
        ...twice(0x14, 0x70, 1),
        ...chars('THREE', 1),
      ],
      {},
    );
    // (paint-on: shown as the pairs arrive, one a picture)
    expect(seen.map((s) => [s.channel, s.text])).toEqual([
      [2, 'TW'],
      [2, 'TWO'],
      [3, 'TH'],
      [3, 'THRE'],
      [3, 'THREE'],
    ]);
  });

  it('special and extended characters; an extended one takes the place of its stand-in', () => {
    const seen = decode([
      ...twice(0x14, 0x29),
      ...twice(0x14, 0x70),
      ...twice(0x11, 0x37), // ♪
      ...chars(' Ol'),
      ...chars('A'), // the stand-in an older decoder shows
      ...twice(0x12, 0x30), // À, in its place
      ...chars('*'), // the basic set's 0x2a is á
    ]);
    expect(seen.at(-1)!.text).toBe('♪ OlÀá');
  });

  it('keeps colours, italics and underline as WebVTT markup; white plain text carries none', () => {
    const seen = decode([
      ...twice(...RCL),
      ...twice(0x14, 0x4a), // PAC row 14, yellow (code 5)
      ...chars('AB'),
      ...twice(0x11, 0x2f), // mid-row: italics, underlined, keeping yellow (and a space)
      ...chars('CD'),
      ...twice(0x14, 0x6e), // PAC row 15, italics (white)
      ...chars('E<'),
      ...twice(0x11, 0x20), // mid-row: white plain (and a space)
      ...chars('F'),
      ...twice(...EOC),
    ]);
    expect(seen.at(-1)!.text).toBe('<c.yellow>AB</c><c.yellow><i><u> CD</u></i></c>\n<i>E&lt;</i> F');
  });

  it('a new roll-up row starts white and plain', () => {
    const seen = decode([...twice(0x14, 0x25), ...twice(0x14, 0x42), ...chars('G'), ...twice(...CR), ...chars('W')]);
    expect(seen.at(-1)!.text).toBe('<c.lime>G</c>\nW');
  });

  it('ignores a pair whose parity fails, XDS on field 2 and text mode', () => {
    const bad = { type: 0, b1: 0x48, b2: parity(0x49) }; // 'H' without its parity bit: odd ones → 0x48 has 2 ones
    const seen = decode([
      ...twice(0x14, 0x29),
      ...twice(0x14, 0x70),
      bad,
      ...chars('OK'),
      pair(0x01, 0x03, 1), // XDS start on field 2: what follows is not captions
      ...chars('XD', 1),
      pair(0x0f, 0x1d, 1),
      ...twice(0x14, 0x2a), // TR: text mode on CC1
      ...chars('TEXT'),
    ]);
    expect(seen.map((s) => s.text)).toEqual(['OK']);
  });

  it('reset ends the cue on screen at the given time', () => {
    const ended: number[] = [];
    const d = new Cea608Decoder({ started: () => undefined, ended: (_c, t) => ended.push(t) });
    d.feed(1, [...twice(0x14, 0x29), ...twice(0x14, 0x70), ...chars('ON')]);
    d.reset(2.5);
    d.feed(3, chars('NO')); // no channel chosen since the reset: dropped
    expect(ended).toEqual([2.5]);
  });
});
