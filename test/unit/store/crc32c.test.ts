import { describe, expect, it } from 'vitest';
import { crc32cJs as crc32c } from '../../../edge/store/crc32c.js';

describe('crc32c', () => {
  it('matches the published check values (RFC 3720 B.4 and the "123456789" check)', () => {
    expect(crc32c(Buffer.from('123456789'))).toBe(0xe3069283);
    expect(crc32c(Buffer.alloc(32, 0))).toBe(0x8a9136aa);
    expect(crc32c(Buffer.alloc(32, 0xff))).toBe(0x62a8ab43);
    expect(crc32c(Buffer.from(Array.from({ length: 32 }, (_, i) => i)))).toBe(0x46dd794e);
    expect(crc32c(Buffer.from(Array.from({ length: 32 }, (_, i) => 31 - i)))).toBe(0x113fdb5c);
    expect(crc32c(Buffer.alloc(0))).toBe(0);
  });

  it('continues across chunks at any split point (property)', () => {
    let x = 12345;
    for (let trial = 0; trial < 200; trial++) {
      x = (x * 1103515245 + 12345) >>> 0;
      const len = x % 300;
      const buf = Buffer.from(Array.from({ length: len }, (_, i) => (i * 31 + trial) & 0xff));
      const split = len === 0 ? 0 : x % (len + 1);
      expect(crc32c(buf.subarray(split), crc32c(buf.subarray(0, split)))).toBe(crc32c(buf));
    }
  });

  it('detects every single-bit flip in a 4 KiB block', () => {
    const buf = Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7) & 0xff));
    const good = crc32c(buf);
    for (let bit = 0; bit < buf.length * 8; bit += 13) {
      buf[bit >> 3] ^= 1 << (bit & 7);
      expect(crc32c(buf)).not.toBe(good);
      buf[bit >> 3] ^= 1 << (bit & 7);
    }
  });
});

describe('crc32c word path', () => {
  it('agrees with a bitwise reference at every alignment and length around the fast-path threshold', () => {
    const ref = (b: Uint8Array): number => {
      let c = 0xffffffff;
      for (const x of b) {
        c ^= x;
        for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
      }
      return ~c >>> 0;
    };
    const base = Buffer.from(Array.from({ length: 400 }, (_, i) => (i * 89 + 7) & 0xff));
    for (let start = 0; start < 8; start++) {
      for (const len of [0, 1, 15, 63, 64, 65, 67, 80, 131, 255, 391]) {
        const slice = base.subarray(start, start + len);
        expect(crc32c(slice), `start ${start} len ${len}`).toBe(ref(slice));
      }
    }
  });
});
