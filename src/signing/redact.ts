/**
 * Tokens are bearer credentials: a URL is passed through `redactTokens` before it is written to
 * any log line, by the origin and by the edge alike.
 *
 * Redaction is wider than verification on purpose. Names and the first path segment are compared
 * after percent-decoding (repeatedly, so `%2574oken` is caught too) and without regard to case, so
 * every spelling verification accepts (`token`, `%74oken`, `/t/`, `/%74/`) and every near miss a
 * client might send (`TOKEN`, `Token`, `/T/`) loses its value. A `;` also separates parameters here
 * (some servers read it so). Everything else in the URL is kept byte for byte. Never throws.
 */
import { splitUrl } from './token-placement.js';
import { TOKEN_PARAM, TOKEN_PATH_SEGMENT } from './issue.js';

/** What a token value becomes in a log line. */
export const REDACTED = 'redacted';

/** Percent-decodes until nothing changes (at most a few rounds); what cannot be decoded stays as it is. */
function decodedForComparison(raw: string): string {
  let s = raw.replace(/\+/g, ' ');
  for (let i = 0; i < 4 && s.includes('%'); i++) {
    let next: string;
    try {
      next = decodeURIComponent(s);
    } catch {
      next = s.replace(/%([0-9a-fA-F]{2})/g, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16)));
    }
    if (next === s) break;
    s = next;
  }
  return s.trim().toLowerCase();
}

function redactPath(path: string): string {
  if (!path.startsWith('/')) return path;
  const first = path.indexOf('/', 1);
  if (first < 0 || decodedForComparison(path.slice(1, first)) !== TOKEN_PATH_SEGMENT) return path;
  const end = path.indexOf('/', first + 1);
  const seg = end >= 0 ? path.slice(first + 1, end) : path.slice(first + 1);
  if (seg === '') return path;
  return `${path.slice(0, first + 1)}${REDACTED}${end >= 0 ? path.slice(end) : ''}`;
}

function redactQuery(query: string): string {
  return query.replace(/[^&;]+/g, (part) => {
    const eq = part.indexOf('=');
    if (eq < 0 || eq === part.length - 1) return part;
    return decodedForComparison(part.slice(0, eq)) === TOKEN_PARAM ? `${part.slice(0, eq + 1)}${REDACTED}` : part;
  });
}

/** The URL (request-target or absolute) with the value of every token-like parameter and path segment replaced. */
export function redactTokens(url: string): string {
  if (typeof url !== 'string') return url;
  const u = splitUrl(url);
  const path = redactPath(u.path);
  const query = u.query !== undefined ? redactQuery(u.query) : undefined;
  return `${u.origin}${path}${query !== undefined ? `?${query}` : ''}${u.fragment}`;
}
