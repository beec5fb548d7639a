/**
 * The interstitial options `streamedge package` (`--interstitial…`) and `streamedge origin`
 * (`--live-interstitial…`) share: where the ads come from (one asset, or an ad decision
 * service's asset list) and X-RESTRICT.
 */
import { StreamedgeError } from '../errors.js';
import type { InterstitialRestriction, InterstitialSource } from '../media/presentation.js';

/** The three options as commander gives them, under either prefix. */
export interface InterstitialCliValues {
  uri?: string;
  list?: string;
  restrict?: string;
}

/**
 * `<prefix> <url>` or `<prefix>-list <url>` (absolute http(s) URLs, one of the two), with
 * `<prefix>-restrict skip,jump`; undefined when neither URL is given. Throws BAD_OPTION on any
 * other combination, naming the flag.
 */
export function interstitialSource(v: InterstitialCliValues, prefix: string): InterstitialSource | undefined {
  if (v.uri !== undefined && v.list !== undefined)
    throw new StreamedgeError('BAD_OPTION', `${prefix} and ${prefix}-list: give one of the two`);
  const url = v.uri ?? v.list;
  if (url === undefined) {
    if (v.restrict !== undefined)
      throw new StreamedgeError('BAD_OPTION', `${prefix}-restrict needs ${prefix} or ${prefix}-list`);
    return undefined;
  }
  const flag = v.uri !== undefined ? prefix : `${prefix}-list`;
  if (!/^https?:\/\/[^\s"]+$/.test(url))
    throw new StreamedgeError('BAD_OPTION', `${flag} must be an absolute http(s) URL, got "${url}"`);
  const restrict = restrictions(v.restrict, `${prefix}-restrict`);
  return {
    ...(v.uri !== undefined ? { assetUri: url } : { assetList: url }),
    ...(restrict ? { restrict } : {}),
  };
}

/** `skip,jump`: X-RESTRICT's values, each once. */
function restrictions(text: string | undefined, flag: string): InterstitialRestriction[] | undefined {
  if (text === undefined) return undefined;
  const values = text.split(',').map((v) => v.trim().toUpperCase());
  for (const v of values) {
    if (v !== 'SKIP' && v !== 'JUMP')
      throw new StreamedgeError('BAD_OPTION', `${flag}: "${v.toLowerCase()}" is not skip or jump`);
  }
  return [...new Set(values)] as InterstitialRestriction[];
}
