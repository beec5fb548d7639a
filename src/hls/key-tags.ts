/**
 * EXT-X-KEY and EXT-X-SESSION-KEY for Common Encryption (RFC 8216bis §4.4.4.4, §4.4.6.5):
 * METHOD=SAMPLE-AES is fMP4 under 'cbcs', SAMPLE-AES-CTR under 'cenc'; KEYFORMAT "identity"
 * means the URI answers the raw 16-byte key, which a browser hands to the W3C Clear Key system.
 */
import { paths, type Protection } from '../media/presentation.js';
import { attributeList, quoted } from './attribute-list.js';
import { withQuery, type UriOptions } from './uri-options.js';

/** The attribute list of both tags; `prefix` is the way from the playlist to the key endpoint. */
export function keyAttributes(p: Protection, prefix: string, opts: UriOptions): string {
  return attributeList([
    ['METHOD', p.scheme === 'cbcs' ? 'SAMPLE-AES' : 'SAMPLE-AES-CTR'],
    ['URI', quoted(withQuery(`${prefix}${paths.contentKey(p.kid)}`, opts))],
    ['KEYFORMAT', quoted('identity')],
    ['KEYFORMATVERSIONS', quoted('1')],
  ]);
}

/** METHOD values whose key a client fetches from URI with KEYFORMAT "identity" (fMP4: cbcs, cenc). */
const SAMPLE_METHODS = new Set(['SAMPLE-AES', 'SAMPLE-AES-CTR']);

/**
 * The key URI of a multivariant playlist's EXT-X-SESSION-KEY with KEYFORMAT "identity" (or none:
 * identity is the default) and a SAMPLE-AES method, as written; undefined when it has none (a clear
 * stream, or keys of a DRM system a client gets elsewhere).
 */
export function readIdentitySessionKey(playlist: string): string | undefined {
  for (const line of playlist.split('\n')) {
    if (!line.startsWith('#EXT-X-SESSION-KEY:')) continue;
    const method = /(?:^|[:,])METHOD=([^,\s]*)/.exec(line)?.[1];
    const format = /(?:^|[:,])KEYFORMAT="([^"]*)"/.exec(line)?.[1] ?? 'identity';
    const uri = /(?:^|[:,])URI="([^"]*)"/.exec(line)?.[1];
    if (method && SAMPLE_METHODS.has(method) && format === 'identity' && uri) return uri;
  }
  return undefined;
}
