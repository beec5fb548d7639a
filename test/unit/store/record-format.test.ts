import { describe, expect, it } from 'vitest';
import { HEADER_BYTES, decodeHeader, encodeHeader } from '../../../edge/store/record-format.js';

describe('record header', () => {
  const h = {
    keyHash: 0xdeadbeef,
    keyLength: 17,
    metaLength: 123,
    bodyLength: 3_000_000_000,
    storedAt: 1_700_000_000_123,
    crc: 0x12345678,
  };

  it('round-trips every field (including bodies above 4 GiB - 1 and ms timestamps)', () => {
    const b = encodeHeader(h);
    expect(b.length).toBe(HEADER_BYTES);
    expect(decodeHeader(b)).toEqual(h);
    expect(decodeHeader(encodeHeader({ ...h, bodyLength: 2 ** 40 + 5 }))!.bodyLength).toBe(2 ** 40 + 5);
  });

  it('rejects a header with any corrupted byte, bad magic, or short input', () => {
    const b = encodeHeader(h);
    for (let i = 0; i < 44; i++) {
      const c = Buffer.from(b);
      c[i] ^= 0x01;
      expect(decodeHeader(c), `byte ${i}`).toBeUndefined();
    }
    expect(decodeHeader(Buffer.alloc(HEADER_BYTES))).toBeUndefined();
    expect(decodeHeader(b.subarray(0, 20))).toBeUndefined();
  });
});
