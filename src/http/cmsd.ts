/**
 * CMSD (CTA-5006, Common Media Server Data): what a server says of a media object in its
 * response, as RFC 8941 structured fields.
 *
 * - `CMSD-Static` (a Dictionary): facts about the object that hold on every hop and every copy,
 *   written by the origin and kept by caches: object type, stream type, streaming format, its
 *   duration and encoded bitrate, and the next object a player will ask for (`nor`, a path
 *   relative to this one: what a CDN may prefetch).
 * - `CMSD-Dynamic` (a List): one entry per hop, each a server name with parameters that hold for
 *   that hop and that moment only (`du` duress, `mb` the highest bitrate the server suggests,
 *   `etp` throughput, `rtt`, `rd` response delay). A cache never stores or replays one.
 */

/** Header names (lowercase, as node's header objects have them). */
export const CMSD_STATIC = 'cmsd-static';
export const CMSD_DYNAMIC = 'cmsd-dynamic';

/** Object types (CTA-5006 §4.2, as CMCD's): manifest, audio, video, muxed, init, caption, timed text, key, other. */
export type CmsdObjectType = 'm' | 'a' | 'v' | 'av' | 'i' | 'c' | 'tt' | 'k' | 'o';

export interface CmsdStatic {
  /** Availability time: ms since the epoch at which the object's first byte was available. */
  at?: number;
  /** Encoded bitrate of the object, kbit/s (media only). */
  br?: number;
  /** Playback duration of the object (of the part, for a part), ms. */
  d?: number;
  /** Held time: ms the origin held this response back (LL-HLS blocking requests). */
  ht?: number;
  /** Intermediary identifier. */
  n?: string;
  /** Next object request: a URL-encoded path relative to this object's. */
  nor?: string;
  ot?: CmsdObjectType;
  /** Streaming format: d (DASH), h (HLS), s (Smooth), o (other); absent when unknown (CMAF shared by both). */
  sf?: 'd' | 'h' | 's' | 'o';
  /** Stream type: v (all segments available, VOD), l (available over time, live). */
  st?: 'v' | 'l';
}

export interface CmsdDynamicEntry {
  /** The server that wrote the entry. */
  server: string;
  /** Under duress: the client should move to another server if it can. */
  du?: boolean;
  /** Estimated throughput to the client, kbit/s. */
  etp?: number;
  /** The highest bitrate the client should play, kbit/s. */
  mb?: number;
  /** Response delay: ms between the request and the first byte of the body. */
  rd?: number;
  /** Round-trip time, ms. */
  rtt?: number;
}

const STATIC_ORDER = ['at', 'br', 'd', 'ht', 'n', 'nor', 'ot', 'sf', 'st'] as const;
const STATIC_STRINGS = new Set(['n', 'nor']);
const STATIC_TOKENS = new Set(['ot', 'sf', 'st']);

/** An RFC 8941 sf-string: printable ASCII, `"` and `\` escaped; other characters dropped. */
function sfString(s: string): string {
  return `"${s.replace(/[^\x20-\x7e]/g, '').replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

/** A non-negative integer within RFC 8941's range, else undefined. */
function sfInteger(v: number): string | undefined {
  if (!Number.isFinite(v) || v < 0) return undefined;
  const n = Math.round(v);
  return n <= 999_999_999_999_999 ? String(n) : undefined;
}

/** The `CMSD-Static` value: keys in alphabetical order, as CTA-5006 recommends. */
export function formatCmsdStatic(s: CmsdStatic): string {
  const out: string[] = [];
  for (const k of STATIC_ORDER) {
    const v = s[k];
    if (v === undefined) continue;
    if (STATIC_STRINGS.has(k)) out.push(`${k}=${sfString(String(v))}`);
    else if (STATIC_TOKENS.has(k)) out.push(`${k}=${String(v)}`);
    else {
      const n = sfInteger(v as number);
      if (n !== undefined) out.push(`${k}=${n}`);
    }
  }
  return out.join(',');
}

/** One `CMSD-Dynamic` list member: `"<server>"` with its parameters (keys in alphabetical order). */
export function formatCmsdDynamicEntry(e: CmsdDynamicEntry): string {
  let out = sfString(e.server);
  if (e.du) out += ';du';
  for (const k of ['etp', 'mb', 'rd', 'rtt'] as const) {
    const v = e[k];
    const n = v === undefined ? undefined : sfInteger(v);
    if (n !== undefined) out += `;${k}=${n}`;
  }
  return out;
}

/**
 * A `CMSD-Dynamic` value (one or several header lines joined with ", ") as its entries, the
 * origin's first. Members that are not a server name with parameters are skipped.
 */
export function parseCmsdDynamic(text: string | undefined): CmsdDynamicEntry[] {
  const out: CmsdDynamicEntry[] = [];
  if (!text) return out;
  // a member: an sf-string or token, then ;key[=value] parameters
  const member =
    /\s*("(?:[^"\\]|\\.)*"|[A-Za-z*][A-Za-z0-9:/!#$%&'*+.^_`|~-]*)((?:\s*;\s*[a-z*][a-z0-9_.*-]*(?:=(?:"(?:[^"\\]|\\.)*"|[^;,\s]*))?)*)\s*(?:,|$)/y;
  let m: RegExpExecArray | null;
  while (member.lastIndex < text.length && (m = member.exec(text)) !== null) {
    if (m[0] === '') break;
    const server = m[1].startsWith('"') ? m[1].slice(1, -1).replace(/\\(.)/g, '$1') : m[1];
    const entry: CmsdDynamicEntry = { server };
    for (const p of m[2].split(';').slice(1)) {
      const eq = p.indexOf('=');
      const key = (eq === -1 ? p : p.slice(0, eq)).trim();
      const value = eq === -1 ? undefined : p.slice(eq + 1).trim();
      if (key === 'du') entry.du = value === undefined || value === '?1';
      else if (key === 'etp' || key === 'mb' || key === 'rd' || key === 'rtt') {
        const n = value !== undefined && /^\d{1,15}$/.test(value) ? Number(value) : undefined;
        if (n !== undefined) entry[key] = n;
      }
    }
    out.push(entry);
  }
  return out;
}

/**
 * The lowest `mb` any hop of a response suggests (kbit/s), and whether any hop is under duress:
 * what a player's ABR takes from `CMSD-Dynamic`.
 */
export function cmsdAdvice(text: string | undefined): { maxBitrateKbps?: number; duress: boolean } {
  let max: number | undefined;
  let duress = false;
  for (const e of parseCmsdDynamic(text)) {
    if (e.mb !== undefined && e.mb > 0) max = max === undefined ? e.mb : Math.min(max, e.mb);
    if (e.du) duress = true;
  }
  return { ...(max !== undefined ? { maxBitrateKbps: max } : {}), duress };
}
