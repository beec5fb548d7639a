/**
 * Carrying a `?token=` through playlists and MPDs.
 *
 * README: where the token gets into manifests, and why
 * ----------------------------------------------------
 * With **path placement** (`/t/<token>/vod/asset1/master.m3u8`, the default) nothing is
 * rewritten at all: every URI our packager writes is relative, so the player resolves
 * `720p/index.m3u8`, `init.mp4`, `seg-12.3.m4s` against the signed URL and they inherit the
 * `/t/<token>/` prefix by themselves. Origin and edge strip the prefix before the cache key is
 * computed, so every viewer shares one cached copy.
 *
 * With **query placement** (`master.m3u8?token=<token>`) relative resolution drops the query,
 * so each URI inside a playlist or MPD must carry the token itself. We do that rewrite **at the
 * edge, per request, from the cached token-free copy**, not at the origin:
 * - the cache stays shared: the origin answers (and the edge stores) one token-free playlist
 *   per URL, instead of one variant per viewer that would never be hit again and would turn
 *   every live playlist reload into an origin request;
 * - the rewrite is cheap: a single pass over a few kilobytes of text with no parsing beyond
 *   lines and quoted attributes — microseconds, far below the cost of an upstream fetch;
 * - the origin stays simple and cacheable; an origin serving players directly (no edge) applies
 *   the same functions to its own answers when it sees a query token.
 * Only relative URIs (and absolute ones on an origin you name) get the token, so a token never
 * leaks to a third-party host.
 */
import { TOKEN_PARAM } from './issue.js';
import { escapeXml, unescapeXml } from '../dash/xml-element.js';

export interface RewriteOptions {
  /** The query parameter name (default `token`). */
  param?: string;
  /**
   * Absolute URIs whose origin (`https://host:port`) is listed here get the token too; any
   * other absolute URI (another host, `data:`, `skd:`) is left alone.
   */
  sameOrigins?: readonly string[];
}

const HAS_SCHEME = /^[a-zA-Z][a-zA-Z0-9+.-]*:/;

function originOf(uri: string): string | undefined {
  try {
    return new URL(uri).origin;
  } catch {
    return undefined;
  }
}

function shouldCarry(uri: string, opts: RewriteOptions): boolean {
  if (uri.length === 0) return false;
  if (uri.startsWith('//')) return false; // scheme-relative: another host
  if (!HAS_SCHEME.test(uri)) return true;
  const o = originOf(uri);
  return o !== undefined && o !== 'null' && (opts.sameOrigins ?? []).some((s) => originOf(s) === o);
}

/**
 * Adds `param=token` to one URI (keeps other parameters and the fragment; replaces an existing
 * token parameter instead of adding a second one).
 */
export function addTokenToUri(uri: string, token: string, opts: RewriteOptions = {}): string {
  if (!shouldCarry(uri, opts)) return uri;
  const param = opts.param ?? TOKEN_PARAM;
  const hash = uri.indexOf('#');
  const fragment = hash >= 0 ? uri.slice(hash) : '';
  const base = hash >= 0 ? uri.slice(0, hash) : uri;
  const q = base.indexOf('?');
  const path = q >= 0 ? base.slice(0, q) : base;
  const params =
    q >= 0
      ? base
          .slice(q + 1)
          .split('&')
          .filter((p) => p.length > 0)
      : [];
  const kept = params.filter((p) => {
    const eq = p.indexOf('=');
    return (eq >= 0 ? p.slice(0, eq) : p) !== param;
  });
  kept.push(`${param}=${encodeURIComponent(token)}`);
  return `${path}?${kept.join('&')}${fragment}`;
}

/** `URI="..."` as an attribute (start of the attribute list or after a comma). */
const URI_ATTR = /([:,]\s*URI=")([^"]*)(")/g;

/**
 * Every URI in an HLS playlist gets the token: URI lines (segments, variant streams) and every
 * `URI="..."` attribute (EXT-X-MAP, EXT-X-PART, EXT-X-PRELOAD-HINT, EXT-X-RENDITION-REPORT,
 * EXT-X-MEDIA, EXT-X-I-FRAME-STREAM-INF, EXT-X-KEY, EXT-X-SESSION-DATA, …). Line endings kept.
 */
export function addTokenToPlaylist(m3u8Text: string, token: string, opts: RewriteOptions = {}): string {
  return m3u8Text.replace(/[^\r\n]+/g, (line) => {
    const t = line.trim();
    if (t.length === 0) return line;
    if (t.startsWith('#')) {
      if (!t.startsWith('#EXT')) return line; // a comment
      return line.replace(
        URI_ATTR,
        (_m, pre: string, uri: string, post: string) => `${pre}${addTokenToUri(uri, token, opts)}${post}`,
      );
    }
    const lead = line.slice(0, line.indexOf(t));
    const trail = line.slice(lead.length + t.length);
    return `${lead}${addTokenToUri(t, token, opts)}${trail}`;
  });
}

/** Elements whose URL attributes carry the token, and those attributes. */
const URL_ATTRS: Record<string, readonly string[]> = {
  SegmentTemplate: ['media', 'initialization', 'index', 'bitstreamSwitching'],
  SegmentURL: ['media', 'index'],
  Initialization: ['sourceURL'],
  RepresentationIndex: ['sourceURL'],
  BitstreamSwitching: ['sourceURL'],
};
/** Elements whose text content is a URL. */
const URL_TEXT = ['BaseURL', 'Location', 'PatchLocation', 'Laurl'];

const ELEMENT_WITH_ATTRS = new RegExp(
  `<((?:[A-Za-z_][\\w.-]*:)?(${Object.keys(URL_ATTRS).join('|')}))(\\s[^>]*?)?(/?)>`,
  'g',
);
const ELEMENT_TEXT = new RegExp(`(<(?:[A-Za-z_][\\w.-]*:)?(${URL_TEXT.join('|')})(?:\\s[^>]*)?>)([^<]*)(</)`, 'g');
const ATTR = /(\s)([A-Za-z_][\w.:-]*)(\s*=\s*)("([^"]*)"|'([^']*)')/g;

/**
 * A WebVTT thumbnail index (`thumbnails.vtt`): every cue payload that is a picture's URL (it
 * names its cell with a `#xywh=` media fragment) gets the token before the fragment. Other lines
 * (timings, the header) are kept as they are.
 */
export function addTokenToThumbnailVtt(vtt: string, token: string, opts: RewriteOptions = {}): string {
  return vtt.replace(/^[^\r\n]*#xywh=[^\r\n]*$/gm, (line) =>
    line.includes('-->') ? line : addTokenToUri(line.trim(), token, opts),
  );
}

/**
 * Every URL in a DASH MPD gets the token: SegmentTemplate `media`/`initialization`/`index`,
 * SegmentURL, Initialization/RepresentationIndex `sourceURL`, and the text of BaseURL, Location,
 * PatchLocation and a Clear Key license URL (`dashif:Laurl`, `clearkey:Laurl`). Template
 * identifiers (`$Number$`) are kept; a query on a directory BaseURL does not propagate to segment
 * URLs under it (RFC 3986 resolution drops it), which is why the templates carry the token
 * themselves.
 */
export function addTokenToMpd(xml: string, token: string, opts: RewriteOptions = {}): string {
  const rewrite = (escaped: string): string => {
    const raw = unescapeXml(escaped);
    const out = addTokenToUri(raw.trim(), token, opts);
    return out === raw.trim() ? escaped : escapeXml(out);
  };
  let out = xml.replace(
    ELEMENT_WITH_ATTRS,
    (m, qname: string, local: string, attrs: string | undefined, selfClose: string) => {
      if (!attrs) return m;
      const names = URL_ATTRS[local];
      const newAttrs = attrs.replace(
        ATTR,
        (a, sp: string, name: string, eq: string, _v: string, dq?: string, sq?: string) => {
          if (!names.includes(name)) return a;
          const value = dq ?? sq ?? '';
          const quote = dq !== undefined ? '"' : "'";
          return `${sp}${name}${eq}${quote}${rewrite(value)}${quote}`;
        },
      );
      return `<${qname}${newAttrs}${selfClose}>`;
    },
  );
  out = out.replace(ELEMENT_TEXT, (_m, open: string, _local: string, text: string, close: string) => {
    if (text.trim().length === 0) return `${open}${text}${close}`;
    return `${open}${rewrite(text)}${close}`;
  });
  return out;
}
