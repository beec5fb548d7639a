/**
 * Content keys for Common Encryption (ISO/IEC 23001-7): the key file both the packager and the
 * origin read, the key id's spellings (32 hex digits, a UUID for DASH's cenc:default_KID,
 * base64url for the W3C Clear Key license), and the two schemes we write.
 *
 * Key file (JSON): `{"keys":[{"kid":"<32 hex>","key":"<32 hex>"}, …]}`. The packager encrypts with
 * one of them (the first, or the one `--key-id` names); the origin hands each key out only for the
 * assets and channels whose manifests name its kid.
 */
import { readFileSync } from 'node:fs';
import { StreamedgeError } from '../errors.js';

export type ProtectionScheme = 'cenc' | 'cbcs';
export const PROTECTION_SCHEMES: readonly ProtectionScheme[] = ['cbcs', 'cenc'];

/** The W3C Clear Key system id (EME §9.1; the DASH-IF system-id registry). */
export const CLEARKEY_SYSTEM_ID = '1077efecc0b24d02ace33c1e52e2fb4b';
/** The same as a DASH ContentProtection scheme (ClearKey, DASH-IF IOP §7.6.2.6). */
export const CLEARKEY_SCHEME_URI = 'urn:uuid:e2719d58-a985-b3c9-781a-b030af78d30e';

export interface ContentKey {
  /** 32 lowercase hex digits. */
  kid: string;
  key: Buffer;
}

const HEX32 = /^[0-9a-fA-F]{32}$/;

function badKey(message: string): StreamedgeError {
  return new StreamedgeError('BAD_CONTENT_KEY', message);
}

/** A key id in any of its spellings (32 hex, UUID, base64url of 16 bytes) as 32 lowercase hex. */
export function normalizeKid(spelled: string): string {
  const s = spelled.trim();
  const hex = s.replace(/-/g, '');
  if (HEX32.test(hex) && (s.length === 32 || /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(s)))
    return hex.toLowerCase();
  if (/^[A-Za-z0-9_-]{22}$/.test(s)) return Buffer.from(s, 'base64url').toString('hex');
  throw badKey(`"${spelled}" is not a key id (16 bytes: 32 hex digits, a UUID or 22 base64url characters)`);
}

/** 32 hex → 8-4-4-4-12 (DASH cenc:default_KID). */
export function kidAsUuid(kid: string): string {
  return `${kid.slice(0, 8)}-${kid.slice(8, 12)}-${kid.slice(12, 16)}-${kid.slice(16, 20)}-${kid.slice(20)}`;
}

export function kidAsBase64Url(kid: string): string {
  return Buffer.from(kid, 'hex').toString('base64url');
}

/** Parses a key file's text; `where` names it in errors. Kids are unique; every key is 16 bytes. */
export function parseContentKeys(text: string, where: string): ContentKey[] {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw badKey(`${where}: not JSON (${(e as Error).message})`);
  }
  const list = (doc as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(list) || list.length === 0) {
    throw badKey(`${where}: expected {"keys":[{"kid":"<32 hex>","key":"<32 hex>"}]} with at least one key`);
  }
  const seen = new Set<string>();
  return list.map((entry: unknown, i) => {
    const { kid, key } = (entry ?? {}) as { kid?: unknown; key?: unknown };
    if (typeof kid !== 'string') throw badKey(`${where}: keys[${i}] has no "kid"`);
    if (typeof key !== 'string' || !HEX32.test(key)) {
      throw badKey(`${where}: keys[${i}].key must be 32 hex digits (a 128-bit AES key)`);
    }
    const id = normalizeKid(kid);
    if (seen.has(id)) throw badKey(`${where}: kid ${id} is listed twice`);
    seen.add(id);
    return { kid: id, key: Buffer.from(key, 'hex') };
  });
}

export function readContentKeys(file: string): ContentKey[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw badKey(`cannot read the content key file ${file}: ${(e as Error).message}`);
  }
  return parseContentKeys(text, file);
}

/** The key to encrypt with: the one `kid` names, else the file's first. */
export function pickContentKey(keys: readonly ContentKey[], kid?: string): ContentKey {
  if (kid === undefined) return keys[0];
  const want = normalizeKid(kid);
  const found = keys.find((k) => k.kid === want);
  if (!found) throw badKey(`kid ${want} is not in the content key file (it has ${keys.map((k) => k.kid).join(', ')})`);
  return found;
}

export function parseProtectionScheme(s: string): ProtectionScheme {
  if ((PROTECTION_SCHEMES as readonly string[]).includes(s)) return s as ProtectionScheme;
  throw new StreamedgeError(
    'BAD_OPTION',
    `--encrypt must be cbcs (AES-CBC with the 1:9 pattern: HLS SAMPLE-AES, FairPlay, Widevine, PlayReady 4) or cenc (AES-CTR), got "${s}"`,
  );
}
