/**
 * A CEA-708 (DTVCC) closed-caption decoder: A/53 cc_data triplets in, timed cues out, per caption
 * service (1–63). Browser-safe.
 *
 * Transport (CEA-708-E §5–6): a DTVCC packet starts at a `cc_type` 3 triplet (its first byte the
 * header: a 2-bit sequence number and the packet's size, `code × 2` bytes with the header, 0
 * meaning 128) and continues in `cc_type` 2 triplets, across pictures as encoders spread it. A
 * packet is read once complete, or when the next one starts (what came is read, as players do).
 * Inside it, service blocks: a 3-bit service number (7: an extended number in the next byte) and
 * a 5-bit size; service 0 ends the packet.
 *
 * Each service's data is read as CEA-708's code space (§7.1): C0 controls (BS, FF, CR, HCR, ETX,
 * EXT1, P16), G0 (ASCII, 0x7F the music note), C1 window and pen commands, G1 (Latin-1), and
 * behind EXT1 the G2 and G3 characters, with every command's parameter bytes skipped by its code
 * so a command this decoder does not act on never shifts the ones after it. Eight windows per
 * service (DefineWindow, Clear/Display/Hide/Toggle/DeleteWindows, SetCurrentWindow, Reset),
 * their text by pen location (SetPenLocation, CR scrolling up a full window), italics and
 * underline from SetPenAttributes as WebVTT markup. Not kept: colours, edge and font styles, pen
 * sizes, window fill and borders, justification and print direction other than left to right,
 * and Delay (DLY/DLC: commands act when they arrive). Malformed data is skipped, never thrown.
 *
 * Cues, as the 608 decoder gives them: whenever what a service shows (its visible windows, in
 * priority order) changes, checked once per picture, the cue on screen ends and a new one starts;
 * its place is the topmost window's anchor on the 608 grid (row 1–15, column 0–31), so one
 * placement rule serves both.
 */
import type { CcTriplet } from './cea608.js';
import { ShownCue, styledRun } from './shown-cue.js';

export interface Cea708Cue {
  /** The caption service, 1–63 (HLS INSTREAM-ID `SERVICE<n>`). */
  service: number;
  /** Seconds, the time of the picture that put it on screen. */
  start: number;
  text: string;
  /** Where its topmost window sits, on the 608 grid: row 1–15. */
  row: number;
  /** The leftmost column, 0–31. */
  column: number;
}

export interface Cea708Output {
  started(cue: Cea708Cue): void;
  ended(cue: Cea708Cue, end: number): void;
}

const MAX_ROWS = 15;
const MAX_COLUMNS = 42;
const ITALIC = 1;
const UNDERLINE = 2;

/** G2 characters (after EXT1) that have a picture; the rest are shown as nothing. */
const G2: Record<number, string> = {
  0x20: ' ',
  0x21: '\u00a0',
  0x25: '…',
  0x2a: 'Š',
  0x2c: 'Œ',
  0x30: '█',
  0x31: '‘',
  0x32: '’',
  0x33: '“',
  0x34: '”',
  0x35: '•',
  0x39: '™',
  0x3a: 'š',
  0x3c: 'œ',
  0x3d: '℠',
  0x3f: 'Ÿ',
  0x76: '⅛',
  0x77: '⅜',
  0x78: '⅝',
  0x79: '⅞',
  0x7a: '│',
  0x7b: '┐',
  0x7c: '└',
  0x7d: '─',
  0x7e: '┘',
  0x7f: '┌',
};

interface Cell {
  ch: string;
  st: number;
}

class CaptionWindow {
  visible = false;
  priority = 0;
  rowCount = 1;
  columnCount = 32;
  relative = false;
  anchorV = 0;
  anchorH = 0;
  anchorPoint = 0;
  rows: Cell[][] = [];
  penRow = 0;
  penCol = 0;
  pen = 0;

  constructor() {
    this.clear();
  }

  define(p: Uint8Array, at: number): void {
    this.visible = (p[at] & 0x20) !== 0;
    this.priority = p[at] & 0x07;
    this.relative = (p[at + 1] & 0x80) !== 0;
    this.anchorV = p[at + 1] & 0x7f;
    this.anchorH = p[at + 2];
    this.anchorPoint = p[at + 3] >> 4;
    const rows = Math.min(MAX_ROWS, (p[at + 3] & 0x0f) + 1);
    this.columnCount = Math.min(MAX_COLUMNS, (p[at + 4] & 0x3f) + 1);
    // a window made smaller keeps its bottom rows (the newest text)
    while (this.rows.length > rows) this.rows.shift();
    while (this.rows.length < rows) this.rows.push([]);
    this.rowCount = rows;
    this.penRow = Math.min(this.penRow, rows - 1);
  }

  clear(): void {
    this.rows = Array.from({ length: this.rowCount }, () => []);
    this.penRow = 0;
    this.penCol = 0;
  }

  write(ch: string): void {
    if (this.penCol >= MAX_COLUMNS) return;
    this.rows[this.penRow][this.penCol] = { ch, st: this.pen };
    this.penCol += 1;
  }

  backspace(): void {
    if (this.penCol === 0) return;
    this.penCol -= 1;
    this.rows[this.penRow][this.penCol] = { ch: ' ', st: 0 };
  }

  carriageReturn(): void {
    this.penCol = 0;
    if (this.penRow + 1 < this.rowCount) this.penRow += 1;
    else {
      this.rows.shift();
      this.rows.push([]);
    }
  }

  clearRow(): void {
    this.rows[this.penRow] = [];
    this.penCol = 0;
  }

  moveTo(row: number, column: number): void {
    this.penRow = Math.min(row, this.rowCount - 1);
    this.penCol = Math.min(column, MAX_COLUMNS - 1);
  }

  /** Its rows with text, as [row index, text without trailing spaces, leading spaces]. */
  lines(): [number, Cell[], number][] {
    const out: [number, Cell[], number][] = [];
    this.rows.forEach((cells, i) => {
      const row = Array.from({ length: cells.length }, (_, k) => cells[k] ?? { ch: ' ', st: 0 });
      while (row.length > 0 && row[row.length - 1].ch.trim() === '') row.pop();
      if (row.length === 0) return;
      let lead = 0;
      while (lead < row.length && row[lead].ch.trim() === '') lead++;
      out.push([i, row, lead]);
    });
    return out;
  }
}

function markup(cells: Cell[]): string {
  let out = '';
  for (let i = 0; i < cells.length;) {
    const st = cells[i].st;
    let j = i;
    while (j < cells.length && cells[j].st === st) j++;
    const text = cells
      .slice(i, j)
      .map((c) => c.ch)
      .join('');
    out += styledRun(text, { italic: (st & ITALIC) !== 0, underline: (st & UNDERLINE) !== 0 });
    i = j;
  }
  return out;
}

/** One service's eight windows and the cue they show. */
class ServiceScreen {
  private readonly windows: (CaptionWindow | null)[] = new Array<CaptionWindow | null>(8).fill(null);
  private current = -1;
  /** The cue the visible windows show (`cue.dirty`: it may have changed since the last look). */
  private readonly cue: ShownCue<Cea708Cue>;

  constructor(
    readonly service: number,
    out: Cea708Output,
  ) {
    this.cue = new ShownCue(out, (t) => {
      const now = this.shown();
      return now ? { service, start: t, ...now } : null;
    });
  }

  /** One service block's bytes. */
  read(b: Uint8Array, start: number, end: number): void {
    let i = start;
    while (i < end) {
      const c = b[i++];
      if (c <= 0x1f) i = this.c0(c, b, i, end);
      else if (c <= 0x7f) this.write(c === 0x7f ? '♪' : String.fromCharCode(c));
      else if (c <= 0x9f) i = this.c1(c, b, i, end);
      else this.write(String.fromCharCode(c)); // G1: Latin-1
      if (i > end) return; // a command cut short: its block ends here
    }
  }

  private get window(): CaptionWindow | null {
    return this.current >= 0 ? this.windows[this.current] : null;
  }

  private changed(w: CaptionWindow | null): void {
    if (w?.visible) this.cue.dirty = true;
  }

  private write(ch: string): void {
    const w = this.window;
    if (!w) return;
    w.write(ch);
    this.changed(w);
  }

  /** A C0 code at `b[i - 1]`; returns where the next code starts. */
  private c0(c: number, b: Uint8Array, i: number, end: number): number {
    const w = this.window;
    switch (c) {
      case 0x08: // BS
        w?.backspace();
        this.changed(w);
        return i;
      case 0x0c: // FF: clear the window, pen to its origin
        w?.clear();
        this.changed(w);
        return i;
      case 0x0d: // CR
        w?.carriageReturn();
        this.changed(w);
        return i;
      case 0x0e: // HCR: the pen's row cleared
        w?.clearRow();
        this.changed(w);
        return i;
      case 0x10: // EXT1: the extended code sets
        return i < end ? this.ext1(b[i], b, i + 1, end) : i + 1;
      case 0x18: // P16: a 16-bit character
        if (i + 2 <= end) this.write(String.fromCharCode((b[i] << 8) | b[i + 1]));
        return i + 2;
      default: // NUL, ETX, reserved: 0x11–0x17 take one byte, 0x19–0x1f two
        return c >= 0x19 ? i + 2 : c >= 0x11 ? i + 1 : i;
    }
  }

  private ext1(c: number, b: Uint8Array, i: number, end: number): number {
    if (c <= 0x1f) return i + (c >> 3); // C2: 0, 1, 2 or 3 parameter bytes
    if (c <= 0x7f) {
      const ch = G2[c];
      if (ch !== undefined) this.write(ch);
      return i;
    }
    if (c <= 0x87) return i + 4; // C3
    if (c <= 0x8f) return i + 5;
    if (c <= 0x9f) return i < end ? i + 1 + (b[i] & 0x3f) : i + 1; // C3 variable length
    this.write(c === 0xa0 ? '㏄' : '_'); // G3: the [CC] icon, the rest unassigned
    return i;
  }

  /** A C1 command at `b[i - 1]`. */
  private c1(c: number, b: Uint8Array, i: number, end: number): number {
    if (c <= 0x87) {
      // CW0–CW7: set the current window (if defined)
      if (this.windows[c - 0x80]) this.current = c - 0x80;
      return i;
    }
    if (c >= 0x98) {
      // DF0–DF7: define (or redefine) a window, which becomes the current one
      if (i + 6 > end) return i + 6;
      const n = c - 0x98;
      const w = this.windows[n] ?? new CaptionWindow();
      const wasVisible = w.visible;
      w.define(b, i);
      this.windows[n] = w;
      this.current = n;
      if (wasVisible || w.visible) this.cue.dirty = true;
      return i + 6;
    }
    switch (c) {
      case 0x88: // CLW
      case 0x89: // DSW
      case 0x8a: // HDW
      case 0x8b: // TGW
      case 0x8c: // DLW
        if (i < end) this.windowSet(c, b[i]);
        return i + 1;
      case 0x8d: // DLY (not kept)
        return i + 1;
      case 0x8f: // RST
        this.windows.fill(null);
        this.current = -1;
        this.cue.dirty = true;
        return i;
      case 0x90: // SPA: pen attributes, italics and underline kept
        if (i + 2 <= end && this.window)
          this.window.pen = (b[i + 1] & 0x80 ? ITALIC : 0) | (b[i + 1] & 0x40 ? UNDERLINE : 0);
        return i + 2;
      case 0x91: // SPC
        return i + 3;
      case 0x92: // SPL
        if (i + 2 <= end) this.window?.moveTo(b[i] & 0x0f, b[i + 1] & 0x3f);
        return i + 2;
      case 0x97: // SWA
        return i + 4;
      default: // DLC, reserved
        return i;
    }
  }

  private windowSet(c: number, bits: number): void {
    for (let n = 0; n < 8; n++) {
      if (!(bits & (1 << n))) continue;
      const w = this.windows[n];
      if (!w) continue;
      if (c === 0x88) {
        w.clear();
        this.changed(w);
      } else if (c === 0x8c) {
        this.windows[n] = null;
        if (this.current === n) this.current = -1;
        if (w.visible) this.cue.dirty = true;
      } else {
        w.visible = c === 0x89 ? true : c === 0x8a ? false : !w.visible;
        this.cue.dirty = true;
      }
    }
  }

  /** What is shown: the visible windows' text in priority order, placed by the topmost one. */
  private shown(): Omit<Cea708Cue, 'start' | 'service'> | null {
    const visible = this.windows
      .filter((w): w is CaptionWindow => w !== null && w.visible)
      .map((w) => ({ w, lines: w.lines() }))
      .filter((x) => x.lines.length > 0)
      .sort((a, b) => a.w.priority - b.w.priority || a.w.anchorV - b.w.anchorV);
    if (visible.length === 0) return null;
    const text = visible.flatMap(({ lines }) => {
      const lead = Math.min(...lines.map((l) => l[2]));
      return lines.map(([, cells]) => markup(cells.slice(lead)));
    });
    const top = visible.reduce((a, b) => (gridRow(b.w) < gridRow(a.w) ? b : a));
    return { text: text.join('\n'), ...place(top.w, top.lines) };
  }

  settle(t: number): void {
    this.cue.settle(t);
  }

  reset(t: number): void {
    this.cue.end(t);
    this.windows.fill(null);
    this.current = -1;
  }
}

/** A window's anchor as a fraction of the screen (0–1), vertical and horizontal. */
function anchor(w: CaptionWindow): [number, number] {
  // absolute anchors: 75 vertical positions, 210 horizontal on a 16:9 screen
  return w.relative
    ? [Math.min(w.anchorV, 99) / 100, Math.min(w.anchorH, 99) / 100]
    : [w.anchorV / 74, w.anchorH / 209];
}

/** The 608-grid row (1–15) of a window's top. */
function gridRow(w: CaptionWindow): number {
  const anchorRow = 1 + Math.round(Math.min(1, anchor(w)[0]) * 14);
  const vertical = Math.floor(w.anchorPoint / 3); // 0: top, 1: middle, 2: bottom
  const above = vertical === 2 ? w.rowCount - 1 : vertical === 1 ? Math.floor((w.rowCount - 1) / 2) : 0;
  return Math.max(1, Math.min(MAX_ROWS, anchorRow - above));
}

function place(w: CaptionWindow, lines: [number, Cell[], number][]): { row: number; column: number } {
  const width = Math.max(...lines.map(([, cells, lead]) => cells.length - lead));
  const horizontal = w.anchorPoint % 3; // 0: left, 1: centre, 2: right
  const anchorColumn = Math.round(Math.min(1, anchor(w)[1]) * 31);
  const column = anchorColumn - (horizontal === 1 ? Math.floor(width / 2) : horizontal === 2 ? width : 0);
  return { row: gridRow(w) + lines[0][0], column: Math.max(0, Math.min(31, column)) };
}

/** Decodes the DTVCC packets of a video's cc_data into cues, per service. */
export class Cea708Decoder {
  private readonly screens = new Map<number, ServiceScreen>();
  private packet: number[] | null = null;
  private packetSize = 0;

  constructor(private readonly out: Cea708Output) {}

  /** The cc_data of one picture shown at `t` seconds (pictures in presentation order). */
  feed(t: number, triplets: readonly CcTriplet[]): void {
    for (const { type, b1, b2 } of triplets) {
      if (type === 3) {
        if (this.packet) this.packetDone();
        const code = b1 & 0x3f;
        this.packetSize = code === 0 ? 128 : code * 2;
        this.packet = [b1, b2];
      } else if (type === 2 && this.packet) this.packet.push(b1, b2);
      else continue;
      if (this.packet && this.packet.length >= this.packetSize) this.packetDone();
    }
    for (const s of this.screens.values()) s.settle(t);
  }

  /** Clears every service, ending the cues on screen at `t`. */
  reset(t: number): void {
    for (const s of this.screens.values()) s.reset(t);
    this.packet = null;
  }

  private packetDone(): void {
    const p = Uint8Array.from(this.packet!.slice(0, this.packetSize));
    this.packet = null;
    let i = 1; // after the packet header
    while (i < p.length) {
      let service = p[i] >> 5;
      const size = p[i] & 0x1f;
      i += 1;
      if (service === 0) return; // the null block: nothing after it
      if (service === 7) {
        if (i >= p.length) return;
        service = p[i++] & 0x3f;
        if (service < 7) return; // an extended number below 7 is not allowed
      }
      const end = Math.min(p.length, i + size);
      this.screen(service).read(p, i, end);
      i = end;
    }
  }

  private screen(service: number): ServiceScreen {
    let s = this.screens.get(service);
    if (!s) {
      s = new ServiceScreen(service, this.out);
      this.screens.set(service, s);
    }
    return s;
  }
}
