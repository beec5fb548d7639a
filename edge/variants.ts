/**
 * Variants (RFC 9111 §4.1) in a store that holds one object per key.
 *
 * The primary key (normalised URL) holds either the one response for everyone (no Vary) or a
 * small "vary record": an empty object whose pseudo-header `:vary` lists the request fields the
 * origin's Vary named. Each variant is then its own object under `primary \n name=value&...`
 * (src/http/cache-key.ts variantKey). A lookup reads the primary key; on a vary record it reads
 * the variant its own request selects. See edge/README.md.
 */
import { variantKey } from '../src/http/cache-key.js';
import type { EdgeStore, ObjectMeta } from './store/index.js';
import { checkKey } from './request-limits.js';

export const VARY_FIELD = ':vary';

/** The stored record naming a URL's Vary fields. */
export function varyRecord(varyNames: readonly string[], storedAt: number, until: number): ObjectMeta {
  return {
    status: 200,
    headers: { [VARY_FIELD]: varyNames.join(',') },
    storedAt,
    expiresAt: until,
    staleUntil: until,
    tags: [],
  };
}

/** The Vary field names of a vary record, or undefined for an ordinary stored response. */
export function varyNamesOf(meta: ObjectMeta): string[] | undefined {
  const v = meta.headers[VARY_FIELD];
  return v === undefined ? undefined : v.split(',').filter((n) => n !== '');
}

export interface Resolved {
  /** The key of the object this request may use (primary, or its variant). */
  key: string;
  entry: { meta: ObjectMeta; size: number } | undefined;
  /** The Vary fields, when the primary key holds a vary record. */
  varyNames?: string[];
}

/** Look a request up: the primary key, then the variant its headers select if the URL varies. */
export async function resolveVariant(
  store: EdgeStore,
  primary: string,
  headers: Record<string, string | string[] | undefined>,
): Promise<Resolved> {
  const first = await store.head(primary);
  if (!first) return { key: primary, entry: undefined };
  const names = varyNamesOf(first.meta);
  if (names === undefined) return { key: primary, entry: first };
  const key = variantKey(primary, names, headers);
  // request headers make a variant key the store cannot index: served from upstream, never stored
  if (!checkKey(key).ok) return { key, entry: undefined, varyNames: names };
  return { key, entry: await store.head(key), varyNames: names };
}
