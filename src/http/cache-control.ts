/**
 * Parsing of Cache-Control (RFC 9111 §5.2), CDN-Cache-Control (RFC 9213: a structured-field
 * dictionary with the same directive names) and Surrogate-Control (Edge Architecture 1.0).
 *
 * Directive names are case-insensitive; values may be tokens, integers or quoted strings.
 * Unknown directives are kept (a caller may look them up) and malformed ones are ignored.
 */

export type Directives = Map<string, string | true>;

/** Split on commas that are not inside a quoted string. */
function splitList(text: string): string[] {
  const parts: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (quoted) {
      cur += ch;
      if (ch === '\\' && i + 1 < text.length) cur += text[++i];
      else if (ch === '"') quoted = false;
    } else if (ch === '"') {
      quoted = true;
      cur += ch;
    } else if (ch === ',') {
      parts.push(cur);
      cur = '';
    } else cur += ch;
  }
  parts.push(cur);
  return parts;
}

function unquote(v: string): string {
  if (v.length >= 2 && v.startsWith('"') && v.endsWith('"')) return v.slice(1, -1).replace(/\\(.)/g, '$1');
  return v;
}

/** Parse a Cache-Control-like header value. The first occurrence of a directive wins. */
export function parseCacheControl(value: string | string[] | undefined): Directives {
  const out: Directives = new Map();
  if (value === undefined) return out;
  const text = Array.isArray(value) ? value.join(',') : value;
  for (const raw of splitList(text)) {
    const part = raw.trim();
    if (part === '') continue;
    const eq = part.indexOf('=');
    const name = (eq === -1 ? part : part.slice(0, eq)).trim().toLowerCase();
    if (!/^[a-z0-9!#$%&'*+.^_`|~-]+$/.test(name)) continue;
    if (out.has(name)) continue;
    // structured-field booleans (`no-store=?1`) count as present; `?0` as absent
    const rawValue = eq === -1 ? undefined : part.slice(eq + 1).trim();
    if (rawValue === '?0') continue;
    out.set(name, rawValue === undefined || rawValue === '?1' ? true : unquote(rawValue));
  }
  return out;
}

/** Surrogate-Control: `max-age=60, no-store, content="ESI/1.0"` (the `;target` suffix is ignored). */
export function parseSurrogateControl(value: string | string[] | undefined): Directives {
  const text = value === undefined ? undefined : Array.isArray(value) ? value.join(',') : value;
  const out = parseCacheControl(text?.replace(/;[^,"]*/g, ''));
  for (const [k, v] of [...out]) {
    const semi = k.indexOf(';');
    if (semi !== -1) {
      out.delete(k);
      if (!out.has(k.slice(0, semi))) out.set(k.slice(0, semi), v);
    } else if (typeof v === 'string' && !v.startsWith('"') && v.includes(';')) {
      out.set(k, v.slice(0, v.indexOf(';')).trim());
    }
  }
  return out;
}

/**
 * A delta-seconds directive value (RFC 9111 §1.2.2): a non-negative integer; values too big
 * saturate at 2^31. `undefined` when absent or malformed.
 */
export function deltaSeconds(d: Directives, name: string): number | undefined {
  const v = d.get(name);
  if (v === undefined || v === true) return undefined;
  if (!/^\d+$/.test(v)) return undefined;
  return Math.min(Number(v), 2 ** 31);
}
