import type { Socket } from 'node:net';

/**
 * Frames on the Unix socket between edge workers and the store process:
 *
 *   u32 BE length of what follows | u8 type | u32 BE fill id | payload
 *
 * Control payloads are UTF-8 JSON; CHUNK payloads are body bytes as they came from upstream.
 */
export const enum Frame {
  /** worker -> store: {key, url}: fetch `url` once for `key` and stream it to me. */
  Fill = 1,
  /** store -> worker: {status, headers, length?}. */
  Head = 2,
  /** store -> worker: body bytes. */
  Chunk = 3,
  /** store -> worker: {stored}: the body is complete; stored = committed to the store. */
  End = 4,
  /** store -> worker: {message}: the fill failed; nothing was stored. */
  Fail = 5,
  /** store -> every worker (id 0): {keys}: committed; a worker refreshes its lmdb snapshot. */
  Committed = 6,
  /** worker -> store: {prefix, mode}. */
  Purge = 7,
  /** store -> the asking worker: {count}, after every worker acknowledged the drop. */
  Purged = 8,
  /** store -> every worker: {prefix}: drop RAM copies under prefix, refresh, then answer DropAck. */
  Drop = 9,
  /** worker -> store: the Drop with this id is applied here. */
  DropAck = 10,
  /** store -> every worker (id 0): {keys, region}: evicted; drop RAM copies, close the region's handle. */
  Evicted = 11,
}

const HEADER = 9;
const MAX_FRAME = 64 * 1024 * 1024;

export function writeFrame(sock: Socket, type: Frame, id: number, payload: Buffer | object): boolean {
  const body = Buffer.isBuffer(payload) ? payload : Buffer.from(JSON.stringify(payload));
  const head = Buffer.allocUnsafe(HEADER);
  head.writeUInt32BE(body.length + 5, 0);
  head.writeUInt8(type, 4);
  head.writeUInt32BE(id, 5);
  sock.cork();
  sock.write(head);
  const ok = sock.write(body);
  sock.uncork();
  return ok;
}

/** Splits a socket's byte stream into frames; calls `onFrame` for each. Throws on a corrupt length. */
export function readFrames(sock: Socket, onFrame: (type: Frame, id: number, payload: Buffer) => void): void {
  let pending: Buffer[] = [];
  let have = 0;
  sock.on('data', (d: Buffer) => {
    pending.push(d);
    have += d.length;
    while (have >= 4) {
      let buf = pending.length === 1 ? pending[0] : Buffer.concat(pending, have);
      pending = [buf];
      const len = buf.readUInt32BE(0);
      if (len < 5 || len > MAX_FRAME) {
        sock.destroy(new Error(`bad frame length ${len}`));
        return;
      }
      if (have < 4 + len) break;
      const type = buf.readUInt8(4) as Frame;
      const id = buf.readUInt32BE(5);
      const payload = buf.subarray(HEADER, 4 + len);
      buf = buf.subarray(4 + len);
      pending = buf.length > 0 ? [buf] : [];
      have = buf.length;
      onFrame(type, id, payload);
    }
  });
}

export function json<T>(payload: Buffer): T {
  return JSON.parse(payload.toString('utf8')) as T;
}
