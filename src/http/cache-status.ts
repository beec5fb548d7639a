/**
 * The Cache-Status response field (RFC 9211): a structured-field list, one member per cache,
 * ordered from the origin towards the user agent. Each cache appends its own member.
 *
 *   Cache-Status: shield; fwd=miss; stored, edge; hit; ttl=28
 */

export type ForwardReason = 'bypass' | 'method' | 'uri-miss' | 'vary-miss' | 'miss' | 'request' | 'stale' | 'partial';

export interface CacheStatusEntry {
  /** The cache's name (an sf-token, or it is serialized as a string). */
  cache: string;
  hit?: boolean;
  fwd?: ForwardReason;
  /** Status the next hop returned when forwarded (e.g. 304 on revalidation). */
  fwdStatus?: number;
  /** Remaining freshness in seconds (negative when stale). */
  ttl?: number;
  stored?: boolean;
  collapsed?: boolean;
  key?: string;
  detail?: string;
}

function sfString(s: string): string {
  return `"${s.replace(/[\\"]/g, (c) => `\\${c}`).replace(/[^\x20-\x7e]/g, '?')}"`;
}

const SF_TOKEN = /^[A-Za-z*][A-Za-z0-9:/!#$%&'*+\-.^_`|~]*$/;

function sfItem(name: string): string {
  return SF_TOKEN.test(name) ? name : sfString(name);
}

/** Serialized cache names (a process names a handful of caches; every answer names one). */
const cacheNames = new Map<string, string>();

function cacheName(name: string): string {
  let s = cacheNames.get(name);
  if (s === undefined) {
    s = sfItem(name);
    if (cacheNames.size < 64) cacheNames.set(name, s);
  }
  return s;
}

/** Serialize one list member. */
export function formatCacheStatus(e: CacheStatusEntry): string {
  let out = cacheName(e.cache);
  if (e.hit) out += '; hit';
  if (e.fwd) out += `; fwd=${e.fwd}`;
  if (e.fwdStatus !== undefined) out += `; fwd-status=${Math.trunc(e.fwdStatus)}`;
  if (e.ttl !== undefined) out += `; ttl=${Math.trunc(e.ttl)}`;
  if (e.stored) out += '; stored';
  if (e.collapsed) out += '; collapsed';
  if (e.key !== undefined) out += `; key=${sfString(e.key)}`;
  if (e.detail !== undefined) out += `; detail=${sfItem(e.detail)}`;
  return out;
}

/** Append our member to an upstream Cache-Status value (if any). */
export function appendCacheStatus(upstream: string | undefined, e: CacheStatusEntry): string {
  const ours = formatCacheStatus(e);
  return upstream && upstream.trim() !== '' ? `${upstream.trim()}, ${ours}` : ours;
}

/** Parse a Cache-Status value (lenient; for tests, tooling and tier-aware logic). */
export function parseCacheStatus(value: string | undefined): CacheStatusEntry[] {
  if (value === undefined) return [];
  const out: CacheStatusEntry[] = [];
  // split members on commas outside quotes
  const members: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < value.length; i++) {
    const ch = value[i];
    if (quoted && ch === '\\') {
      cur += ch + (value[++i] ?? '');
      continue;
    }
    if (ch === '"') quoted = !quoted;
    if (ch === ',' && !quoted) {
      members.push(cur);
      cur = '';
    } else cur += ch;
  }
  members.push(cur);
  for (const m of members) {
    const parts = m.split(';').map((p) => p.trim());
    const name = parts.shift();
    if (!name) continue;
    const e: CacheStatusEntry = { cache: name.startsWith('"') ? name.slice(1, -1) : name };
    for (const p of parts) {
      const eq = p.indexOf('=');
      const k = eq === -1 ? p : p.slice(0, eq);
      const v = eq === -1 ? undefined : p.slice(eq + 1);
      const str = v?.startsWith('"') ? v.slice(1, -1).replace(/\\(.)/g, '$1') : v;
      if (k === 'hit') e.hit = v === undefined || v === '?1';
      else if (k === 'fwd' && str) e.fwd = str as ForwardReason;
      else if (k === 'fwd-status' && str) e.fwdStatus = Number(str);
      else if (k === 'ttl' && str) e.ttl = Number(str);
      else if (k === 'stored') e.stored = v === undefined || v === '?1';
      else if (k === 'collapsed') e.collapsed = v === undefined || v === '?1';
      else if (k === 'key' && str !== undefined) e.key = str;
      else if (k === 'detail' && str !== undefined) e.detail = str;
    }
    out.push(e);
  }
  return out;
}
