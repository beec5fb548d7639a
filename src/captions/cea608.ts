/**
 * A CEA-608 (line 21) closed-caption decoder: byte pairs in, timed cues out. Browser-safe.
 *
 * Each field carries two data channels (field 1: CC1 and CC2; field 2: CC3 and CC4); a control
 * code's first byte says its channel and the characters after it follow. Per channel, a 15-row
 * × 32-column screen with its displayed and non-displayed memories, in the three caption modes of
 * CEA-608-E §B.5: pop-on (text built off screen, shown at End Of Caption), roll-up (2 to 4 rows
 * rising from a base row at each carriage return) and paint-on (text written straight to the
 * screen). Text mode (TR, RTD) is read past; XDS packets on field 2 are skipped. Colours, italics
 * and underline (from preamble address and mid-row codes) are kept as WebVTT cue markup: `<i>`,
 * `<u>`, and the WebVTT default colour classes (`<c.lime>` for 608 green, `<c.yellow>`, …); white
 * plain text carries none. Flash and background attributes are not kept. A mid-row code is also
 * the space it occupies. A control pair sent twice in a row, as encoders do for robustness, is
 * acted on once. A byte whose parity fails is dropped with its pair.
 *
 * Cues: whenever what a channel shows changes (checked once per picture, `feed`), the cue on
 * screen ends and, if anything is still shown, a new one starts with the rows shown (trailing
 * spaces dropped), the top row and the leftmost column, for placement.
 */
import { ShownCue, styledRun } from './shown-cue.js';

export type CaptionChannel = 1 | 2 | 3 | 4;

export interface Cea608Cue {
  channel: CaptionChannel;
  /** Seconds, the time of the picture that put it on screen. */
  start: number;
  text: string;
  /** The topmost row shown, 1–15. */
  row: number;
  /** The leftmost column with text, 0–31. */
  column: number;
}

export interface Cea608Output {
  /** `cue` is on screen from its start, until `ended` says otherwise. */
  started(cue: Cea608Cue): void;
  /** `cue` left the screen at `end` seconds. */
  ended(cue: Cea608Cue, end: number): void;
}

/** One cc_data triplet of A/53: `type` 0 is field 1, 1 field 2 (2 and 3, DTVCC, are not 608). */
export interface CcTriplet {
  type: number;
  b1: number;
  b2: number;
}

const ROWS = 15;
const COLUMNS = 32;

/** The basic character set where it differs from ASCII (CEA-608-E Table 50). */
const BASIC: Record<number, string> = {
  0x2a: 'á',
  0x5c: 'é',
  0x5e: 'í',
  0x5f: 'ó',
  0x60: 'ú',
  0x7b: 'ç',
  0x7c: '÷',
  0x7d: 'Ñ',
  0x7e: 'ñ',
  0x7f: '█',
};
/** Special characters, 0x11 0x30–0x3f (Table 49; 0x39 is the transparent space). */
const SPECIAL = '®°½¿™¢£♪à\u00a0èâêîôû';
/** Extended characters, 0x12 0x20–0x3f and 0x13 0x20–0x3f (Tables 5 and 6): each replaces the character before it. */
const EXTENDED_12 = 'ÁÉÓÚÜü‘¡*’—©℠•“”ÀÂÇÈÊËëÎÏïÔÙùÛ«»';
const EXTENDED_13 = 'ÃãÍÌìÒòÕõ{}\\^_|~ÄäÖöß¥¤¦ÅåØø┌┐└┘';
/** Preamble address code rows by the first byte's low 3 bits: [row with b2 0x40–0x5f, row with 0x60–0x7f]. */
const PAC_ROWS: [number, number][] = [
  [11, 11],
  [1, 2],
  [3, 4],
  [12, 13],
  [14, 15],
  [5, 6],
  [7, 8],
  [9, 10],
];

function oddParity(b: number): boolean {
  let ones = 0;
  for (let x = b & 0xff; x; x >>= 1) ones += x & 1;
  return ones % 2 === 1;
}

type Mode = 'pop' | 'roll' | 'paint' | 'text';

/** A cell's style: its colour (an index of COLOURS) plus the two flags. 0: white, plain. */
const ITALIC = 8;
const UNDERLINE = 16;
/** 608's foreground colours as WebVTT's default colour classes (green is WebVTT's lime). */
const COLOURS = ['', 'lime', 'blue', 'cyan', 'red', 'yellow', 'magenta'];

/** One row of the screen: its characters and their styles. */
interface Row {
  ch: string[];
  st: number[];
}
const blankRow = (): Row => ({ ch: new Array<string>(COLUMNS).fill(' '), st: new Array<number>(COLUMNS).fill(0) });

class Memory {
  rows: Row[] = Array.from({ length: ROWS }, blankRow);
  clear(): void {
    this.rows = Array.from({ length: ROWS }, blankRow);
  }
}

/** A row's cells [from, to) as cue text, styled runs in WebVTT markup. */
function rowText(r: Row, from: number, to: number): string {
  let out = '';
  for (let i = from; i < to;) {
    const style = r.st[i];
    let j = i;
    while (j < to && r.st[j] === style) j++;
    out += styledRun(r.ch.slice(i, j).join(''), {
      italic: (style & ITALIC) !== 0,
      underline: (style & UNDERLINE) !== 0,
      colour: COLOURS[style & 7],
    });
    i = j;
  }
  return out;
}

/** One data channel's screen. */
class ChannelScreen {
  private displayed = new Memory();
  private hidden = new Memory();
  private mode: Mode | null = null;
  private rollRows = 2;
  private row = ROWS; // 1-based
  private col = 0;
  /** The style characters are written in (PACs and mid-row codes set it). */
  private pen = 0;
  /** The cue the displayed memory shows (`cue.dirty`: it may have changed since the last look). */
  private readonly cue: ShownCue<Cea608Cue>;

  constructor(
    readonly channel: CaptionChannel,
    out: Cea608Output,
  ) {
    this.cue = new ShownCue(out, (t) => {
      const now = this.shown();
      return now ? { channel, start: t, ...now } : null;
    });
  }

  private target(): Memory {
    return this.mode === 'pop' ? this.hidden : this.displayed;
  }

  private touch(m: Memory): void {
    if (m === this.displayed) this.cue.dirty = true;
  }

  /** A printable character at the cursor, the cursor then one column on (it stops at the last). */
  write(ch: string): void {
    if (this.mode === null || this.mode === 'text') return;
    const m = this.target();
    m.rows[this.row - 1].ch[this.col] = ch;
    m.rows[this.row - 1].st[this.col] = this.pen;
    if (this.col < COLUMNS - 1) this.col += 1;
    this.touch(m);
  }

  /**
   * A style from a PAC (`indented`: white, plain) or a mid-row code: bits 1–3 of the second byte
   * name a colour, or italics (7: keeping the colour after a mid-row code, white after a PAC);
   * bit 0 underline. A mid-row code is also a space, written in the new style.
   */
  style(b2: number, from: 'pac' | 'mid-row'): void {
    const code = (b2 >> 1) & 7;
    const underline = b2 & 1 ? UNDERLINE : 0;
    if (from === 'pac' && b2 & 0x10) this.pen = underline;
    else if (code === 7) this.pen = (from === 'mid-row' ? this.pen & 7 : 0) | ITALIC | underline;
    else this.pen = code | underline;
    if (from === 'mid-row') this.write(' ');
  }

  /** An extended character: it takes the place of the basic one sent before it for older decoders. */
  replace(ch: string): void {
    if (this.mode === null || this.mode === 'text') return;
    if (this.col > 0) this.col -= 1;
    this.write(ch);
  }

  misc(code: number): void {
    switch (code) {
      case 0x20: // RCL: resume caption loading
        this.mode = 'pop';
        return;
      case 0x21: // BS: backspace
        if (this.mode === null || this.mode === 'text' || this.col === 0) return;
        this.col -= 1;
        this.target().rows[this.row - 1].ch[this.col] = ' ';
        this.target().rows[this.row - 1].st[this.col] = 0;
        this.touch(this.target());
        return;
      case 0x24: {
        // DER: delete to end of row
        if (this.mode === null || this.mode === 'text') return;
        const m = this.target();
        m.rows[this.row - 1].ch.fill(' ', this.col);
        m.rows[this.row - 1].st.fill(0, this.col);
        this.touch(m);
        return;
      }
      case 0x25:
      case 0x26:
      case 0x27: // RU2–RU4: roll-up, 2 to 4 rows
        if (this.mode !== 'roll') {
          this.displayed.clear();
          this.hidden.clear();
          this.cue.dirty = true;
          this.row = ROWS;
        }
        this.mode = 'roll';
        this.rollRows = code - 0x23;
        if (this.row < this.rollRows) this.row = this.rollRows;
        this.col = 0;
        return;
      case 0x29: // RDC: resume direct captioning (paint-on)
        this.mode = 'paint';
        return;
      case 0x2a: // TR: text restart
      case 0x2b: // RTD: resume text display
        this.mode = 'text';
        return;
      case 0x2c: // EDM: erase displayed memory
        this.displayed.clear();
        this.cue.dirty = true;
        return;
      case 0x2d: // CR: carriage return (roll-up: the rows rise)
        if (this.mode === 'roll') this.rollUp();
        return;
      case 0x2e: // ENM: erase non-displayed memory
        this.hidden.clear();
        return;
      case 0x2f: // EOC: end of caption, the memories swap
        [this.displayed, this.hidden] = [this.hidden, this.displayed];
        this.mode = 'pop';
        this.cue.dirty = true;
        return;
      default: // AOF, AON (reserved), FON (flash): nothing to keep
        return;
    }
  }

  private rollUp(): void {
    const rows = this.displayed.rows;
    const top = this.row - this.rollRows; // 0-based index of the top row of the window
    for (let r = 0; r < this.row - 1; r++) rows[r] = r >= top ? rows[r + 1] : blankRow();
    rows[this.row - 1] = blankRow();
    for (let r = this.row; r < ROWS; r++) rows[r] = blankRow();
    this.col = 0;
    this.pen = 0; // a new row starts white, plain
    this.cue.dirty = true;
  }

  /** A preamble address code: the cursor to `row`, column `indent`; in roll-up the base row moves there with its rows. */
  address(row: number, indent: number): void {
    if (this.mode === 'roll') {
      const base = Math.max(row, this.rollRows);
      if (base !== this.row) {
        const rows = this.displayed.rows;
        const window = rows.slice(this.row - this.rollRows, this.row);
        for (let r = 0; r < ROWS; r++) rows[r] = blankRow();
        window.forEach((r, i) => (rows[base - this.rollRows + i] = r));
        this.cue.dirty = true;
      }
      this.row = base;
    } else this.row = row;
    this.col = indent;
  }

  tab(n: number): void {
    this.col = Math.min(COLUMNS - 1, this.col + n);
  }

  /** What is shown now, as a cue's text and placement, or null when the screen is empty. */
  private shown(): Omit<Cea608Cue, 'start' | 'channel'> | null {
    const lines: [Row, number][] = []; // a row and where its text ends
    let row = 0;
    let column = COLUMNS;
    this.displayed.rows.forEach((cells, i) => {
      const line = cells.ch.join('').replace(/\s+$/, '');
      if (line.trim() === '') return;
      if (row === 0) row = i + 1;
      column = Math.min(column, line.length - line.trimStart().length);
      lines.push([cells, line.length]);
    });
    if (lines.length === 0) return null;
    return { text: lines.map(([r, end]) => rowText(r, column, end)).join('\n'), row, column };
  }

  /** Ends the cue on screen and starts the next when what is shown changed (called once per picture). */
  settle(t: number): void {
    this.cue.settle(t);
  }

  /** Everything cleared (a seek, a gap in the media): the cue on screen ends at `t`. */
  reset(t: number): void {
    this.cue.end(t);
    this.displayed.clear();
    this.hidden.clear();
    this.mode = null;
    this.row = ROWS;
    this.col = 0;
    this.pen = 0;
  }
}

/** Decodes the 608 pairs of both fields into cues for CC1–CC4. */
export class Cea608Decoder {
  private readonly screens: ChannelScreen[];
  /** Per field: the channel its characters go to (the last control code's), 0 before any. */
  private readonly current = [0, 0];
  /** Per field: the last control pair, to ignore its repeat. */
  private readonly lastControl: (number | null)[] = [null, null];
  /** Field 2: inside an XDS packet (its bytes are not captions). */
  private xds = false;

  constructor(out: Cea608Output) {
    this.screens = ([1, 2, 3, 4] as const).map((c) => new ChannelScreen(c, out));
  }

  /** The cc_data of one picture shown at `t` seconds (pictures in presentation order). */
  feed(t: number, triplets: readonly CcTriplet[]): void {
    for (const { type, b1, b2 } of triplets) {
      if (type > 1) continue;
      if (!oddParity(b1) || !oddParity(b2)) {
        this.lastControl[type] = null;
        continue;
      }
      this.pair(type, b1 & 0x7f, b2 & 0x7f);
    }
    for (const s of this.screens) s.settle(t);
  }

  /** Clears every channel, ending the cues on screen at `t`. */
  reset(t: number): void {
    for (const s of this.screens) s.reset(t);
    this.current[0] = this.current[1] = 0;
    this.lastControl[0] = this.lastControl[1] = null;
    this.xds = false;
  }

  private pair(field: number, b1: number, b2: number): void {
    if (b1 === 0 && b2 === 0) return; // padding
    if (field === 1 && b1 >= 0x01 && b1 <= 0x0f) {
      this.xds = b1 !== 0x0f; // 0x0f ends a packet (its checksum in b2)
      this.lastControl[field] = null;
      return;
    }
    if (b1 >= 0x10 && b1 <= 0x1f) {
      if (this.lastControl[field] === ((b1 << 8) | b2)) {
        this.lastControl[field] = null; // the repeat: acted on once
        return;
      }
      this.lastControl[field] = (b1 << 8) | b2;
      if (field === 1) this.xds = false;
      const channel = field * 2 + (b1 & 0x08 ? 2 : 1);
      this.current[field] = channel;
      this.control(this.screens[channel - 1], b1 & 0x17, b2);
      return;
    }
    this.lastControl[field] = null;
    if (b1 < 0x20 || (field === 1 && this.xds)) return;
    const channel = this.current[field];
    if (channel === 0) return;
    const screen = this.screens[channel - 1];
    screen.write(BASIC[b1] ?? String.fromCharCode(b1));
    if (b2 >= 0x20) screen.write(BASIC[b2] ?? String.fromCharCode(b2));
  }

  /** A control pair for `s`; `b1` with the channel bit cleared (0x10–0x17). */
  private control(s: ChannelScreen, b1: number, b2: number): void {
    if (b2 >= 0x40 && b2 <= 0x7f) {
      const [low, high] = PAC_ROWS[b1 & 0x07];
      s.address(b2 & 0x20 ? high : low, b2 & 0x10 ? ((b2 & 0x0e) >> 1) * 4 : 0);
      s.style(b2, 'pac');
      return;
    }
    // misc control codes: 0x14 on field 1, 0x15 on field 2 (CC3/CC4)
    if ((b1 === 0x14 || b1 === 0x15) && b2 >= 0x20 && b2 <= 0x2f) s.misc(b2);
    else if (b1 === 0x17 && b2 >= 0x21 && b2 <= 0x23) s.tab(b2 - 0x20);
    else if (b1 === 0x11 && b2 >= 0x20 && b2 <= 0x2f) s.style(b2, 'mid-row');
    else if (b1 === 0x11 && b2 >= 0x30 && b2 <= 0x3f) s.write(SPECIAL[b2 - 0x30]);
    else if (b1 === 0x12 && b2 >= 0x20 && b2 <= 0x3f) s.replace(EXTENDED_12[b2 - 0x20]);
    else if (b1 === 0x13 && b2 >= 0x20 && b2 <= 0x3f) s.replace(EXTENDED_13[b2 - 0x20]);
    // background and foreground attributes (0x10 0x20–0x2f, 0x17 0x2d–0x2f): not kept
  }
}
