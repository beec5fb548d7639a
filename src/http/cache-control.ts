/**
 * Parsing of Cache-Control (RFC 9111 §5.2), CDN-Cache-Control (RFC 9213: a structured-field
 * Dictionary, RFC 8941 §3.2, with the same directive names) and Surrogate-Control (Edge
 * Architecture 1.0).
 *
 * Cache-Control: directive names are case-insensitive; values may be tokens, integers or quoted
 * strings. Unknown directives are kept (a caller may look them up) and malformed ones are ignored.
 * A targeted field (CDN-Cache-Control) is parsed strictly as a Dictionary instead: see
 * parseTargetedCacheControl.
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

/** Not a valid structured field (RFC 8941 §4.2: parsing fails, the whole field is ignored). */
class SfInvalid extends Error {}

/** A Dictionary member's value, as far as cache directives need it (RFC 8941 §3.3). */
type SfValue =
  | { type: 'integer'; value: number }
  | { type: 'decimal' | 'string' | 'token' | 'bytes'; value: string }
  | { type: 'boolean'; value: boolean }
  | { type: 'inner-list' };

const SF_KEY_START = /[a-z*]/;
const SF_KEY_CHAR = /[a-z0-9_\-.*]/;
const SF_TOKEN_START = /[A-Za-z*]/;
const SF_TOKEN_CHAR = /[A-Za-z0-9!#$%&'*+\-.^_`|~:/]/;
const SF_BASE64 = /[A-Za-z0-9+/=]/;

/** RFC 8941 §4.2 parsing of a Dictionary; throws SfInvalid. Later duplicates win (§4.2.2). */
class SfDictionaryParser {
  private i = 0;
  constructor(private readonly s: string) {}

  parse(): Map<string, SfValue> {
    const out = new Map<string, SfValue>();
    this.skip(' ');
    while (this.i < this.s.length) {
      const key = this.key();
      let value: SfValue;
      if (this.s[this.i] === '=') {
        this.i++;
        value = this.itemOrInnerList();
      } else {
        value = { type: 'boolean', value: true };
        this.parameters();
      }
      out.delete(key);
      out.set(key, value);
      this.skip(' \t');
      if (this.i >= this.s.length) return out;
      if (this.s[this.i] !== ',') throw new SfInvalid();
      this.i++;
      this.skip(' \t');
      if (this.i >= this.s.length) throw new SfInvalid(); // a trailing comma
    }
    return out;
  }

  private skip(chars: string): void {
    while (this.i < this.s.length && chars.includes(this.s[this.i])) this.i++;
  }

  private key(): string {
    const start = this.i;
    if (!SF_KEY_START.test(this.s[this.i] ?? '')) throw new SfInvalid();
    while (this.i < this.s.length && SF_KEY_CHAR.test(this.s[this.i])) this.i++;
    return this.s.slice(start, this.i);
  }

  private itemOrInnerList(): SfValue {
    if (this.s[this.i] !== '(') {
      const v = this.bareItem();
      this.parameters();
      return v;
    }
    this.i++;
    for (;;) {
      this.skip(' ');
      if (this.i >= this.s.length) throw new SfInvalid();
      if (this.s[this.i] === ')') {
        this.i++;
        this.parameters();
        return { type: 'inner-list' };
      }
      this.bareItem();
      this.parameters();
      if (this.s[this.i] !== ' ' && this.s[this.i] !== ')') throw new SfInvalid();
    }
  }

  /** Parameters are parsed (they must be valid) and dropped: RFC 9213 §2.1 ignores them. */
  private parameters(): void {
    while (this.s[this.i] === ';') {
      this.i++;
      this.skip(' ');
      this.key();
      if (this.s[this.i] === '=') {
        this.i++;
        this.bareItem();
      }
    }
  }

  private bareItem(): SfValue {
    const c = this.s[this.i] ?? '';
    if (c === '-' || (c >= '0' && c <= '9')) return this.number();
    if (c === '"') return this.string();
    if (SF_TOKEN_START.test(c)) {
      const start = this.i++;
      while (this.i < this.s.length && SF_TOKEN_CHAR.test(this.s[this.i])) this.i++;
      return { type: 'token', value: this.s.slice(start, this.i) };
    }
    if (c === ':') {
      const start = ++this.i;
      while (this.i < this.s.length && SF_BASE64.test(this.s[this.i])) this.i++;
      if (this.s[this.i] !== ':') throw new SfInvalid();
      return { type: 'bytes', value: this.s.slice(start, this.i++) };
    }
    if (c === '?') {
      const b = this.s[this.i + 1];
      if (b !== '0' && b !== '1') throw new SfInvalid();
      this.i += 2;
      return { type: 'boolean', value: b === '1' };
    }
    throw new SfInvalid();
  }

  /** RFC 8941 §4.2.4: at most 15 integer digits; a decimal at most 12 before the point and 3 after. */
  private number(): SfValue {
    const m = /^(-?)(\d+)(?:\.(\d*))?/.exec(this.s.slice(this.i, this.i + 20));
    if (!m) throw new SfInvalid();
    this.i += m[0].length;
    if (m[3] === undefined) {
      if (m[2].length > 15) throw new SfInvalid();
      return { type: 'integer', value: Number(m[1] + m[2]) };
    }
    if (m[2].length > 12 || m[3].length < 1 || m[3].length > 3) throw new SfInvalid();
    return { type: 'decimal', value: m[0] };
  }

  private string(): SfValue {
    let out = '';
    for (this.i++; this.i < this.s.length; this.i++) {
      const c = this.s[this.i];
      if (c === '\\') {
        const next = this.s[++this.i];
        if (next !== '"' && next !== '\\') throw new SfInvalid();
        out += next;
      } else if (c === '"') {
        this.i++;
        return { type: 'string', value: out };
      } else if (c < ' ' || c > '~') throw new SfInvalid();
      else out += c;
    }
    throw new SfInvalid(); // no closing quote
  }
}

/** Directives whose value is delta-seconds: an sf-integer in a targeted field, or not consumed. */
const DELTA_SECONDS_DIRECTIVES = new Set(['max-age', 's-maxage', 'stale-while-revalidate', 'stale-if-error']);

/**
 * A targeted cache-control field (CDN-Cache-Control, RFC 9213 §2.1): an RFC 8941 Dictionary.
 * `undefined` when it is not a valid Dictionary (uppercase key, bad item, trailing comma...):
 * the cache then ignores the field and falls back to the other cache-control mechanisms.
 * Parameters are ignored; a key given twice takes the last value; `?0` is absent; a
 * delta-seconds directive whose value is not a non-negative Integer (`max-age="60"`,
 * `max-age=1.5`) is not consumed (RFC 9213 §2.1: values violating the inferred type).
 */
export function parseTargetedCacheControl(value: string | string[] | undefined): Directives | undefined {
  if (value === undefined) return undefined;
  const text = (Array.isArray(value) ? value.join(', ') : value).replace(/^[ \t]+|[ \t]+$/g, '');
  if (text === '') return undefined;
  let dict: Map<string, SfValue>;
  try {
    dict = new SfDictionaryParser(text).parse();
  } catch (e) {
    if (e instanceof SfInvalid) return undefined;
    throw e;
  }
  const out: Directives = new Map();
  for (const [name, v] of dict) {
    if (v.type === 'boolean' && !v.value) continue;
    if (DELTA_SECONDS_DIRECTIVES.has(name)) {
      if (v.type === 'integer' && v.value >= 0) out.set(name, String(v.value));
      continue;
    }
    if (v.type === 'integer') out.set(name, String(v.value));
    else if (v.type === 'boolean' || v.type === 'inner-list') out.set(name, true);
    else out.set(name, v.value);
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
