/** trex (TrackExtendsBox, ISO/IEC 14496-12 §8.8.3): per-track defaults for movie fragments. */
import type { Box } from './box.js';
import { ByteReader } from './byte-reader.js';

export interface TrexDefaults {
  trackId: number;
  defaultSampleDescriptionIndex: number;
  defaultSampleDuration: number;
  defaultSampleSize: number;
  defaultSampleFlags: number;
}

export function parseTrex(box: Box): TrexDefaults {
  const r = new ByteReader(box.payload, 'trex');
  r.fullHeader();
  return {
    trackId: r.u32(),
    defaultSampleDescriptionIndex: r.u32(),
    defaultSampleDuration: r.u32(),
    defaultSampleSize: r.u32(),
    defaultSampleFlags: r.u32(),
  };
}
