/**
 * CMCD (CTA-5004) as a cache sees it: the data rides in the `CMCD` query parameter or in the
 * `CMCD-Request`, `CMCD-Object`, `CMCD-Status` and `CMCD-Session` headers. It describes the
 * player, never the content, so it is never part of a cache key; a few keys are worth logging.
 */

/** The CMCD request headers (CTA-5004 §2.2, lowercase). */
export const CMCD_HEADERS: readonly string[] = ['cmcd-request', 'cmcd-object', 'cmcd-status', 'cmcd-session'];

/**
 * The CMCD keys the edge writes to its access log and keeps per session (CTA-5004 §3.3): session
 * and content ids, object type, buffer starvation, streaming format and stream type, and the
 * player's encoded bitrate, buffer length and measured throughput.
 */
export interface CmcdLogFields {
  sid?: string;
  cid?: string;
  ot?: string;
  bs?: boolean;
  /** Streaming format: d (DASH), h (HLS), s (Smooth), o (other). */
  sf?: string;
  /** Stream type: v (VOD), l (live). */
  st?: string;
  /** Encoded bitrate of the object, kbit/s. */
  br?: number;
  /** Buffer length, ms. */
  bl?: number;
  /** Measured throughput, kbit/s. */
  mtp?: number;
}

/** Longest sid and cid kept (CTA-5004 recommends at most 64 characters). */
const MAX_ID = 64;

/** A CMCD integer key's value when it is a non-negative integer in a sane range, else undefined. */
function count(v: string | number | boolean | undefined): number | undefined {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 1e9 ? v : undefined;
}

/** The value of a `CMCD=` query argument, percent-decoded (`+` is a space); undefined when malformed. */
export function cmcdQueryValue(raw: string): string | undefined {
  try {
    return decodeURIComponent(raw.replace(/\+/g, '%20'));
  } catch {
    return undefined;
  }
}

/**
 * A request target (`/a/seg.m4s?x=1&CMCD=...`) split into the target without its `CMCD=` query
 * argument and that argument's raw (still percent-encoded) value; undefined when it has no such
 * argument, more than one, or a fragment (callers then take the general path, which handles them).
 */
export function splitCmcdArgument(target: string): { target: string; raw: string } | undefined {
  const q = target.indexOf('?');
  if (q === -1 || target.includes('#')) return undefined;
  let at = target.indexOf('CMCD=', q + 1);
  while (at !== -1 && target.charCodeAt(at - 1) !== 0x3f /* ? */ && target.charCodeAt(at - 1) !== 0x26 /* & */) {
    at = target.indexOf('CMCD=', at + 5);
  }
  if (at === -1) return undefined;
  const amp = target.indexOf('&', at);
  const raw = target.slice(at + 5, amp === -1 ? target.length : amp);
  // drop the argument and the separator before it (or, first in the query, the one after it)
  const rest =
    amp === -1
      ? target.slice(0, at - 1)
      : target.charCodeAt(at - 1) === 0x3f
        ? target.slice(0, at) + target.slice(amp + 1)
        : target.slice(0, at - 1) + target.slice(amp);
  if (rest.includes('CMCD')) return undefined;
  return { target: rest, raw };
}

/** Parse a CMCD payload (`bs,ot=v,sid="6e2f..."`) into key → value (true for a bare key). */
export function parseCmcd(payload: string): Map<string, string | number | boolean> {
  const out = new Map<string, string | number | boolean>();
  const re = /\s*([a-z0-9-]+)\s*(?:=\s*("(?:[^"\\]|\\.)*"|[^,]*))?\s*(?:,|$)/giy;
  let m: RegExpExecArray | null;
  while (re.lastIndex < payload.length && (m = re.exec(payload)) !== null) {
    if (m[0] === '') break;
    const key = m[1].toLowerCase();
    const raw = m[2];
    if (raw === undefined) out.set(key, true);
    else if (raw.startsWith('"')) out.set(key, raw.slice(1, -1).replace(/\\(.)/g, '$1'));
    else if (/^-?\d+(\.\d+)?$/.test(raw.trim())) out.set(key, Number(raw));
    else out.set(key, raw.trim());
  }
  return out;
}

/**
 * The `nor` (next object request) of a CMCD payload or a CMSD-Static value, both RFC 8941
 * dictionaries: a path relative to the object, percent-decoded; undefined when absent, empty or
 * malformed.
 */
export function nextObjectOf(dictionary: string | undefined): string | undefined {
  if (!dictionary) return undefined;
  const nor = parseCmcd(dictionary).get('nor');
  if (typeof nor !== 'string' || nor === '') return undefined;
  try {
    return decodeURIComponent(nor);
  } catch {
    return undefined;
  }
}

/** The logged CMCD keys of a request (query payload, already percent-decoded, and/or headers). */
export function cmcdLogFields(
  queryPayload: string | undefined,
  headers: Record<string, string | string[] | undefined>,
): CmcdLogFields | undefined {
  const parts: string[] = [];
  if (queryPayload !== undefined) parts.push(queryPayload);
  for (const h of CMCD_HEADERS) {
    const v = headers[h];
    if (v !== undefined) parts.push(Array.isArray(v) ? v.join(',') : v);
  }
  if (parts.length === 0) return undefined;
  const all = parseCmcd(parts.join(','));
  const out: CmcdLogFields = {};
  const sid = all.get('sid');
  if (typeof sid === 'string' && sid.length <= MAX_ID) out.sid = sid;
  const cid = all.get('cid');
  if (typeof cid === 'string' && cid.length <= MAX_ID) out.cid = cid;
  const ot = all.get('ot');
  if (typeof ot === 'string' && /^[a-z]{1,2}$/.test(ot)) out.ot = ot;
  if (all.has('bs')) out.bs = all.get('bs') === true;
  const sf = all.get('sf');
  if (typeof sf === 'string' && /^[a-z]$/.test(sf)) out.sf = sf;
  const st = all.get('st');
  if (typeof st === 'string' && /^[a-z]$/.test(st)) out.st = st;
  const br = count(all.get('br'));
  if (br !== undefined) out.br = br;
  const bl = count(all.get('bl'));
  if (bl !== undefined) out.bl = bl;
  const mtp = count(all.get('mtp'));
  if (mtp !== undefined) out.mtp = mtp;
  return Object.keys(out).length > 0 ? out : undefined;
}
