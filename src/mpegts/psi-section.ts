/**
 * A PSI section (ISO/IEC 13818-1 §2.4.4: a PAT, a PMT, an SCTE 35 splice_info_section) closed:
 * its section_length set from its bytes and its CRC_32 appended.
 */
import { crc32Mpeg2 } from '../scte35/splice-info.js';

/** `body` (the section from table_id on, without its CRC) with section_length set and the CRC appended. */
export function sealSection(body: Uint8Array): Buffer {
  const out = Buffer.alloc(body.length + 4);
  out.set(body);
  const sectionLength = body.length - 3 + 4;
  out[1] = (out[1] & 0xf0) | ((sectionLength >> 8) & 0x0f);
  out[2] = sectionLength & 0xff;
  out.writeUInt32BE(crc32Mpeg2(out.subarray(0, body.length)), body.length);
  return out;
}
