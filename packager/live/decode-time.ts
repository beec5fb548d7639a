/** The tfdt of the first track fragment in a chunk (styp? moof ...), or undefined. */
import { childBox, readBoxes } from '../../src/cmaf/box.js';
import { ByteReader } from '../../src/cmaf/byte-reader.js';

export function firstDecodeTime(chunk: Buffer): number | undefined {
  try {
    const boxes = readBoxes(chunk);
    const moof = boxes.find((b) => b.type === 'moof');
    const traf = moof && childBox(moof, 'traf');
    const tfdt = traf && childBox(traf, 'tfdt');
    if (!tfdt) return undefined;
    const r = new ByteReader(tfdt.payload, 'tfdt');
    const version = r.u8();
    r.u24();
    return version === 1 ? Number(r.u64big()) : r.u32();
  } catch {
    return undefined;
  }
}
