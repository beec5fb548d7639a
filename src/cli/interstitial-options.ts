/**
 * The interstitial options `streamedge package` (`--interstitial…`) and `streamedge origin`
 * (`--live-interstitial…`) share, and the live ad-break API's `interstitial` object: where the
 * ads come from (one asset, or an ad decision service's asset list) and X-RESTRICT.
 */
import { StreamedgeError } from '../errors.js';
import type { InterstitialRestriction, InterstitialSource } from '../media/presentation.js';

/** The three options as commander gives them, under either prefix. */
export interface InterstitialCliValues {
  uri?: string;
  list?: string;
  restrict?: string;
}

/** What the three values are called where they come from (flags, or an API's fields). */
export interface InterstitialNames {
  uri: string;
  list: string;
  restrict: string;
}

/**
 * `<prefix> <url>` or `<prefix>-list <url>` (absolute http(s) URLs, one of the two), with
 * `<prefix>-restrict skip,jump` (or the three under `names`); undefined when neither URL is
 * given. Throws BAD_OPTION on any other combination, naming the flag or field.
 */
export function interstitialSource(
  v: InterstitialCliValues,
  prefix: string | InterstitialNames,
): InterstitialSource | undefined {
  const n =
    typeof prefix === 'string' ? { uri: prefix, list: `${prefix}-list`, restrict: `${prefix}-restrict` } : prefix;
  if (v.uri !== undefined && v.list !== undefined)
    throw new StreamedgeError('BAD_OPTION', `${n.uri} and ${n.list}: give one of the two`);
  const url = v.uri ?? v.list;
  if (url === undefined) {
    if (v.restrict !== undefined) throw new StreamedgeError('BAD_OPTION', `${n.restrict} needs ${n.uri} or ${n.list}`);
    return undefined;
  }
  const flag = v.uri !== undefined ? n.uri : n.list;
  if (typeof url !== 'string' || !/^https?:\/\/[^\s"]+$/.test(url))
    throw new StreamedgeError('BAD_OPTION', `${flag} must be an absolute http(s) URL, got ${JSON.stringify(url)}`);
  const restrict = restrictions(v.restrict, n.restrict);
  return {
    ...(v.uri !== undefined ? { assetUri: url } : { assetList: url }),
    ...(restrict ? { restrict } : {}),
  };
}

/** `skip,jump`: X-RESTRICT's values, each once. */
function restrictions(text: string | undefined, flag: string): InterstitialRestriction[] | undefined {
  if (text === undefined) return undefined;
  if (typeof text !== 'string') throw new StreamedgeError('BAD_OPTION', `${flag}: give skip, jump or skip,jump`);
  const values = text.split(',').map((v) => v.trim().toUpperCase());
  for (const v of values) {
    if (v !== 'SKIP' && v !== 'JUMP')
      throw new StreamedgeError('BAD_OPTION', `${flag}: "${v.toLowerCase()}" is not skip or jump`);
  }
  return [...new Set(values)] as InterstitialRestriction[];
}
