/**
 * Common Media Client Data (CTA-5004): the keys a player knows at request time, serialized as
 * the `CMCD` query argument or as the four CMCD-* request headers. Shared by the browser player
 * and the load tester's virtual viewers. Browser-safe (no Node built-ins).
 *
 * Rules followed (CTA-5004 §3): keys in alphabetical order, comma-separated; strings quoted;
 * a true boolean is the bare key and a false one is omitted; integer kbit/s and ms values, with
 * bl and mtp rounded to 100; pr only when not 1; the version key only when not 1.
 */
export type CmcdObjectType = 'm' | 'a' | 'v' | 'av' | 'i' | 'c' | 'tt' | 'k' | 'o';

export interface CmcdData {
  /** Encoded bitrate of the object, kbit/s. */
  br?: number;
  /** Buffer length, ms. */
  bl?: number;
  /** Buffer starvation since the last request. */
  bs?: boolean;
  /** Content id. */
  cid?: string;
  /** Object duration, ms. */
  d?: number;
  /** Deadline: ms until the buffer runs dry at the current rate. */
  dl?: number;
  /** Measured throughput, kbit/s. */
  mtp?: number;
  /** Next object request (relative URL). */
  nor?: string;
  ot?: CmcdObjectType;
  /** Playback rate. */
  pr?: number;
  /** Streaming format: d DASH, h HLS. */
  sf?: 'd' | 'h' | 's' | 'o';
  /** Session id. */
  sid?: string;
  /** Stream type: v VOD, l live. */
  st?: 'v' | 'l';
  /** Startup: the object is needed urgently (startup, seek, after a stall). */
  su?: boolean;
  /** Top bitrate of the ladder, kbit/s. */
  tb?: number;
}

type Key = keyof CmcdData;

/** Which header carries which key (CTA-5004 §2.2). */
const HEADER_OF: Record<Key, 'CMCD-Object' | 'CMCD-Request' | 'CMCD-Session' | 'CMCD-Status'> = {
  br: 'CMCD-Object',
  d: 'CMCD-Object',
  ot: 'CMCD-Object',
  tb: 'CMCD-Object',
  bl: 'CMCD-Request',
  dl: 'CMCD-Request',
  mtp: 'CMCD-Request',
  nor: 'CMCD-Request',
  su: 'CMCD-Request',
  cid: 'CMCD-Session',
  pr: 'CMCD-Session',
  sf: 'CMCD-Session',
  sid: 'CMCD-Session',
  st: 'CMCD-Session',
  bs: 'CMCD-Status',
};

const TOKEN_KEYS = new Set<Key>(['ot', 'sf', 'st']);
const STRING_KEYS = new Set<Key>(['cid', 'nor', 'sid']);
const ORDER = (Object.keys(HEADER_OF) as Key[]).sort();

function pair(k: Key, v: CmcdData[Key]): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'boolean') return v ? k : undefined;
  if (TOKEN_KEYS.has(k)) return `${k}=${v}`;
  if (STRING_KEYS.has(k)) return `${k}=${JSON.stringify(String(v).slice(0, 64))}`;
  let n = Number(v);
  if (!Number.isFinite(n) || n < 0) return undefined;
  if (k === 'pr') return n === 1 ? undefined : `${k}=${Math.round(n * 100) / 100}`;
  if (k === 'bl' || k === 'mtp') n = Math.round(n / 100) * 100;
  return `${k}=${Math.round(n)}`;
}

/** `k=v,k=v` in key order (the payload of the CMCD query argument, before URL encoding). */
export function cmcdPayload(d: CmcdData): string {
  const out: string[] = [];
  for (const k of ORDER) {
    const p = pair(k, d[k]);
    if (p) out.push(p);
  }
  return out.join(',');
}

/** `url` with the CMCD query argument added. */
export function withCmcdQuery(url: string, d: CmcdData): string {
  const payload = cmcdPayload(d);
  if (!payload) return url;
  const hash = url.indexOf('#');
  const base = hash === -1 ? url : url.slice(0, hash);
  return `${base}${base.includes('?') ? '&' : '?'}CMCD=${encodeURIComponent(payload)}${hash === -1 ? '' : url.slice(hash)}`;
}

/** The CMCD-* request headers (only those with at least one key). */
export function cmcdHeaders(d: CmcdData): Record<string, string> {
  const groups: Record<string, string[]> = {};
  for (const k of ORDER) {
    const p = pair(k, d[k]);
    if (p) (groups[HEADER_OF[k]] ??= []).push(p);
  }
  const out: Record<string, string> = {};
  for (const [h, list] of Object.entries(groups)) out[h] = list.join(',');
  return out;
}

/** How a client sends CMCD: the `CMCD` query argument or the CMCD-* headers. */
export type CmcdTransmission = 'query' | 'headers';

/** A client's CMCD: how it sends it and the keys it knows now (session, buffer, throughput). */
export interface CmcdSource {
  mode: CmcdTransmission;
  keys(): CmcdData;
}

/** The URL and headers of one request carrying `data` the way `mode` says. */
export function applyCmcd(
  url: string,
  mode: CmcdTransmission,
  data: CmcdData,
): { url: string; headers?: Record<string, string> } {
  return mode === 'query' ? { url: withCmcdQuery(url, data) } : { url, headers: cmcdHeaders(data) };
}
