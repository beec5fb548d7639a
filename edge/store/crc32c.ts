import { endianness } from 'node:os';

/**
 * CRC32C (Castagnoli, reflected polynomial 0x82F63B78). `crc32c(buf)` computes a whole checksum;
 * pass the previous result as `prev` to continue over a sequence of chunks
 * (crc32c(b, crc32c(a)) === crc32c(concat(a, b))).
 *
 * `crc32c` is the native implementation from `@node-rs/crc32` (SSE4.2 / ARMv8 CRC instructions,
 * a prebuilt binary installed through npm's optional dependencies) when it loads on this platform,
 * else the pure-TypeScript `crc32cJs` below. Both produce identical values (tested on the same
 * inputs, RFC 3720 B.4 vectors included). STREAMEDGE_CRC32C=js forces the fallback.
 *
 * `crc32cJs` is table-driven with slicing-by-16.
 * The main loop reads four aligned 32-bit words per step through a Uint32Array view (little-endian
 * hosts); unaligned head/tail bytes and big-endian hosts use the one-table byte loop.
 */
const POLY = 0x82f63b78;

/** 16 tables of 256 entries, table k at offset k*256: T[k][n] = CRC of byte n followed by k zero bytes. */
const T = (() => {
  const t = new Uint32Array(16 * 256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let i = 0; i < 8; i++) c = c & 1 ? (c >>> 1) ^ POLY : c >>> 1;
    t[n] = c >>> 0;
  }
  for (let n = 0; n < 256; n++) {
    let c = t[n];
    for (let k = 1; k < 16; k++) {
      c = t[c & 0xff] ^ (c >>> 8);
      t[k * 256 + n] = c >>> 0;
    }
  }
  return t;
})();

const LITTLE_ENDIAN = endianness() === 'LE';

export function crc32cJs(buf: Uint8Array, prev = 0): number {
  let crc = ~prev >>> 0;
  let i = 0;
  const n = buf.length;
  if (LITTLE_ENDIAN && n >= 64) {
    while (((buf.byteOffset + i) & 3) !== 0) crc = T[(crc ^ buf[i++]) & 0xff] ^ (crc >>> 8);
    const words = new Uint32Array(buf.buffer, buf.byteOffset + i, (n - i) >>> 2);
    const wn = words.length - (words.length & 3);
    for (let w = 0; w < wn; w += 4) {
      const a = words[w] ^ crc;
      const b = words[w + 1];
      const c = words[w + 2];
      const d = words[w + 3];
      crc =
        T[3840 + (a & 0xff)] ^
        T[3584 + ((a >>> 8) & 0xff)] ^
        T[3328 + ((a >>> 16) & 0xff)] ^
        T[3072 + (a >>> 24)] ^
        T[2816 + (b & 0xff)] ^
        T[2560 + ((b >>> 8) & 0xff)] ^
        T[2304 + ((b >>> 16) & 0xff)] ^
        T[2048 + (b >>> 24)] ^
        T[1792 + (c & 0xff)] ^
        T[1536 + ((c >>> 8) & 0xff)] ^
        T[1280 + ((c >>> 16) & 0xff)] ^
        T[1024 + (c >>> 24)] ^
        T[768 + (d & 0xff)] ^
        T[512 + ((d >>> 8) & 0xff)] ^
        T[256 + ((d >>> 16) & 0xff)] ^
        T[d >>> 24];
    }
    i += wn * 4;
  }
  while (i < n) crc = T[(crc ^ buf[i++]) & 0xff] ^ (crc >>> 8);
  return ~crc >>> 0;
}

type Crc32cFn = (input: Uint8Array, initialState?: number) => number;

async function loadNative(): Promise<Crc32cFn | undefined> {
  if (process.env.STREAMEDGE_CRC32C === 'js') return undefined;
  try {
    const mod = (await import('@node-rs/crc32')) as { crc32c?: Crc32cFn };
    const fn = mod.crc32c;
    // Self-check against the published check value before trusting it.
    if (typeof fn !== 'function' || fn(Buffer.from('123456789')) !== 0xe3069283) return undefined;
    return fn;
  } catch {
    return undefined;
  }
}

const native = await loadNative();

/** Which implementation `crc32c` is: 'native' (@node-rs/crc32) or 'js' (the fallback). */
export const crc32cImplementation: 'native' | 'js' = native ? 'native' : 'js';

export const crc32c: (buf: Uint8Array, prev?: number) => number = native
  ? (buf, prev = 0) => native(buf, prev)
  : crc32cJs;
