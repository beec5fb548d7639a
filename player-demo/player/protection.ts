/**
 * Common Encryption as the manifests signal it, for our player's W3C Clear Key path (EME):
 * - DASH: ContentProtection on an AdaptationSet or a Representation (ISO/IEC 23009-1 §5.8.4.1):
 *   `urn:mpeg:dash:mp4protection:2011` gives the scheme (@value cenc/cbcs) and cenc:default_KID;
 *   the Clear Key descriptor (DASH-IF's `urn:uuid:e2719d58-…`, or the W3C common system id
 *   `urn:uuid:1077efec-…`) gives the license server (dashif:Laurl, or the older clearkey:Laurl)
 *   and perhaps a cenc:pssh listing KIDs. The Laurl is resolved against the MPD's URL.
 * - HLS: EXT-X-KEY / EXT-X-SESSION-KEY with KEYFORMAT "identity" (RFC 8216bis §4.4.4.4):
 *   METHOD=SAMPLE-AES is fMP4 'cbcs', SAMPLE-AES-CTR is 'cenc'; the URI answers the raw 16-byte
 *   key. METHOD=NONE (or no tag) is clear. Anything else (AES-128 whole-segment encryption, a
 *   KEYFORMAT of another key system) is an error the viewer is shown, not a black screen.
 * - The init segment: its sample entries' tenc (the default KID) and schm (the scheme), and its
 *   pssh boxes: KIDs a manifest may not name.
 * KIDs are kept as 32 lowercase hex digits throughout; EME's Clear Key JSON has them base64url.
 * Browser-safe (no Buffer); the parsing runs in Node for the unit tests.
 */
import { stringToMpdXml } from 'mpd-parser';
import { readAttributeList } from './hls-attribute-list.js';

/** The protection scheme (ISO/IEC 23001-7): AES-CTR full-sample/subsample, or AES-CBC 1:9 pattern. */
export type ProtectionScheme = 'cenc' | 'cbcs';

/** How the key of a KID is got: a Clear Key license server (DASH), or an HLS identity key URI. */
export type KeySource = { kind: 'license'; url: string } | { kind: 'key-uri'; url: string };

/** What a track (or, HLS, a segment) is encrypted with, as its manifest says. */
export interface TrackProtection {
  scheme: ProtectionScheme;
  /** KIDs named (32 lowercase hex); may be empty (HLS: the KID is then read from the init segment). */
  kids: string[];
  source: KeySource;
}

export const CLEAR_KEY = 'org.w3.clearkey';
/** The W3C "common" system id, which Clear Key's pssh boxes carry (W3C EME Initialization Data Format, cenc). */
export const CLEAR_KEY_SYSTEM_ID = '1077efecc0b24d02ace33c1e52e2fb4b';
/** DASH-IF's Clear Key descriptor (IOP v4.3 §7.7.2.1), which the Laurl hangs from. */
const DASHIF_CLEAR_KEY_SCHEME = 'urn:uuid:e2719d58-a985-b3c9-781a-b030af78d30e';
const MP4_PROTECTION_SCHEME = 'urn:mpeg:dash:mp4protection:2011';
const CENC_NS = 'urn:mpeg:cenc:2013';

/** A manifest the player cannot decrypt: shown as the player's error. */
export class ProtectionError extends Error {
  override readonly name = 'ProtectionError';
}

// ---------------------------------------------------------------------------------------------
// KIDs

const HEX32 = /^[0-9a-f]{32}$/;

/** A KID written as a UUID (8-4-4-4-12), 32 hex digits, or `0x` hex, as 32 lowercase hex; undefined when not one. */
export function normalizeKid(text: string | null | undefined): string | undefined {
  if (!text) return undefined;
  const hex = text.trim().replace(/^0x/i, '').replace(/[-{}]/g, '').toLowerCase();
  return HEX32.test(hex) ? hex : undefined;
}

export function hexToBytes(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}

export function bytesToHex(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += b.toString(16).padStart(2, '0');
  return s;
}

/** Base64url without padding (RFC 4648 §5), as the Clear Key JSON has KIDs and keys. */
export function toBase64Url(bytes: Uint8Array): string {
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

export function fromBase64Url(text: string): Uint8Array {
  const b64 = text.replace(/-/g, '+').replace(/_/g, '/');
  const bin = atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4));
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}

/** `cbcs`/`cenc` from a scheme name (mp4protection @value, schm scheme_type); undefined for others (cens, cbc1). */
function schemeOf(text: string | null | undefined): ProtectionScheme | undefined {
  const s = text?.trim().toLowerCase();
  return s === 'cenc' || s === 'cbcs' ? s : undefined;
}

// ---------------------------------------------------------------------------------------------
// URLs

/**
 * `uri` resolved against `base` (the manifest that names it). A signed URL's `?token=` does not
 * survive relative resolution: when `base` carries one and the resolved URL (on the same origin)
 * has none, it is carried over, as the edge does for the segment URIs it rewrites.
 */
export function resolveWithToken(uri: string, base: string): string {
  const from = new URL(base);
  const url = new URL(uri, from);
  const token = from.searchParams.get('token');
  if (token !== null && url.origin === from.origin && !url.searchParams.has('token'))
    url.searchParams.set('token', token);
  return url.href;
}

// ---------------------------------------------------------------------------------------------
// DASH

interface XmlNode {
  nodeType: number;
  localName: string | null;
  namespaceURI: string | null;
  textContent: string | null;
  childNodes: { length: number; item(i: number): XmlNode | null };
  attributes?: { length: number; item(i: number): { localName: string | null; name: string; value: string } | null };
  getAttribute?(name: string): string | null;
}

function elements(parent: XmlNode, localName?: string): XmlNode[] {
  const out: XmlNode[] = [];
  for (let i = 0; i < parent.childNodes.length; i++) {
    const n = parent.childNodes.item(i);
    if (n?.nodeType === 1 && (localName === undefined || n.localName === localName)) out.push(n);
  }
  return out;
}

/** An attribute by its local name whatever its prefix (cenc:default_KID, default_KID). */
function attr(e: XmlNode, localName: string): string | undefined {
  const list = e.attributes;
  if (!list) return undefined;
  for (let i = 0; i < list.length; i++) {
    const a = list.item(i);
    if (a && (a.localName ?? a.name.replace(/^.*:/, '')).toLowerCase() === localName.toLowerCase()) return a.value;
  }
  return undefined;
}

/** What one set of ContentProtection descriptors (a Representation's, then its AdaptationSet's) says. */
function fromDescriptors(
  descriptors: XmlNode[],
  mpdUrl: string,
  where: string,
): TrackProtection | ProtectionError | undefined {
  let scheme: ProtectionScheme | undefined;
  let schemeName: string | undefined;
  let encrypted = false;
  const kids: string[] = [];
  let laurl: string | undefined;
  const others: string[] = [];
  const addKid = (k: string | undefined) => {
    if (k && !kids.includes(k)) kids.push(k);
  };
  for (const cp of descriptors) {
    const schemeId = (cp.getAttribute?.('schemeIdUri') ?? '').trim().toLowerCase();
    addKid(normalizeKid(attr(cp, 'default_KID')));
    if (schemeId === MP4_PROTECTION_SCHEME) {
      encrypted = true;
      schemeName ??= cp.getAttribute?.('value') ?? undefined;
      scheme ??= schemeOf(schemeName);
    } else if (schemeId === DASHIF_CLEAR_KEY_SCHEME || schemeId === `urn:uuid:${uuidOf(CLEAR_KEY_SYSTEM_ID)}`) {
      encrypted = true;
      for (const child of elements(cp)) {
        const ns = (child.namespaceURI ?? '').toLowerCase();
        const name = (child.localName ?? '').toLowerCase();
        // dashif:Laurl (https://dashif.org/CPS), clearkey:Laurl (http://dashif.org/guidelines/clearKey), …
        if (name === 'laurl') laurl ??= child.textContent?.trim() || undefined;
        if (name === 'pssh' && ns === CENC_NS) {
          const box = decodeBase64(child.textContent ?? '');
          if (box) for (const p of readPsshBoxes(box)) if (p.systemId === CLEAR_KEY_SYSTEM_ID) p.kids.forEach(addKid);
        }
      }
    } else if (schemeId.startsWith('urn:uuid:')) {
      encrypted = true;
      others.push(cp.getAttribute?.('value') || schemeId);
    }
  }
  if (!encrypted) return undefined;
  if (schemeName !== undefined && scheme === undefined)
    return new ProtectionError(`${where}: protection scheme "${schemeName}" is not supported (cenc and cbcs are)`);
  if (laurl === undefined) {
    const named = others.length ? ` (the MPD names ${others.join(', ')})` : '';
    return new ProtectionError(
      `${where} is encrypted, but the MPD names no Clear Key license server (dashif:Laurl)${named}: this player decrypts with Clear Key only`,
    );
  }
  return { scheme: scheme ?? 'cenc', kids, source: { kind: 'license', url: resolveWithToken(laurl, mpdUrl) } };
}

function uuidOf(hex: string): string {
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function decodeBase64(text: string): Uint8Array | undefined {
  try {
    return Uint8Array.from(atob(text.replace(/\s+/g, '')), (c) => c.charCodeAt(0));
  } catch {
    return undefined;
  }
}

/**
 * Each Representation's protection in an MPD (one Period's, or all of it), by Representation id:
 * its own ContentProtection descriptors first, then its AdaptationSet's. A Representation left
 * out is clear; one whose MPD names no Clear Key license server (or another scheme) maps to the
 * error the player shows if it comes to play it.
 */
export function readDashProtection(mpdText: string, mpdUrl: string): Map<string, TrackProtection | ProtectionError> {
  const out = new Map<string, TrackProtection | ProtectionError>();
  const mpd = stringToMpdXml(mpdText) as XmlNode;
  for (const period of elements(mpd, 'Period'))
    for (const set of elements(period, 'AdaptationSet')) {
      const setDescriptors = elements(set, 'ContentProtection');
      for (const rep of elements(set, 'Representation')) {
        const id = rep.getAttribute?.('id');
        if (!id || out.has(id)) continue;
        const p = fromDescriptors(
          [...elements(rep, 'ContentProtection'), ...setDescriptors],
          mpdUrl,
          `DASH Representation ${id}`,
        );
        if (p) out.set(id, p);
      }
    }
  return out;
}

// ---------------------------------------------------------------------------------------------
// HLS

/**
 * One EXT-X-KEY or EXT-X-SESSION-KEY: null for METHOD=NONE, its protection for an identity key
 * under SAMPLE-AES ('cbcs') or SAMPLE-AES-CTR ('cenc'), else the error naming what is not
 * supported. The URI is resolved against the playlist naming it; the KID is the URI's last path
 * segment when that is 32 hex digits (our origin's `keys/<kid>`), else unknown until the init
 * segment says.
 */
export function readHlsKeyTag(attrList: string, playlistUrl: string): TrackProtection | ProtectionError | null {
  const a = readAttributeList(attrList);
  const method = (a.get('METHOD') ?? '').toUpperCase();
  if (method === 'NONE') return null;
  const format = a.get('KEYFORMAT') ?? 'identity';
  const uri = a.get('URI');
  if (method === 'AES-128')
    return new ProtectionError(
      `HLS: EXT-X-KEY METHOD=AES-128 (whole-segment AES-128) is not supported by this player, only SAMPLE-AES and SAMPLE-AES-CTR fMP4 with KEYFORMAT "identity" (${playlistUrl})`,
    );
  if (method !== 'SAMPLE-AES' && method !== 'SAMPLE-AES-CTR')
    return new ProtectionError(`HLS: EXT-X-KEY METHOD=${method || '(none)'} is not supported (${playlistUrl})`);
  if (format !== 'identity')
    return new ProtectionError(
      `HLS: KEYFORMAT "${format}" is not supported: this player decrypts with Clear Key, KEYFORMAT "identity" only (${playlistUrl})`,
    );
  const versions = a.get('KEYFORMATVERSIONS');
  if (versions !== undefined && !versions.split('/').includes('1'))
    return new ProtectionError(`HLS: KEYFORMATVERSIONS "${versions}" of "identity" is not supported (${playlistUrl})`);
  if (!uri) return new ProtectionError(`HLS: EXT-X-KEY METHOD=${method} without a URI (${playlistUrl})`);
  const url = resolveWithToken(uri, playlistUrl);
  const kid = normalizeKid(a.get('KEYID')) ?? normalizeKid(new URL(url).pathname.split('/').pop());
  return {
    scheme: method === 'SAMPLE-AES' ? 'cbcs' : 'cenc',
    kids: kid ? [kid] : [],
    source: { kind: 'key-uri', url },
  };
}

/**
 * Of the key tags in force together (one per KEYFORMAT), the one the player can use: the first
 * supported; when none is, the first error (an AES-128 or FairPlay-only stream). Undefined when
 * there is none (clear).
 */
function usable(tags: (TrackProtection | ProtectionError)[]): TrackProtection | ProtectionError | undefined {
  return tags.find((t): t is TrackProtection => !(t instanceof ProtectionError)) ?? tags[0];
}

/** The multivariant playlist's EXT-X-SESSION-KEYs (the KIDs to ask for before any media playlist is read). */
export function readHlsSessionKeys(text: string, url: string): TrackProtection[] {
  const tags: (TrackProtection | ProtectionError)[] = [];
  for (const m of text.matchAll(/^#EXT-X-SESSION-KEY:(.*)$/gm)) {
    const t = readHlsKeyTag(m[1].trim(), url);
    if (t) tags.push(t);
  }
  const ok = tags.filter((t): t is TrackProtection => !(t instanceof ProtectionError));
  if (tags.length && !ok.length) throw tags[0] as ProtectionError;
  return ok;
}

/**
 * A media playlist's keys: the one in force for each media segment, in the order its URI lines
 * come (m3u8-parser's segments), and the one in force at its end (the segment being produced on
 * LL-HLS). EXT-X-KEY applies from where it is to the next EXT-X-KEY of its KEYFORMAT; METHOD=NONE
 * ends them all (RFC 8216bis §4.4.4.4). Throws the ProtectionError of a segment no tag of which the
 * player can decrypt.
 */
export function readHlsMediaKeys(
  text: string,
  url: string,
): { segments: (TrackProtection | undefined)[]; last: TrackProtection | undefined } {
  let inForce = new Map<string, TrackProtection | ProtectionError>();
  let current: TrackProtection | ProtectionError | undefined;
  const segments: (TrackProtection | undefined)[] = [];
  const take = (): TrackProtection | undefined => {
    if (current instanceof ProtectionError) throw current;
    return current;
  };
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line.startsWith('#EXT-X-KEY:')) {
      const list = line.slice('#EXT-X-KEY:'.length);
      const tag = readHlsKeyTag(list, url);
      if (tag === null) inForce = new Map();
      else inForce.set(readAttributeList(list).get('KEYFORMAT') ?? 'identity', tag);
      current = usable([...inForce.values()]);
    } else if (line && !line.startsWith('#')) segments.push(take());
  }
  return { segments, last: take() };
}

// ---------------------------------------------------------------------------------------------
// ISO-BMFF: pssh, tenc, schm

interface Pssh {
  systemId: string;
  kids: string[];
}

/** The pssh boxes (ISO/IEC 23001-7 §8.1) among `bytes`' top-level boxes and moov's children. */
export function readPsshBoxes(bytes: Uint8Array): Pssh[] {
  const out: Pssh[] = [];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const walk = (start: number, end: number, depth: number) => {
    for (let at = start; at + 8 <= end;) {
      const size = view.getUint32(at);
      const type = fourcc(bytes, at + 4);
      if (size < 8 || at + size > end) return;
      if (type === 'pssh' && size >= 32) {
        const version = bytes[at + 8];
        const systemId = bytesToHex(bytes.subarray(at + 12, at + 28));
        const kids: string[] = [];
        if (version > 0) {
          const count = view.getUint32(at + 28);
          for (let i = 0; i < count && at + 32 + (i + 1) * 16 <= at + size; i++)
            kids.push(bytesToHex(bytes.subarray(at + 32 + i * 16, at + 48 + i * 16)));
        }
        out.push({ systemId, kids });
      } else if (type === 'moov' && depth === 0) walk(at + 8, at + size, 1);
      at += size;
    }
  };
  walk(0, bytes.byteLength, 0);
  return out;
}

/**
 * What an init segment's protected sample entries say (their sinf: schm's scheme, tenc's
 * default KID); empty for a clear one. Found by the sinf boxes, wherever the sample entry puts
 * them after its fields.
 */
export function readInitProtection(bytes: Uint8Array): { scheme?: ProtectionScheme; kids: string[] } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const kids: string[] = [];
  let scheme: ProtectionScheme | undefined;
  for (let i = 4; i + 4 <= bytes.byteLength; i++) {
    if (bytes[i] !== 0x73 || fourcc(bytes, i) !== 'sinf') continue;
    const start = i - 4;
    const size = view.getUint32(start);
    if (size < 8 || start + size > bytes.byteLength) continue;
    // sinf: frma, schm, schi(tenc)
    for (let at = start + 8; at + 8 <= start + size;) {
      const s = view.getUint32(at);
      const type = fourcc(bytes, at + 4);
      if (s < 8 || at + s > start + size) break;
      if (type === 'schm' && s >= 16) scheme ??= schemeOf(fourcc(bytes, at + 12));
      if (type === 'schi')
        for (let c = at + 8; c + 8 <= at + s;) {
          const cs = view.getUint32(c);
          if (cs < 8 || c + cs > at + s) break;
          if (fourcc(bytes, c + 4) === 'tenc' && cs >= 32) {
            const kid = bytesToHex(bytes.subarray(c + 16, c + 32));
            if (!kids.includes(kid)) kids.push(kid);
          }
          c += cs;
        }
      at += s;
    }
    i = start + size - 1;
  }
  return { ...(scheme ? { scheme } : {}), kids };
}

function fourcc(b: Uint8Array, at: number): string {
  return String.fromCharCode(b[at], b[at + 1], b[at + 2], b[at + 3]);
}
