/** What the channel reads from a chunk's first moof (styp? moof ...): its tfdt and its mfhd sequence number. */
import { childBox, readBoxes } from '../../src/cmaf/box.js';
import { ByteReader } from '../../src/cmaf/byte-reader.js';

/** The tfdt of the first track fragment in a chunk, or undefined. */
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

/** The mfhd sequence_number of the first movie fragment in a chunk (styp? moof ...), or undefined. */
export function fragmentSequence(chunk: Buffer): number | undefined {
  try {
    const moof = readBoxes(chunk).find((b) => b.type === 'moof');
    const mfhd = moof && childBox(moof, 'mfhd');
    if (!mfhd) return undefined;
    const r = new ByteReader(mfhd.payload, 'mfhd');
    r.u32(); // version and flags
    return r.u32();
  } catch {
    return undefined;
  }
}
