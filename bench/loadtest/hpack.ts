/**
 * HPACK (RFC 7541) for the load tester's HTTP/2 client: a full decoder for response header blocks
 * (static and dynamic table, table size updates, Huffman-coded strings) and the small encoder a
 * GET needs (indexed static fields and literals never entered in a table, never Huffman-coded).
 *
 * The decoder keeps every field in its dynamic table (entry sizes are what eviction counts, so
 * every literal is decoded, Huffman or not), but hands back only what the load tester reads:
 * the status and the content-length. Strings are latin1 (HTTP field values are octets).
 */

/** RFC 7541 Appendix A. */
const STATIC_TABLE: readonly (readonly [string, string])[] = [
  [':authority', ''],
  [':method', 'GET'],
  [':method', 'POST'],
  [':path', '/'],
  [':path', '/index.html'],
  [':scheme', 'http'],
  [':scheme', 'https'],
  [':status', '200'],
  [':status', '204'],
  [':status', '206'],
  [':status', '304'],
  [':status', '400'],
  [':status', '404'],
  [':status', '500'],
  ['accept-charset', ''],
  ['accept-encoding', 'gzip, deflate'],
  ['accept-language', ''],
  ['accept-ranges', ''],
  ['accept', ''],
  ['access-control-allow-origin', ''],
  ['age', ''],
  ['allow', ''],
  ['authorization', ''],
  ['cache-control', ''],
  ['content-disposition', ''],
  ['content-encoding', ''],
  ['content-language', ''],
  ['content-length', ''],
  ['content-location', ''],
  ['content-range', ''],
  ['content-type', ''],
  ['cookie', ''],
  ['date', ''],
  ['etag', ''],
  ['expect', ''],
  ['expires', ''],
  ['from', ''],
  ['host', ''],
  ['if-match', ''],
  ['if-modified-since', ''],
  ['if-none-match', ''],
  ['if-range', ''],
  ['if-unmodified-since', ''],
  ['last-modified', ''],
  ['link', ''],
  ['location', ''],
  ['max-forwards', ''],
  ['proxy-authenticate', ''],
  ['proxy-authorization', ''],
  ['range', ''],
  ['referer', ''],
  ['refresh', ''],
  ['retry-after', ''],
  ['server', ''],
  ['set-cookie', ''],
  ['strict-transport-security', ''],
  ['transfer-encoding', ''],
  ['user-agent', ''],
  ['vary', ''],
  ['via', ''],
  ['www-authenticate', ''],
];

/**
 * The Huffman code's lengths in bits, symbols 0–255 and EOS (256), RFC 7541 Appendix B. The code
 * is canonical (codes of one length are consecutive, in symbol order, and each length continues
 * from the last code of the shorter one), so the lengths are all it takes; the unit test decodes
 * what Node's own HPACK encoder (nghttp2) Huffman-codes, every octet value included.
 */
const HUFFMAN_BITS = [
  13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28,
  28, 28, 28, 6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6, 5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10,
  13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6, 15, 5, 6, 5, 6,
  5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5, 6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28, 20, 22, 20, 20, 22, 22, 22, 23,
  22, 23, 23, 23, 23, 23, 24, 23, 24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24, 22, 21, 20, 22, 22,
  23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23, 21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23, 26, 26,
  20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25, 19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27,
  27, 20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23, 26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27,
  27, 27, 27, 26, 30,
];
const EOS = 256;
const MAX_BITS = 30;

/**
 * Canonical decoding tables: for each length, the first code of that length, how many codes
 * have it, and where its symbols start in `SYMBOLS` (symbols sorted by length, then value).
 */
const FIRST_CODE = new Int32Array(MAX_BITS + 1);
const COUNT = new Int32Array(MAX_BITS + 1);
const FIRST_INDEX = new Int32Array(MAX_BITS + 1);
const SYMBOLS = new Uint16Array(257);
{
  for (const bits of HUFFMAN_BITS) COUNT[bits]++;
  let code = 0;
  let index = 0;
  for (let len = 1; len <= MAX_BITS; len++) {
    FIRST_CODE[len] = code;
    FIRST_INDEX[len] = index;
    code = (code + COUNT[len]) << 1;
    index += COUNT[len];
  }
  const next = FIRST_INDEX.slice();
  for (let s = 0; s <= EOS; s++) SYMBOLS[next[HUFFMAN_BITS[s]]++] = s;
}

export class HpackError extends Error {
  readonly code = 'ERR_HTTP2_HPACK';
}

/** Decodes the Huffman-coded octets b[from, to) (RFC 7541 §5.2) into a latin1 string. */
export function huffmanDecode(b: Uint8Array, from: number, to: number): string {
  let out = '';
  let code = 0;
  let len = 0;
  for (let i = from; i < to; i++) {
    const byte = b[i];
    for (let bit = 7; bit >= 0; bit--) {
      code = (code << 1) | ((byte >> bit) & 1);
      len++;
      const offset = code - FIRST_CODE[len];
      if (offset >= 0 && offset < COUNT[len]) {
        const sym = SYMBOLS[FIRST_INDEX[len] + offset];
        if (sym === EOS) throw new HpackError('Huffman string contains EOS');
        out += String.fromCharCode(sym);
        code = 0;
        len = 0;
      } else if (len >= MAX_BITS) throw new HpackError('Huffman code longer than any symbol');
    }
  }
  // the padding: fewer than 8 bits, all ones (the start of EOS)
  if (len > 7 || code !== (1 << len) - 1) throw new HpackError('bad Huffman padding');
  return out;
}

/** The fields of one response header block that the load tester reads. */
export interface ResponseFields {
  /** `:status` (NaN when absent or not three digits). */
  status: number;
  /** `content-length` as sent (undefined when absent). */
  contentLength: string | undefined;
  /** `cmsd-dynamic` (CTA-5006: the edge's advice to the player's ABR), fields joined; undefined when absent. */
  cmsd: string | undefined;
}

/** One HPACK decoding context (one per connection: the dynamic table lives as long as it). */
export class HpackDecoder {
  /** Newest first: index 62 is entries[0]. */
  private readonly names: string[] = [];
  private readonly values: string[] = [];
  private size = 0;
  /** What the peer may use: our SETTINGS_HEADER_TABLE_SIZE (4,096, the default). */
  private readonly maxAllowed: number;
  private max: number;
  private pos = 0;
  private block: Uint8Array = new Uint8Array(0);
  private end = 0;

  constructor(maxTableSize = 4096) {
    this.maxAllowed = maxTableSize;
    this.max = maxTableSize;
  }

  /** Entries in the dynamic table (for tests). */
  get tableLength(): number {
    return this.names.length;
  }

  /**
   * Decodes one whole header block (HEADERS and its CONTINUATIONs, joined) into `out`; `each`, when
   * given, sees every field in order (tests, tools).
   */
  decode(block: Uint8Array, out: ResponseFields, each?: (name: string, value: string) => void): void {
    this.block = block;
    this.pos = 0;
    this.end = block.length;
    out.status = NaN;
    out.contentLength = undefined;
    out.cmsd = undefined;
    let fieldSeen = false;
    while (this.pos < this.end) {
      const first = block[this.pos];
      let name: string;
      let value: string;
      if (first & 0x80) {
        // indexed field
        const index = this.integer(7);
        if (index === 0) throw new HpackError('index 0');
        name = this.nameAt(index);
        value = this.valueAt(index);
      } else if ((first & 0xe0) === 0x20) {
        // dynamic table size update: only at the start of a block
        if (fieldSeen) throw new HpackError('table size update after a field');
        const size = this.integer(5);
        if (size > this.maxAllowed) throw new HpackError(`table size ${size} above ${this.maxAllowed}`);
        this.max = size;
        this.evict(0);
        continue;
      } else {
        // literal: with incremental indexing (01xxxxxx, 6-bit index) or not/never indexed (000xxxxx, 4-bit)
        const indexing = (first & 0xc0) === 0x40;
        const index = this.integer(indexing ? 6 : 4);
        name = index === 0 ? this.string() : this.nameAt(index);
        value = this.string();
        if (indexing) this.add(name, value);
      }
      fieldSeen = true;
      each?.(name, value);
      if (name === ':status') out.status = value.length === 3 && /^\d{3}$/.test(value) ? Number(value) : NaN;
      else if (name === 'content-length') out.contentLength = value;
      else if (name === 'cmsd-dynamic') out.cmsd = out.cmsd === undefined ? value : `${out.cmsd}, ${value}`;
    }
  }

  private integer(prefixBits: number): number {
    const b = this.block;
    const mask = (1 << prefixBits) - 1;
    let v = b[this.pos++] & mask;
    if (v < mask) return v;
    let shift = 0;
    for (;;) {
      if (this.pos >= this.end) throw new HpackError('truncated integer');
      const byte = b[this.pos++];
      v += (byte & 0x7f) * 2 ** shift;
      shift += 7;
      if (!(byte & 0x80)) break;
      if (shift > 28) throw new HpackError('integer too large');
    }
    return v;
  }

  private string(): string {
    if (this.pos >= this.end) throw new HpackError('truncated string');
    const huffman = (this.block[this.pos] & 0x80) !== 0;
    const length = this.integer(7);
    const from = this.pos;
    const to = from + length;
    if (to > this.end) throw new HpackError('string past the block');
    this.pos = to;
    if (huffman) return huffmanDecode(this.block, from, to);
    return Buffer.from(this.block.buffer, this.block.byteOffset + from, length).toString('latin1');
  }

  private nameAt(index: number): string {
    if (index <= STATIC_TABLE.length) return STATIC_TABLE[index - 1][0];
    const i = index - STATIC_TABLE.length - 1;
    if (i >= this.names.length) throw new HpackError(`index ${index} past the table`);
    return this.names[i];
  }

  private valueAt(index: number): string {
    if (index <= STATIC_TABLE.length) return STATIC_TABLE[index - 1][1];
    return this.values[index - STATIC_TABLE.length - 1];
  }

  private add(name: string, value: string): void {
    const entry = name.length + value.length + 32;
    if (entry > this.max) {
      // an entry larger than the table empties it (§4.4)
      this.names.length = 0;
      this.values.length = 0;
      this.size = 0;
      return;
    }
    this.evict(entry);
    this.names.unshift(name);
    this.values.unshift(value);
    this.size += entry;
  }

  /** Drops the oldest entries until `room` more octets fit. */
  private evict(room: number): void {
    while (this.size + room > this.max && this.names.length > 0) {
      const name = this.names.pop()!;
      const value = this.values.pop()!;
      this.size -= name.length + value.length + 32;
    }
  }
}

/** An HPACK integer with an n-bit prefix, the prefix's other bits `flags`. */
function encodeInteger(out: number[], flags: number, prefixBits: number, v: number): void {
  const mask = (1 << prefixBits) - 1;
  if (v < mask) {
    out.push(flags | v);
    return;
  }
  out.push(flags | mask);
  v -= mask;
  while (v >= 128) {
    out.push((v % 128) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
}

function encodeString(out: number[], s: string): void {
  encodeInteger(out, 0, 7, s.length);
  for (let i = 0; i < s.length; i++) out.push(s.charCodeAt(i) & 0xff);
}

/**
 * The header block of a GET: `:method GET` and `:scheme https` from the static table, `:path` and
 * `:authority` as literals on their static names, other fields (lower-case names) as literals;
 * none is entered in the server's dynamic table, so the encoder keeps no state.
 */
export function encodeGetRequest(
  path: string,
  authority: string,
  headers?: Record<string, string>,
  method: 'GET' | 'POST' = 'GET',
): Buffer {
  // :method GET or POST (static table 2, 3), :scheme https (7)
  const out: number[] = [method === 'GET' ? 0x82 : 0x83, 0x87];
  encodeInteger(out, 0, 4, 4);
  encodeString(out, path);
  encodeInteger(out, 0, 4, 1);
  encodeString(out, authority);
  if (headers)
    for (const name in headers) {
      out.push(0);
      encodeString(out, name.toLowerCase());
      encodeString(out, headers[name]);
    }
  return Buffer.from(out);
}
