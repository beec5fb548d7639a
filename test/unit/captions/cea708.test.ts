/**
 * The CEA-708 decoder on DTVCC packets written as caption encoders write them (a packet spread
 * over several pictures, service blocks, window commands): pop-on style captions shown and
 * hidden by DisplayWindows/HideWindows, text written to a visible window (paint-on), roll-up by
 * CR in a window of two rows, two services apart, extended services, styles, and what it must
 * read past without losing its place (commands it does not act on, padding, broken packets).
 * And the decoder that reads 608 and 708 side by side.
 */
import { describe, expect, it } from 'vitest';
import { Cea708Decoder, type Cea708Cue } from '../../../src/captions/cea708.js';
import { CaptionDecoder, type CaptionCue } from '../../../src/captions/caption-decoder.js';
import type { CcTriplet } from '../../../src/captions/cea608.js';

/** One DTVCC packet holding a service block per entry, as cc_data triplets (type 3, then 2s). */
function packet(blocks: Array<[service: number, data: number[]]>, sequence = 0): CcTriplet[] {
  const body: number[] = [];
  for (const [service, data] of blocks) {
    if (data.length > 31) throw new Error(`a service block holds at most 31 bytes, not ${data.length}`);
    if (service < 7) body.push((service << 5) | data.length);
    else body.push((7 << 5) | data.length, service);
    body.push(...data);
  }
  if ((body.length + 1) % 2 !== 0) body.push(0); // a null block pads it
  const bytes = [((sequence & 3) << 6) | ((body.length + 1) / 2), ...body];
  const out: CcTriplet[] = [];
  for (let i = 0; i < bytes.length; i += 2) out.push({ type: i === 0 ? 3 : 2, b1: bytes[i], b2: bytes[i + 1] ?? 0 });
  return out;
}

const text = (s: string) => [...Buffer.from(s, 'latin1')];
/** DF<n>: window n; visible or not; anchor row 65 of 75, column 105, bottom centre; `rows` rows of 32 columns. */
const defineWindow = (n: number, visible: boolean, rows = 1) => [
  0x98 + n,
  (visible ? 0x20 : 0) | 0x18,
  65,
  105,
  0x70 | (rows - 1),
  31,
  0x09,
];
const DSW = (bits: number) => [0x89, bits];
const HDW = (bits: number) => [0x8a, bits];
const CR = 0x0d;

interface Seen {
  service: number;
  start: number;
  end?: number;
  text: string;
  row: number;
  column: number;
}

function decoder() {
  const seen: Seen[] = [];
  const open = new Map<Cea708Cue, Seen>();
  const d = new Cea708Decoder({
    started: (c) => {
      const s: Seen = { service: c.service, start: c.start, text: c.text, row: c.row, column: c.column };
      seen.push(s);
      open.set(c, s);
    },
    ended: (c, end) => {
      open.get(c)!.end = end;
      open.delete(c);
    },
  });
  return { d, seen };
}

/** Feeds the triplets `perPicture` at a time, pictures 1/30 s apart from `t`; returns the next picture's time. */
function feedSpread(d: Cea708Decoder, triplets: CcTriplet[], t: number, perPicture = 2): number {
  for (let i = 0; i < triplets.length; i += perPicture, t += 1 / 30) d.feed(t, triplets.slice(i, i + perPicture));
  return t;
}

describe('CEA-708 decoder', () => {
  it('a caption built in a hidden window shows when the packet that displays it is complete, spread over pictures', () => {
    const { d, seen } = decoder();
    const t = feedSpread(d, packet([[1, [...defineWindow(0, false), 0x92, 0, 0, ...text('WORLD'), ...DSW(1)]]]), 1);
    expect(seen).toEqual([{ service: 1, start: expect.closeTo(t - 1 / 30, 6), text: 'WORLD', row: 13, column: 14 }]);
    d.feed(3, packet([[1, HDW(1)]]));
    expect(seen[0].end).toBe(3);
  });

  it('text written to a visible window is shown as it comes (paint-on); a new line scrolls a full window up (roll-up)', () => {
    const { d, seen } = decoder();
    d.feed(0, packet([[1, [...defineWindow(0, true, 2), ...text('ONE')]]]));
    d.feed(1, packet([[1, [CR, ...text('TWO')]]]));
    d.feed(2, packet([[1, [CR, ...text('THREE')]]]));
    expect(seen.map((s) => [s.start, s.end, s.text])).toEqual([
      [0, 1, 'ONE'],
      [1, 2, 'ONE\nTWO'],
      [2, undefined, 'TWO\nTHREE'],
    ]);
    // the window's two rows end at its bottom-anchored row (13 on the 608 grid)
    expect(seen[2].row).toBe(12);
  });

  it('keeps services apart, reads an extended service number, and skips the blocks of others intact', () => {
    const { d, seen } = decoder();
    d.feed(
      0,
      packet([
        [1, [...defineWindow(0, true), ...text('EN')]],
        [2, [...defineWindow(0, true), ...text('ES')]],
        [9, [...defineWindow(0, true), ...text('NINE')]],
      ]),
    );
    expect(seen.map((s) => [s.service, s.text])).toEqual([
      [1, 'EN'],
      [2, 'ES'],
      [9, 'NINE'],
    ]);
  });

  it('reads past commands it does not act on by their lengths, and the extended character sets', () => {
    const { d, seen } = decoder();
    const spc = [0x91, 0x3f, 0x00, 0x00]; // SetPenColor: 3 parameter bytes
    const swa = [0x97, 0x00, 0x00, 0x00, 0x00]; // SetWindowAttributes: 4
    const dly = [0x8d, 0x05]; // Delay: 1 (acted on at once)
    const c2 = [0x10, 0x10, 0xaa, 0xbb]; // EXT1 + a C2 code with 2 parameter bytes
    const g2 = [0x10, 0x35, 0x10, 0x39]; // EXT1 • and ™
    const p16 = [0x18, 0x26, 0x6a]; // P16: ♪-like 16-bit character U+266A
    d.feed(
      0,
      // two blocks (a block holds at most 31 bytes)
      packet([
        [1, [...defineWindow(0, true), ...spc, ...swa, ...dly]],
        [1, [...c2, ...text('A'), ...g2, ...p16, 0x7f, 0xe9]],
      ]),
    );
    expect(seen.map((s) => s.text)).toEqual(['A•™♪♪é']);
  });

  it('italics and underline from SetPenAttributes become WebVTT markup; markup characters are escaped', () => {
    const { d, seen } = decoder();
    d.feed(
      0,
      packet([
        [
          1,
          [...defineWindow(0, false), 0x90, 0x05, 0xc0, ...text('<hi>'), 0x90, 0x05, 0x00, ...text(' & '), ...DSW(1)],
        ],
      ]),
    );
    expect(seen.map((s) => s.text)).toEqual(['<i><u>&lt;hi&gt;</u></i> &amp;']);
  });

  it('backspace, clear window, hide, toggle, delete and reset end or change the cue on screen', () => {
    const { d, seen } = decoder();
    d.feed(0, packet([[1, [...defineWindow(0, true), ...text('ABC'), 0x08]]]));
    d.feed(1, packet([[1, [0x88, 0x01, ...text('X')]]])); // ClearWindows, then X at the window's origin
    d.feed(2, packet([[1, [0x8b, 0x01]]])); // ToggleWindows: hidden
    d.feed(3, packet([[1, [0x8b, 0x01]]])); // shown again
    d.feed(4, packet([[1, [0x8c, 0x01]]])); // DeleteWindows
    d.feed(5, packet([[1, [...defineWindow(1, true), ...text('Y')]]]));
    d.feed(6, packet([[1, [0x8f]]])); // Reset
    expect(seen.map((s) => [s.start, s.end, s.text])).toEqual([
      [0, 1, 'AB'],
      [1, 2, 'X'],
      [3, 4, 'X'],
      [5, 6, 'Y'],
    ]);
  });

  it('never throws on broken input: a packet cut short is read as far as it goes, truncated commands are dropped', () => {
    const { d, seen } = decoder();
    const whole = packet([[1, [...defineWindow(0, true), ...text('OK')]]]);
    // a new packet starts before this one is complete (its last triplet, with the K, lost): what came is read
    d.feed(0, [...whole.slice(0, whole.length - 1), ...packet([[1, [0x98, 0x00]]])]);
    expect(() => {
      d.feed(1, [{ type: 2, b1: 0xff, b2: 0xff }]); // data with no packet started
      d.feed(2, packet([[1, [0x92]]])); // SetPenLocation without its parameters
      d.feed(
        3,
        packet([[7, []]]).map((t, i) => (i === 0 ? { ...t, b1: 0x01 } : t)),
      ); // a size past the data
      const junk: CcTriplet[] = Array.from({ length: 200 }, (_, i) => ({
        type: 2 + (i % 2),
        b1: (i * 37) & 0xff,
        b2: (i * 91) & 0xff,
      }));
      d.feed(4, junk);
    }).not.toThrow();
    expect(seen[0].text).toBe('O');
  });

  it('reset (a seek) ends the cue on screen and forgets the windows', () => {
    const { d, seen } = decoder();
    d.feed(0, packet([[1, [...defineWindow(0, true), ...text('HI')]]]));
    d.reset(2);
    expect(seen[0].end).toBe(2);
    d.feed(3, packet([[1, text('LOST')]])); // no window defined any more: nothing shown
    expect(seen).toHaveLength(1);
  });
});

describe('caption decoder (608 and 708 together)', () => {
  it('names each cue by its INSTREAM-ID, CC1 and SERVICE1 from the same pictures', () => {
    const cues: Array<[string, string, number | undefined]> = [];
    const open = new Map<CaptionCue, number>();
    const d = new CaptionDecoder({
      started: (c) => open.set(c, cues.push([c.service, c.text, undefined]) - 1),
      ended: (c, end) => (cues[open.get(c)!][2] = end),
    });
    const odd = (b: number) => {
      let ones = 0;
      for (let x = b; x; x >>= 1) ones += x & 1;
      return ones % 2 === 0 ? b | 0x80 : b;
    };
    const p608 = (b1: number, b2: number): CcTriplet => ({ type: 0, b1: odd(b1), b2: odd(b2) });
    // 608: RDC (paint-on), PAC row 15, "HI"; 708: a visible window with "YO"
    d.feed(0, [
      p608(0x14, 0x29),
      p608(0x14, 0x70),
      p608(0x48, 0x49),
      ...packet([[1, [...defineWindow(0, true), ...text('YO')]]]),
    ]);
    d.feed(1, [p608(0x14, 0x2c), ...packet([[1, HDW(1)]])]); // EDM; HideWindows
    expect(cues).toEqual([
      ['CC1', 'HI', 1],
      ['SERVICE1', 'YO', 1],
    ]);
  });
});
