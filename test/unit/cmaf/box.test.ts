import { describe, expect, it } from 'vitest';
import { findBox, findBoxes, readBox, readBoxes } from '../../../src/cmaf/box.js';
import { StreamedgeError } from '../../../src/errors.js';
import { box, fullBox } from '../../../src/cmaf/writers.js';

function expectCode(fn: () => unknown, code: string): StreamedgeError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(StreamedgeError);
    expect((e as StreamedgeError).code).toBe(code);
    return e as StreamedgeError;
  }
  throw new Error(`expected a StreamedgeError ${code}`);
}

describe('readBoxes', () => {
  it('reads siblings with sizes, offsets and payload views', () => {
    const a = box('free', Buffer.from('abc'));
    const b = box('skip');
    const buf = Buffer.concat([a, b]);
    const boxes = readBoxes(buf);
    expect(boxes.map((x) => [x.type, x.size, x.start, x.headerSize])).toEqual([
      ['free', 11, 0, 8],
      ['skip', 8, 11, 8],
    ]);
    expect(boxes[0].payload.toString()).toBe('abc');
    // A view, not a copy: writing through the source shows in the payload.
    buf[8] = 0x7a;
    expect(boxes[0].payload.toString()).toBe('zbc');
  });

  it('descends into containers with offsets into the original buffer', () => {
    const mdhd = fullBox('mdhd', 0, 0, Buffer.alloc(20));
    const buf = Buffer.concat([
      box('ftyp', Buffer.from('isom\0\0\0\0')),
      box('moov', box('trak', box('mdia', mdhd)), box('trak')),
    ]);
    const boxes = readBoxes(buf);
    const found = findBox(boxes, 'moov/trak/mdia/mdhd');
    expect(found?.type).toBe('mdhd');
    expect(found!.start).toBe(buf.indexOf('mdhd') - 4);
    expect(findBoxes(boxes, 'moov/trak')).toHaveLength(2);
    expect(findBox(boxes, 'moov/trak/mdia/hdlr')).toBeUndefined();
    expect(findBox(boxes, 'moof')).toBeUndefined();
    // Non-container boxes keep no children.
    expect(found!.children).toBeUndefined();
  });

  it('reads a 64-bit largesize box', () => {
    const payload = Buffer.from('hello');
    const head = Buffer.alloc(16);
    head.writeUInt32BE(1, 0);
    head.write('mdat', 4, 'latin1');
    head.writeBigUInt64BE(BigInt(16 + payload.length), 8);
    const buf = Buffer.concat([head, payload, box('free')]);
    const [m, f] = readBoxes(buf);
    expect(m).toMatchObject({ type: 'mdat', size: 21, headerSize: 16, start: 0 });
    expect(m.payload.toString()).toBe('hello');
    expect(f).toMatchObject({ type: 'free', start: 21 });
  });

  it('resolves size 0 to the end of the enclosing space', () => {
    const head = Buffer.alloc(8);
    head.write('mdat', 4, 'latin1');
    const buf = Buffer.concat([box('free'), head, Buffer.from('to the end')]);
    const boxes = readBoxes(buf);
    expect(boxes[1]).toMatchObject({ type: 'mdat', size: 18, start: 8 });
    expect(boxes[1].payload.toString()).toBe('to the end');
    // Inside a container, size 0 ends at the container's end, not the buffer's.
    const inner = Buffer.concat([head, Buffer.from('xy')]);
    const nested = Buffer.concat([box('moov', inner), box('free')]);
    const [moov, free] = readBoxes(nested);
    expect(moov.children![0].payload.toString()).toBe('xy');
    expect(free.type).toBe('free');
  });

  it('reads uuid user types', () => {
    const user = Buffer.from('00112233445566778899aabbccddeeff', 'hex');
    const buf = box('uuid', user, Buffer.from('data'));
    const b = readBox(buf);
    expect(b.userType).toBe('00112233445566778899aabbccddeeff');
    expect(b.headerSize).toBe(24);
    expect(b.payload.toString()).toBe('data');
  });

  it('throws BAD_BOX on malformed sizes', () => {
    const tooSmall = Buffer.from('00000004free', 'latin1');
    tooSmall.writeUInt32BE(4, 0);
    expectCode(() => readBoxes(tooSmall), 'BAD_BOX');
    const overrun = box('free', Buffer.alloc(10)).subarray(0, 12);
    const e = expectCode(() => readBoxes(overrun), 'BAD_BOX');
    expect(e.message).toMatch(/declares 18 bytes but only 12 remain/);
    expectCode(() => readBoxes(Buffer.from([0, 0, 0])), 'BAD_BOX');
    const largeTooSmall = Buffer.alloc(16);
    largeTooSmall.writeUInt32BE(1, 0);
    largeTooSmall.write('mdat', 4, 'latin1');
    largeTooSmall.writeBigUInt64BE(8n, 8);
    expectCode(() => readBoxes(largeTooSmall), 'BAD_BOX');
    // A child overrunning its parent is caught too.
    const badChild = box('moov', Buffer.from([0, 0, 0, 0x20, 0x74, 0x72, 0x61, 0x6b]));
    expectCode(() => readBoxes(badChild), 'BAD_BOX');
    // Text is not an MP4.
    expectCode(() => readBoxes(Buffer.from('This is not a video file, only text.\n')), 'BAD_BOX');
  });

  it('honours offset and end', () => {
    const buf = Buffer.concat([Buffer.from('junk'), box('free'), box('skip'), Buffer.from('tail')]);
    const boxes = readBoxes(buf, 4, 20);
    expect(boxes.map((b) => [b.type, b.start])).toEqual([
      ['free', 4],
      ['skip', 12],
    ]);
  });
});
