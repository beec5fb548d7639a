/** ftyp / styp readers (ISO/IEC 14496-12 §4.3, §8.16.2): major brand, minor version, compatible brands. */
import type { Box } from './box.js';
import { ByteReader } from './byte-reader.js';

export interface Brands {
  major: string;
  minorVersion: number;
  compatible: string[];
}

export function parseFileType(box: Box): Brands {
  const r = new ByteReader(box.payload, box.type);
  const major = r.fourcc();
  const minorVersion = r.u32();
  const compatible: string[] = [];
  while (r.remaining >= 4) compatible.push(r.fourcc());
  return { major, minorVersion, compatible };
}
