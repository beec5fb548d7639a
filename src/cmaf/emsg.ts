/**
 * emsg (DASHEventMessageBox, ISO/IEC 23009-1 §5.10.3.3) reader, versions 0 and 1.
 * Version 0 carries presentation_time_delta (relative to the segment's earliest presentation
 * time); version 1 carries an absolute 64-bit presentation_time.
 */
import { StreamedgeError } from '../errors.js';
import type { Box } from './box.js';
import { ByteReader } from './byte-reader.js';

export interface EmsgInfo {
  version: 0 | 1;
  schemeIdUri: string;
  value: string;
  timescale: number;
  /** Version 1 only (absolute; required when writing version 1). */
  presentationTime?: number;
  /** Version 0 only (relative to the segment's earliest presentation time; required when writing version 0). */
  presentationTimeDelta?: number;
  /** 0xFFFFFFFF means unknown duration. */
  eventDuration: number;
  id: number;
  /** A view of the box payload when read. */
  messageData: Buffer;
}

export function parseEmsg(box: Box): EmsgInfo {
  const r = new ByteReader(box.payload, 'emsg');
  const { version } = r.fullHeader();
  if (version === 0) {
    const schemeIdUri = r.cstring();
    const value = r.cstring();
    const timescale = r.u32();
    const presentationTimeDelta = r.u32();
    const eventDuration = r.u32();
    const id = r.u32();
    return {
      version: 0,
      schemeIdUri,
      value,
      timescale,
      presentationTimeDelta,
      eventDuration,
      id,
      messageData: r.rest(),
    };
  }
  if (version === 1) {
    const timescale = r.u32();
    const presentationTime = r.u64();
    const eventDuration = r.u32();
    const id = r.u32();
    const schemeIdUri = r.cstring();
    const value = r.cstring();
    return { version: 1, schemeIdUri, value, timescale, presentationTime, eventDuration, id, messageData: r.rest() };
  }
  throw new StreamedgeError('BAD_BOX', `emsg version ${version} is not supported (expected 0 or 1)`);
}
