/**
 * What a caption decoder's screen shows, as cues: whenever what is shown may have changed
 * (`dirty`, checked once per picture by `settle`), the cue on screen ends and, if anything is
 * still shown, a new one starts at that picture; the same text at the same row goes on as it was.
 * And the WebVTT markup of a styled run of caption text. Shared by the CEA-608 and CEA-708
 * decoders. Browser-safe.
 */

/** A run of caption text in WebVTT cue markup: escaped, then underline, italics, colour class. */
export function styledRun(text: string, style: { italic?: boolean; underline?: boolean; colour?: string }): string {
  let run = text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  if (style.underline) run = `<u>${run}</u>`;
  if (style.italic) run = `<i>${run}</i>`;
  if (style.colour) run = `<c.${style.colour}>${run}</c>`;
  return run;
}

export class ShownCue<C extends { start: number; text: string; row: number }> {
  /** What is shown may have changed since the last look. */
  dirty = false;
  private open: C | null = null;

  constructor(
    private readonly out: { started(cue: C): void; ended(cue: C, end: number): void },
    /** The cue for what is shown now, starting at `t`; null when nothing is. */
    private readonly shown: (t: number) => C | null,
  ) {}

  /** Ends the cue on screen and starts the next when what is shown changed (called once per picture). */
  settle(t: number): void {
    if (!this.dirty) return;
    this.dirty = false;
    const now = this.shown(t);
    if (this.open && now && now.text === this.open.text && now.row === this.open.row) return;
    if (this.open) this.out.ended(this.open, t);
    this.open = now;
    if (now) this.out.started(now);
  }

  /** The cue on screen, if any, ends at `t` (a reset: a seek, a gap in the media). */
  end(t: number): void {
    if (this.open) this.out.ended(this.open, t);
    this.open = null;
    this.dirty = false;
  }
}
