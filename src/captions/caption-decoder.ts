/**
 * The closed captions in a video's cc_data, both kinds at once: CEA-608 (field 1 and 2 pairs,
 * CC1–CC4, cea608.ts) and CEA-708 (DTVCC packets, services 1–63, cea708.ts), as broadcast
 * encoders send them side by side. Cues come out named by the service's HLS INSTREAM-ID (`CC1`,
 * `SERVICE1`), the one name the manifests, the packager and the players share. Browser-safe.
 */
import { Cea608Decoder, type CaptionChannel, type CcTriplet } from './cea608.js';
import { Cea708Decoder } from './cea708.js';

/** A caption service by its INSTREAM-ID (RFC 8216bis 4.4.6.1): a 608 channel or a 708 service. */
export type CaptionServiceId = `CC${CaptionChannel}` | `SERVICE${number}`;

export interface CaptionCue {
  service: CaptionServiceId;
  /** Seconds, the time of the picture that put it on screen. */
  start: number;
  text: string;
  /** Its top row on the 608 grid, 1–15 (a 708 window's anchor is put there). */
  row: number;
  /** Its leftmost column, 0–31. */
  column: number;
}

export interface CaptionOutput {
  started(cue: CaptionCue): void;
  ended(cue: CaptionCue, end: number): void;
}

/** CC1–CC4 first, then the 708 services by number. */
export function compareCaptionServices(a: CaptionServiceId, b: CaptionServiceId): number {
  const rank = (id: CaptionServiceId) => (id.startsWith('CC') ? 0 : 100) + Number(id.replace(/^\D+/, ''));
  return rank(a) - rank(b);
}

export class CaptionDecoder {
  private readonly d608: Cea608Decoder;
  private readonly d708: Cea708Decoder;
  /** Each decoder's cue object → the one given out for it. */
  private readonly given = new WeakMap<object, CaptionCue>();

  constructor(private readonly out: CaptionOutput) {
    this.d608 = new Cea608Decoder({
      started: (c) => this.started(c, `CC${c.channel}`),
      ended: (c, end) => this.ended(c, end),
    });
    this.d708 = new Cea708Decoder({
      started: (c) => this.started(c, `SERVICE${c.service}`),
      ended: (c, end) => this.ended(c, end),
    });
  }

  private started(c: Omit<CaptionCue, 'service'>, service: CaptionServiceId): void {
    const cue: CaptionCue = { service, start: c.start, text: c.text, row: c.row, column: c.column };
    this.given.set(c, cue);
    this.out.started(cue);
  }

  private ended(c: object, end: number): void {
    const cue = this.given.get(c);
    if (cue) this.out.ended(cue, end);
  }

  /** The cc_data of one picture shown at `t` seconds (pictures in presentation order). */
  feed(t: number, triplets: readonly CcTriplet[]): void {
    this.d608.feed(t, triplets);
    this.d708.feed(t, triplets);
  }

  /** Clears every service, ending the cues on screen at `t`. */
  reset(t: number): void {
    this.d608.reset(t);
    this.d708.reset(t);
  }
}
