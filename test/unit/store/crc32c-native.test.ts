import { describe, expect, it } from 'vitest';
import { crc32c, crc32cImplementation, crc32cJs } from '../../../edge/store/crc32c.js';

/** The native CRC32C (@node-rs/crc32) and the pure-JS fallback must agree on every input. */
describe('crc32c: native and JS fallback', () => {
  it('the native implementation is the one in use on this platform (a prebuilt binary is installed)', () => {
    expect(crc32cImplementation).toBe('native');
  });

  it('both give the RFC 3720 B.4 vectors and the "123456789" check value', () => {
    const vectors: [Buffer, number][] = [
      [Buffer.from('123456789'), 0xe3069283],
      [Buffer.alloc(32, 0), 0x8a9136aa],
      [Buffer.alloc(32, 0xff), 0x62a8ab43],
      [Buffer.from(Array.from({ length: 32 }, (_, i) => i)), 0x46dd794e],
      [Buffer.from(Array.from({ length: 32 }, (_, i) => 31 - i)), 0x113fdb5c],
      [Buffer.alloc(0), 0],
    ];
    for (const [buf, want] of vectors) {
      expect(crc32cJs(buf)).toBe(want);
      expect(crc32c(buf)).toBe(want);
    }
  });

  it('both agree on random inputs of many lengths and alignments, whole and chained', () => {
    let x = 0x9e3779b9;
    const next = (): number => {
      x ^= x << 13;
      x >>>= 0;
      x ^= x >>> 17;
      x ^= x << 5;
      return (x >>>= 0);
    };
    const big = Buffer.from(Array.from({ length: 70_000 }, () => next() & 0xff));
    for (let trial = 0; trial < 300; trial++) {
      const start = next() % 64;
      const len = trial < 100 ? trial : next() % (big.length - 64);
      const buf = big.subarray(start, start + len);
      const seed = next();
      expect(crc32c(buf)).toBe(crc32cJs(buf));
      expect(crc32c(buf, seed)).toBe(crc32cJs(buf, seed));
      const split = len === 0 ? 0 : next() % (len + 1);
      expect(crc32c(buf.subarray(split), crc32cJs(buf.subarray(0, split)))).toBe(crc32cJs(buf));
    }
  });

  it('a Uint8Array view (not a Buffer) gives the same value', () => {
    const u = new Uint8Array(1000).map((_, i) => (i * 37) & 0xff);
    const view = new Uint8Array(u.buffer, 3, 900);
    expect(crc32c(view)).toBe(crc32cJs(view));
  });
});
