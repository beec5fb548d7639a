/**
 * An MPD of several Periods (ISO/IEC 23009-1 §5.3.2: ad breaks stitched in by a server-side ad
 * inserter, a pre-roll, a live event's programme changes), cut into one single-Period MPD each, for
 * those who play DASH. mpd-parser reads one Period correctly but merges several by Representation
 * id with the wrong times (a Period after an ad came out 6 s early, its segments counted past its
 * end) and leaves Representations whose id changes per Period as renditions of their own. Each
 * Period's MPD keeps the MPD-level header (BaseURL, availabilityStartTime, …) and gets an explicit
 * `start` and, when it is known, `duration`, so the Period is read as it stands in the whole.
 */
import { parseXsDuration } from './xs-duration.js';

export interface MpdPeriod {
  /** Period@id, or its start when it has none (stable across reloads of a live MPD). */
  key: string;
  /** Seconds from the presentation's start (availabilityStartTime on a dynamic MPD). */
  startSec: number;
  /** Its length when the MPD says or implies it (the next Period's start, the presentation's end). */
  durationSec?: number;
  /** A single-Period MPD: the whole MPD with only this Period in it. */
  text: string;
}

const PERIOD = /<((?:[\w-]+:)?Period)\b[^>]*?(?:\/>|>[\s\S]*?<\/\1\s*>)/g;

/**
 * The MPD's Periods in document order (which is time order, §5.3.2.1), each as an MPD of its own.
 * An MPD with one Period comes back as it is. A Period's start is its @start, else the previous
 * Period's start plus its @duration, else 0 for the first; its duration is its @duration, else up
 * to the next Period's start, else (static) up to mediaPresentationDuration.
 */
export function splitPeriods(mpd: string): MpdPeriod[] {
  const found = [...mpd.matchAll(PERIOD)];
  if (found.length === 0) return [];
  const head = mpd.slice(0, found[0].index);
  const last = found[found.length - 1];
  const tail = mpd.slice(last.index + last[0].length);
  const starts: number[] = [];
  const durations: (number | undefined)[] = [];
  for (const [i, m] of found.entries()) {
    const tag = startTag(m[0]);
    const start = parseXsDuration(attrOf(tag, 'start'));
    durations.push(parseXsDuration(attrOf(tag, 'duration')));
    const prev = i > 0 ? starts[i - 1] + (durations[i - 1] ?? 0) : 0;
    starts.push(start ?? prev);
  }
  const total = parseXsDuration(
    attrOf(startTag(mpd.slice(mpd.search(/<(?:[\w-]+:)?MPD\b/))), 'mediaPresentationDuration'),
  );
  return found.map((m, i) => {
    const startSec = starts[i];
    const next = starts[i + 1];
    const durationSec =
      durations[i] ?? (next !== undefined ? next - startSec : total !== undefined ? total - startSec : undefined);
    const key = attrOf(startTag(m[0]), 'id') ?? `@${startSec}`;
    if (found.length === 1) return { key, startSec, ...(durationSec !== undefined ? { durationSec } : {}), text: mpd };
    const period = withAttrs(m[0], {
      start: `PT${startSec}S`,
      ...(durationSec !== undefined ? { duration: `PT${durationSec}S` } : {}),
    });
    return { key, startSec, ...(durationSec !== undefined ? { durationSec } : {}), text: head + period + tail };
  });
}

function startTag(element: string): string {
  return /^<[^>]*>/.exec(element)?.[0] ?? '';
}

function attrOf(tag: string, name: string): string | undefined {
  return new RegExp(`\\s${name}="([^"]*)"`).exec(tag)?.[1];
}

/** The element with these attributes of its start tag set (replaced, or added). */
function withAttrs(element: string, attrs: Record<string, string>): string {
  let tag = startTag(element);
  const rest = element.slice(tag.length);
  for (const [name, value] of Object.entries(attrs)) {
    const re = new RegExp(`(\\s${name}=")[^"]*(")`);
    tag = re.test(tag) ? tag.replace(re, `$1${value}$2`) : tag.replace(/^(<[\w:-]+)/, `$1 ${name}="${value}"`);
  }
  return tag + rest;
}

/**
 * The Representation of a Period that plays the ladder's rung `rung` across Periods (an ad break
 * has its own ids, often fewer rungs): the one with the rung's id, else the highest whose
 * bandwidth is at most the rung's (5 % over allowed), else the lowest. Undefined when there is none.
 */
export function matchAcrossPeriods<T>(
  rung: { id: string; bitrate: number },
  candidates: readonly T[],
  idOf: (c: T) => string,
  bitrateOf: (c: T) => number,
): T | undefined {
  const same = candidates.find((c) => idOf(c) === rung.id);
  if (same !== undefined) return same;
  const sorted = [...candidates].sort((a, b) => bitrateOf(a) - bitrateOf(b));
  const fits = sorted.filter((c) => bitrateOf(c) <= rung.bitrate * 1.05);
  return fits[fits.length - 1] ?? sorted[0];
}

/** Cursor room per Period after the first: 2^32 segments. */
const PERIOD_STRIDE = 2 ** 32;

/**
 * Segment cursors (a player's "msn") across Periods, each Period's $Number$s being its own. The
 * first Period a client sees keeps the MPD's $Number$s (so a one-Period MPD is numbered as it
 * says); the Period seen k-th after it counts from k × 2^32 up, from the first $Number$ the client
 * saw listed in it for that Representation. A new Period always comes later in time (§5.3.2.1),
 * so cursors rise along the presentation, and a cursor names its Period.
 */
export class PeriodCursors {
  private readonly ordinals = new Map<string, number>();
  private readonly firstNumbers = new Map<string, number>();

  /** Registers the Periods of an MPD just read (in document order); known ones keep their place. */
  see(keys: Iterable<string>): void {
    for (const key of keys) if (!this.ordinals.has(key)) this.ordinals.set(key, this.ordinals.size);
  }

  ordinal(key: string): number {
    return this.ordinals.get(key) ?? 0;
  }

  /** The ordinal of the Period cursor `msn` lies in. */
  ordinalOf(msn: number): number {
    return msn >= PERIOD_STRIDE ? Math.floor(msn / PERIOD_STRIDE) : 0;
  }

  /** The cursor of segment `number` of `track` in Period `key`. */
  cursor(track: string, key: string, number: number): number {
    const ordinal = this.ordinal(key);
    if (ordinal === 0) return number;
    const at = `${track} ${key}`;
    let first = this.firstNumbers.get(at);
    if (first === undefined) this.firstNumbers.set(at, (first = number));
    return ordinal * PERIOD_STRIDE + (number - first);
  }

  /** The $Number$ of cursor `msn` of `track` in Period `key`. */
  number(track: string, key: string, msn: number): number {
    const ordinal = this.ordinal(key);
    return ordinal === 0 ? msn : msn - ordinal * PERIOD_STRIDE + (this.firstNumbers.get(`${track} ${key}`) ?? 0);
  }
}

/** The Period with the most video Representations (the first of those): the programme's, whose ladder is offered. */
export function richestPeriod<T extends { video: readonly unknown[] }>(periods: readonly T[]): T | undefined {
  return periods.reduce<T | undefined>((a, b) => (a && a.video.length >= b.video.length ? a : b), undefined);
}

/**
 * Whether a segment listed in `period` (its start and length in seconds of the presentation)
 * falls within it: mpd-parser counts a live @duration template's segments up to now whatever the
 * Period's end, and a SegmentTimeline resumed with a presentationTimeOffset lists what came before
 * its start.
 */
export function withinPeriod(period: MpdPeriod, startSec: number, durationSec: number): boolean {
  const end = period.durationSec !== undefined ? period.startSec + period.durationSec : Infinity;
  return startSec < end - 1e-6 && startSec + durationSec > period.startSec + 1e-6;
}
