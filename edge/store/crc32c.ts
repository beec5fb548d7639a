import { endianness } from 'node:os';

/**
 * CRC32C (Castagnoli, reflected polynomial 0x82F63B78), table-driven with slicing-by-16.
 * Pure TypeScript: no native dependency. `crc32c(buf)` computes a whole checksum; pass the
 * previous result as `prev` to continue over a sequence of chunks
 * (crc32c(b, crc32c(a)) === crc32c(concat(a, b))).
 *
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

export function crc32c(buf: Uint8Array, prev = 0): number {
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
