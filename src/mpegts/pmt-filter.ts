/**
 * A PMT packet without some of its streams: what a feed's relay gives an encoder, so the encoder
 * never sees the data streams the relay keeps from it (ffmpeg waits seconds for a listed stream
 * whose packets never come before it starts encoding).
 */
import { sealSection } from './psi-section.js';
import { TS_PACKET } from './ts-reader.js';

/**
 * `packet` (one starting a PMT section that fits in it) with the elementary streams whose PID
 * `drop` names left out and its CRC rewritten; the packet itself when nothing is dropped or its
 * section does not fit in it.
 */
export function pmtPacketWithout(packet: Buffer, drop: (pid: number) => boolean): Buffer {
  const afc = (packet[3] >> 4) & 3;
  const payload = afc === 3 ? 5 + packet[4] : 4;
  const at = payload + 1 + packet[payload];
  if (at + 12 > TS_PACKET || packet[at] !== 0x02) return packet;
  const total = 3 + (((packet[at + 1] & 0x0f) << 8) | packet[at + 2]);
  if (at + total > TS_PACKET) return packet;
  const s = packet.subarray(at, at + total);
  const infoLength = ((s[10] & 0x0f) << 8) | s[11];
  const kept: Buffer[] = [];
  let dropped = false;
  for (let i = 12 + infoLength; i + 5 <= s.length - 4;) {
    const length = 5 + (((s[i + 3] & 0x0f) << 8) | s[i + 4]);
    if (drop(((s[i + 1] & 0x1f) << 8) | s[i + 2])) dropped = true;
    else kept.push(s.subarray(i, i + length));
    i += length;
  }
  if (!dropped) return packet;
  const section = sealSection(Buffer.concat([s.subarray(0, 12 + infoLength), ...kept]));
  const out = Buffer.alloc(TS_PACKET, 0xff);
  packet.copy(out, 0, 0, at);
  section.copy(out, at);
  return out;
}
