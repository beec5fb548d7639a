import { describe, expect, it } from 'vitest';
import { BoxStreamParser, type RawBox } from '../../../src/cmaf/box-stream.js';
import { box } from '../../../src/cmaf/writers.js';
import { StreamedgeError } from '../../../src/errors.js';

function largeBox(type: string, payload: Buffer): Buffer {
  const h = Buffer.alloc(16);
  h.writeUInt32BE(1, 0);
  h.write(type, 4, 'latin1');
  h.writeBigUInt64BE(BigInt(16 + payload.length), 8);
  return Buffer.concat([h, payload]);
}

/** Tiny boxes (8-byte free), a largesize box, a uuid box: the awkward header cases. */
const STREAM = Buffer.concat([
  box('free'),
  box('styp', Buffer.from('cmfsabcd')),
  largeBox('mdat', Buffer.from('large payload')),
  box('free'),
  box('uuid', Buffer.alloc(16, 0xab), Buffer.from('u')),
  box('moof', box('mfhd', Buffer.alloc(8))),
  box('free'),
]);
const TYPES = ['free', 'styp', 'mdat', 'free', 'uuid', 'moof', 'free'];

function collect(chunks: Buffer[]): RawBox[] {
  const p = new BoxStreamParser();
  const out: RawBox[] = [];
  for (const c of chunks) out.push(...p.push(c));
  expect(p.pendingBytes).toBe(0);
  p.end();
  return out;
}

function expectWhole(out: RawBox[]): void {
  expect(out.map((b) => b.type)).toEqual(TYPES);
  expect(Buffer.concat(out.map((b) => b.bytes)).equals(STREAM)).toBe(true);
  let off = 0;
  for (const b of out) {
    expect(b.offset).toBe(off);
    off += b.bytes.length;
  }
}

describe('BoxStreamParser (synthetic)', () => {
  it('one chunk', () => expectWhole(collect([STREAM])));
  it('byte by byte', () => expectWhole(collect([...STREAM].map((b) => Buffer.from([b])))));
  it('every two-way and many three-way splits', () => {
    for (let i = 0; i <= STREAM.length; i++) {
      expectWhole(collect([STREAM.subarray(0, i), STREAM.subarray(i)]));
      for (let j = i; j <= STREAM.length; j += 3) {
        expectWhole(collect([STREAM.subarray(0, i), STREAM.subarray(i, j), STREAM.subarray(j)]));
      }
    }
  });
  it('emits a box contained in one chunk as a view of that chunk', () => {
    const p = new BoxStreamParser();
    const [first] = p.push(STREAM);
    expect(first.bytes.buffer).toBe(STREAM.buffer);
  });
  it('end() with a partial box pending throws TRUNCATED_BOX', () => {
    const p = new BoxStreamParser();
    p.push(STREAM.subarray(0, 20));
    expect(p.pendingBytes).toBe(12);
    try {
      p.end();
      throw new Error('no throw');
    } catch (e) {
      expect((e as StreamedgeError).code).toBe('TRUNCATED_BOX');
    }
    const q = new BoxStreamParser();
    q.push(Buffer.from([0, 0, 0]));
    expect(() => q.end()).toThrow(/unfinished box header/);
  });
  it('rejects impossible sizes as BAD_BOX', () => {
    const p = new BoxStreamParser();
    expect(() => p.push(Buffer.from('\0\0\0\x04free', 'latin1'))).toThrow(StreamedgeError);
    const q = new BoxStreamParser({ maxBoxSize: 100 });
    const big = Buffer.alloc(8);
    big.writeUInt32BE(1000, 0);
    big.write('mdat', 4, 'latin1');
    expect(() => q.push(big)).toThrow(/limit/);
    const text = new BoxStreamParser();
    expect(() => text.push(Buffer.from('This is not a video file, only text.\n'))).toThrow(/not fragmented MP4/);
  });
  it('a size-0 box runs to the end of the stream (finish)', () => {
    const head = Buffer.alloc(8);
    head.write('mdat', 4, 'latin1');
    const p = new BoxStreamParser();
    expect(p.push(Buffer.concat([box('free'), head.subarray(0, 5)])).map((b) => b.type)).toEqual(['free']);
    expect(p.push(Buffer.concat([head.subarray(5), Buffer.from('abc')]))).toEqual([]);
    expect(p.push(Buffer.from('def'))).toEqual([]);
    const [last] = p.finish();
    expect(last.type).toBe('mdat');
    expect(last.bytes.subarray(8).toString()).toBe('abcdef');
    expect(last.offset).toBe(8);
  });
  it('push after end is refused', () => {
    const p = new BoxStreamParser();
    p.end();
    expect(() => p.push(box('free'))).toThrow(/after end/);
  });
});
