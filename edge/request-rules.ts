/**
 * The edge's request rules for video, and the one rules file that changes them
 * (`streamedge edge --config edge.json`; every field optional, the defaults need no file):
 *
 *   {
 *     "mediaPathPattern": "\\.(m4s|mp4|m4a|m4v|ts|aac|cmfv|cmfa|cmft|vtt|webvtt)$",
 *     "playlistPathPattern": "\\.(m3u8|mpd)$",
 *     "trackingParams": ["utm_*", "fbclid", "gclid", "msclkid", "_HLS_primary_id"],
 *     "forwardCmcd": false,
 *     "cmcdHitLog": "every",
 *     "denyHeaders": ["x-forwarded-host", "x-original-url", "x-rewrite-url", "x-http-method-override"]
 *   }
 *
 * What they decide for each request target:
 * - media objects (init, segments, parts: `mediaPathPattern` on the path) ignore the query, for
 *   the key and for upstream: no query string can multiply copies of a segment;
 * - `_HLS_msn`, `_HLS_part`, `_HLS_skip` count only on playlist URLs (`playlistPathPattern`);
 * - CMCD (`CMCD=` query, `CMCD-*` headers) is never keyed and, unless `forwardCmcd`, never sent
 *   upstream; its sid, ot and bs keys go to the access log (`cmcdHitLog`: "every" request, the
 *   default, or "sampled": hits of the one-write path logged one in 100 like other hits, the
 *   CMCD metrics still counting every one);
 * - everything else is keyed on the full normalised query minus tracking parameters (by default
 *   also `_HLS_primary_id`, which an HLS Interstitials player adds to every ad it asks for, a
 *   different one per viewer; an ad decision service behind the edge that reads it needs a
 *   `trackingParams` without it) and the signing token; upstream gets those same parameters as
 *   the request that started the fill spelled and ordered them (a fill is shared by every viewer
 *   of the key, so it carries what selects the content and nothing one viewer added);
 * - `denyHeaders`: request headers known to poison shared caches, never forwarded.
 */
import { readFileSync } from 'node:fs';
import { StreamedgeError } from '../src/errors.js';
import { normalizePath, normalizePercentEncoding } from '../src/http/cache-key.js';
import { type CmcdLogFields, cmcdLogFields, cmcdQueryValue } from '../src/http/cmcd.js';

export interface EdgeRules {
  mediaPathPattern: RegExp;
  playlistPathPattern: RegExp;
  trackingParams: RegExp[];
  forwardCmcd: boolean;
  /** CMCD hits of the one-write path in the access log: every one, or sampled as other hits. */
  cmcdHitLog: 'every' | 'sampled';
  denyHeaders: string[];
}

/** The rules file as written (all optional). */
export interface EdgeRulesInput {
  mediaPathPattern?: string;
  playlistPathPattern?: string;
  trackingParams?: string[];
  forwardCmcd?: boolean;
  cmcdHitLog?: 'every' | 'sampled';
  denyHeaders?: string[];
}

const DEFAULTS: Required<EdgeRulesInput> = {
  mediaPathPattern: '\\.(m4s|mp4|m4a|m4v|ts|aac|cmfv|cmfa|cmft|vtt|webvtt)$',
  playlistPathPattern: '\\.(m3u8|mpd)$',
  // _HLS_primary_id: the playback session an HLS Interstitials client names on each ad request
  // (RFC 8216bis appendix D): one per viewer, so keyed it would cost a fill per viewer of one ad
  trackingParams: ['utm_*', 'fbclid', 'gclid', 'msclkid', '_HLS_primary_id'],
  forwardCmcd: false,
  cmcdHitLog: 'every',
  denyHeaders: ['x-forwarded-host', 'x-original-url', 'x-rewrite-url', 'x-http-method-override'],
};

const HLS_DIRECTIVES = new Set(['_HLS_msn', '_HLS_part', '_HLS_skip']);
/** The signing token: never keyed, never forwarded (edge/signed-access.ts verifies it first). */
const TOKEN_PARAM = /^token$/i;

function fail(where: string, msg: string): never {
  throw new StreamedgeError('BAD_CONFIG', `${where}: ${msg}`);
}

function regex(where: string, field: string, v: unknown): RegExp {
  if (typeof v !== 'string' || v === '') fail(where, `"${field}" must be a non-empty string (a regular expression)`);
  try {
    return new RegExp(v, 'i');
  } catch (e) {
    return fail(where, `"${field}" is not a valid regular expression: ${(e as Error).message}`);
  }
}

function names(where: string, field: string, v: unknown): string[] {
  if (!Array.isArray(v) || v.some((s) => typeof s !== 'string' || !/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(s)))
    fail(where, `"${field}" must be a list of names (letters, digits, - _ . and * as a wildcard)`);
  return v as string[];
}

function wildcard(name: string): RegExp {
  const body = name.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*');
  return new RegExp(`^${body}$`, 'i');
}

/** Validate a rules object (from JSON or options); `where` names it in errors. */
export function parseRules(input: unknown, where = 'edge rules'): EdgeRules {
  if (input === undefined) input = {};
  if (typeof input !== 'object' || input === null || Array.isArray(input)) fail(where, 'must be a JSON object');
  const o = input as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    if (!(k in DEFAULTS)) fail(where, `unknown field "${k}" (known: ${Object.keys(DEFAULTS).join(', ')})`);
  }
  const forwardCmcd = o['forwardCmcd'] ?? DEFAULTS.forwardCmcd;
  if (typeof forwardCmcd !== 'boolean') fail(where, '"forwardCmcd" must be true or false');
  const cmcdHitLog = o['cmcdHitLog'] ?? DEFAULTS.cmcdHitLog;
  if (cmcdHitLog !== 'every' && cmcdHitLog !== 'sampled') fail(where, '"cmcdHitLog" must be "every" or "sampled"');
  return {
    mediaPathPattern: regex(where, 'mediaPathPattern', o['mediaPathPattern'] ?? DEFAULTS.mediaPathPattern),
    playlistPathPattern: regex(where, 'playlistPathPattern', o['playlistPathPattern'] ?? DEFAULTS.playlistPathPattern),
    trackingParams: names(where, 'trackingParams', o['trackingParams'] ?? DEFAULTS.trackingParams).map(wildcard),
    forwardCmcd,
    cmcdHitLog,
    denyHeaders: names(where, 'denyHeaders', o['denyHeaders'] ?? DEFAULTS.denyHeaders).map((h) => h.toLowerCase()),
  };
}

/** Read and validate `--config <file>`. */
export function loadRulesFile(file: string): EdgeRules {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    return fail(file, `cannot read the rules file (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    return fail(file, `not valid JSON: ${(e as Error).message}`);
  }
  return parseRules(json, file);
}

export type ObjectKind = 'media' | 'playlist' | 'other';

export interface RequestTargets {
  kind: ObjectKind;
  /** Normalised path and the query that selects content (the primary cache key's URL part). */
  keyTarget: string;
  /** What a fill asks upstream for. */
  upstreamTarget: string;
  /** CMCD keys for the access log. */
  cmcd?: CmcdLogFields;
}

function decodedName(raw: string): string {
  const n = normalizePercentEncoding(raw.replace(/\+/g, '%20'));
  try {
    return decodeURIComponent(n);
  } catch {
    return n;
  }
}

/** Split a request target into what keys the object and what goes upstream, under the rules. */
export function requestTargets(
  target: string,
  headers: Record<string, string | string[] | undefined>,
  rules: EdgeRules,
): RequestTargets {
  const hashAt = target.indexOf('#');
  const noFrag = hashAt === -1 ? target : target.slice(0, hashAt);
  const q = noFrag.indexOf('?');
  const path = normalizePath(q === -1 ? noFrag : noFrag.slice(0, q));
  const rawQuery = q === -1 ? '' : noFrag.slice(q + 1);
  const kind: ObjectKind = rules.mediaPathPattern.test(path)
    ? 'media'
    : rules.playlistPathPattern.test(path)
      ? 'playlist'
      : 'other';
  const keyParts: string[] = [];
  const upParts: string[] = [];
  let cmcdPayload: string | undefined;
  for (const part of rawQuery === '' ? [] : rawQuery.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const name = decodedName(eq === -1 ? part : part.slice(0, eq));
    if (TOKEN_PARAM.test(name)) continue;
    if (name === 'CMCD') {
      cmcdPayload = cmcdQueryValue(eq === -1 ? '' : part.slice(eq + 1));
      if (rules.forwardCmcd && kind !== 'media') upParts.push(part);
      continue;
    }
    if (kind === 'media') continue;
    if (HLS_DIRECTIVES.has(name) && kind !== 'playlist') continue;
    // tracking parameters select no content: a fill shared by many viewers sends none of them
    if (rules.trackingParams.some((re) => re.test(name))) continue;
    upParts.push(part);
    keyParts.push(part);
  }
  const cmcd = cmcdLogFields(cmcdPayload, headers);
  return {
    kind,
    keyTarget: keyParts.length > 0 ? `${path}?${keyParts.join('&')}` : path,
    upstreamTarget: upParts.length > 0 ? `${path}?${upParts.join('&')}` : path,
    ...(cmcd ? { cmcd } : {}),
  };
}
