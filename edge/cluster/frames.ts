import type { Socket } from 'node:net';

/**
 * Frames on the Unix socket between edge workers and the store process (edge/store/README.md
 * draws the exchange):
 *
 *   u32 BE length of what follows | u8 type | u32 BE fill id | payload
 *
 * Control payloads are UTF-8 JSON; CHUNK payloads are body bytes as they came from upstream.
 */
export const enum Frame {
  /**
   * worker -> store: {key, dedupe, target, headers, fromPeer, seen}: fetch once per (key, dedupe), stream
   * it to me. Answered Fail `FILL_STORED` instead when the key was committed after the Committed `seen`.
   */
  Fetch = 1,
  /** store -> worker: {status, headers, viaPeer?}. */
  Head = 2,
  /** store -> worker: body bytes. */
  Chunk = 3,
  /** store -> worker: {}: the body is complete. */
  End = 4,
  /** store -> worker: {message, code?}: the fetch or call failed (or `FILL_STORED`: look the key up again). */
  Fail = 5,
  /** store -> every worker (id 0): {keys, prefixes?, tags?, seq}: committed; a worker drops RAM copies and refreshes its snapshot. */
  Committed = 6,
  /** worker -> store: {fetch, key, meta}: store the bytes of my fetch `fetch` under key (once per fetch and key). */
  Commit = 7,
  /** store -> worker: {value}: the answer to a Commit, Call, DropAll or Metrics with this id. */
  Reply = 8,
  /** store -> every worker: {specs}: apply these purges locally (RAM copies, fills in flight), then DropAck. */
  Drop = 9,
  /** worker -> store: the Drop with this id is applied here. */
  DropAck = 10,
  /**
   * store -> every worker: {keys, region}: evicted; drop RAM copies, close the region's handle, then
   * EvictedAck with the same id (the store process unlinks the region file once every live worker acked).
   */
  Evicted = 11,
  /** worker -> store: {}: stop streaming the fetch with this id to me (its waiters left). */
  Cancel = 12,
  /** worker -> store: {op, args, body?}: one store operation (put, updateMeta, delete, purge...). */
  Call = 13,
  /** worker -> store: {specs}: broadcast Drop to every worker; Reply once all acknowledged. */
  DropAll = 14,
  /** worker -> store: {}: Reply with the Prometheus text of every worker and the store process. */
  Metrics = 15,
  /** store -> worker: {}: answer with MetricsJson (same id). */
  Collect = 16,
  /** worker -> store: {metrics}: this worker's prom-client JSON for a Collect. */
  MetricsJson = 17,
  /** store -> every worker (id 0): {stats, seq}: the store's StoreStats and last Committed seq (every second, and on connect). */
  Stats = 18,
  /** store -> worker: {status, headers}: a 1xx interim response (103 Early Hints) of the fetch with this id. */
  Info = 19,
  /**
   * worker -> store (id 0): {keys, counts}: hits this worker served since its last report (each count
   * capped at the sketch's counter maximum); the store process adds them to its W-TinyLFU sketch.
   */
  HitCounts = 20,
  /** worker -> store: the Evicted with this id is applied here (RAM copies gone, region handle closed). */
  EvictedAck = 21,
  /**
   * worker -> store: {sessions}: this worker's CMCD session activity since its last report
   * (edge/cmcd-sessions.ts): every second with id 0, before each MetricsJson, and as the answer
   * (same id) to a FlushCmcd.
   */
  CmcdSessions = 22,
  /** worker -> store: {limit, starvedOnly?, sid?}: Reply with /_edge/cmcd/sessions once every worker reported. */
  CmcdView = 23,
  /** store -> every worker: {}: answer with CmcdSessions (same id). */
  FlushCmcd = 24,
}

/** The Fail code answering a Fetch whose key was committed after the asker looked it up: look again. */
export const FILL_STORED = 'FILL_STORED';

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

/** Splits a socket's byte stream into frames; calls `onFrame` for each. A corrupt frame destroys the socket. */
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
      try {
        onFrame(type, id, payload);
      } catch (e) {
        // a frame the other side should never have sent (bad JSON, unknown shape): drop the link
        sock.destroy(e instanceof Error ? e : new Error(String(e)));
        return;
      }
    }
  });
}

export function json<T>(payload: Buffer): T {
  return JSON.parse(payload.toString('utf8')) as T;
}
