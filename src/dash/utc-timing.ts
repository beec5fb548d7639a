/**
 * DASH UTCTiming (ISO/IEC 23009-1 §5.8.4.11 and Table 32; DASH-IF IOP §4.7): a live MPD names
 * where a client reads the clock its availability times are on. Our player reads it as a source
 * starts and every 10 minutes after (player-demo/player/dash-source.ts) and keeps the offset (server − local, ms),
 * taking the middle of the request as the moment the server's answer stands for.
 *
 * Schemes read: `http-iso` and `http-xsdate` (the body is an ISO 8601 / xs:dateTime time; the
 * value may list several URLs, tried in turn), `direct` (the value is the time, as of the MPD's
 * arrival). Others (`http-head`, `http-ntp`, `ntp`, `sntp`) are passed over. None that answers:
 * the local clock (null), which is what a client without UTCTiming has to assume.
 */
import { unescapeXml } from './xml-element.js';

export interface UtcTiming {
  kind: 'http' | 'direct';
  /** http: absolute URLs, in order; direct: the time itself. */
  values: string[];
}

const HTTP_SCHEME = /^urn:mpeg:dash:utc:http-(?:iso|xsdate):201[24]$/;
const DIRECT_SCHEME = /^urn:mpeg:dash:utc:direct:201[24]$/;

/** The MPD's UTCTiming elements this player can use, in document order (the MPD's preference). */
export function readUtcTimings(mpd: string, mpdUrl: string): UtcTiming[] {
  const out: UtcTiming[] = [];
  for (const [element] of mpd.matchAll(/<UTCTiming\b[^>]*>/g)) {
    const scheme = /\bschemeIdUri="([^"]*)"/.exec(element)?.[1]?.trim() ?? '';
    const value = unescapeXml(/\bvalue="([^"]*)"/.exec(element)?.[1] ?? '').trim();
    if (!value) continue;
    if (DIRECT_SCHEME.test(scheme)) out.push({ kind: 'direct', values: [value] });
    else if (HTTP_SCHEME.test(scheme)) {
      const urls = value.split(/\s+/).flatMap((v) => {
        try {
          return [new URL(v, mpdUrl).href];
        } catch {
          return [];
        }
      });
      if (urls.length) out.push({ kind: 'http', values: urls });
    }
  }
  return out;
}

/** Reads of one http clock, the one with the shortest round trip kept (its midpoint errs least). */
const HTTP_SAMPLES = 3;

/**
 * The server's clock less the local one (ms), from the first timing source that gives a time;
 * null when none does. `mpdArrivedAt` (local ms) is when the MPD holding a `direct` time arrived.
 * An http clock is read HTTP_SAMPLES times and the read with the shortest round trip kept: the
 * midpoint of a request is off by up to half its round trip, and a page still busy starting up
 * (or a cold connection) makes the first one long (a 0.5 s first read put the edge 0.23 s early).
 */
export async function clockOffsetMs(
  timings: UtcTiming[],
  getText: (url: string) => Promise<string>,
  mpdArrivedAt: number,
  now: () => number = Date.now,
): Promise<number | null> {
  for (const t of timings) {
    if (t.kind === 'direct') {
      const at = parseTime(t.values[0]);
      if (at !== null) return at - mpdArrivedAt;
      continue;
    }
    for (const url of t.values) {
      let best: { rtt: number; offset: number } | undefined;
      for (let i = 0; i < HTTP_SAMPLES; i++) {
        const sent = now();
        let body: string;
        try {
          body = await getText(url);
        } catch {
          break;
        }
        const back = now();
        const at = parseTime(body);
        if (at === null) break;
        if (!best || back - sent < best.rtt) best = { rtt: back - sent, offset: at - (sent + back) / 2 };
      }
      if (best) return best.offset;
    }
  }
  return null;
}

/** An ISO 8601 / xs:dateTime time (epoch ms), or null. A time with no zone is taken as UTC. */
function parseTime(text: string): number | null {
  const s = text.trim();
  if (!/^\d{4}-\d\d-\d\dT\d\d:\d\d(?::\d\d(?:\.\d+)?)?(?:Z|[+-]\d\d:?\d\d)?$/.test(s)) return null;
  const ms = Date.parse(/(?:Z|[+-]\d\d:?\d\d)$/.test(s) ? s : `${s}Z`);
  return Number.isFinite(ms) ? ms : null;
}
