/**
 * One write of a prepared Buffer straight to a net.Socket's TCP handle (libuv stream), below the
 * socket's Writable machinery: `handle.writeBuffer(req, data)`, which is what `socket.write` ends
 * in (Node 20's lib/internal/stream_base_commons.js), without the Writable state, write-callback
 * and after-write bookkeeping around it. On an idle loopback socket libuv's try-write puts the
 * whole buffer in the kernel inside that call; only what it could not write is queued in libuv
 * (a write request, completed by `onComplete`).
 *
 * It is only taken when nothing else can be in the way, so byte order on the connection is kept:
 * a plain TCP handle (not TLS, not a pipe), connected, not ending or destroyed, nothing buffered
 * in the Writable (`writableLength === 0`, which also counts a write in flight) and nothing queued
 * in libuv (`handle.writeQueueSize === 0`). Otherwise, or when Node's internals do not look as
 * expected (`process.binding('stream_wrap')`, Node-private), it says 'stream' after writing
 * through `socket.write` instead. A later `socket.write` on the same connection queues behind
 * anything of ours libuv still holds, so the two paths can follow each other freely.
 *
 * Errors: a failed try-write (the peer reset the connection) destroys the socket with the errno
 * error, as `socket.write` would; so does a queued remainder that fails later.
 */
import type { Socket } from 'node:net';
import { getSystemErrorName } from 'node:util';

/** Node's WriteWrap request object (lib/internal/stream_base_commons.js createWriteWrap). */
interface WriteReq {
  handle: TcpHandle;
  oncomplete: (this: WriteReq, status: number) => void;
  async: boolean;
  bytes: number;
  buffer: Buffer | null;
  /** Ours: the socket to destroy if the queued remainder fails. */
  socket: Socket | null;
}

interface TcpHandle {
  writeBuffer(req: WriteReq, data: Buffer): number;
  readonly writeQueueSize: number;
}

interface StreamWrapBinding {
  WriteWrap: new () => WriteReq;
  streamBaseState: Int32Array;
  kLastWriteWasAsync: number;
}

interface Internals {
  WriteWrap: new () => WriteReq;
  state: Int32Array;
  lastWriteWasAsync: number;
  TCP: abstract new () => TcpHandle;
}

type SocketInternals = Socket & { _handle: TcpHandle | null; _unrefTimer?: () => void };

function load(): Internals | undefined {
  try {
    const binding = (process as unknown as { binding?: (name: string) => unknown }).binding;
    if (typeof binding !== 'function') return undefined;
    const sw = binding('stream_wrap') as Partial<StreamWrapBinding>;
    const tcp = binding('tcp_wrap') as { TCP?: abstract new () => TcpHandle };
    if (
      typeof sw.WriteWrap !== 'function' ||
      !(sw.streamBaseState instanceof Int32Array) ||
      typeof sw.kLastWriteWasAsync !== 'number' ||
      typeof tcp.TCP !== 'function' ||
      typeof (tcp.TCP.prototype as Partial<TcpHandle>).writeBuffer !== 'function'
    )
      return undefined;
    return {
      WriteWrap: sw.WriteWrap,
      state: sw.streamBaseState,
      lastWriteWasAsync: sw.kLastWriteWasAsync,
      TCP: tcp.TCP,
    };
  } catch {
    return undefined;
  }
}

const internals = load();

function errnoError(status: number): Error {
  let name: string;
  try {
    name = getSystemErrorName(status);
  } catch {
    name = `errno ${status}`;
  }
  return Object.assign(new Error(`write ${name}`), { code: name, errno: status, syscall: 'write' });
}

/** Completion of a write libuv had to queue: release the buffer; a failure destroys the socket. */
function onComplete(this: WriteReq, status: number): void {
  const socket = this.socket;
  this.buffer = null;
  this.socket = null;
  if (status < 0 && socket !== null && !socket.destroyed) socket.destroy(errnoError(status));
}

/**
 * A request object for the next write: reused while writes complete inside the call (libuv does
 * not take the request then), replaced once one is queued.
 */
let spare: WriteReq | undefined;

/**
 * Writes `data` to `socket`: straight to its TCP handle when that is safe (see the file comment),
 * else through `socket.write`. Says which path it took.
 */
export function rawSocketWrite(socket: Socket, data: Buffer): 'handle' | 'stream' {
  const s = socket as SocketInternals;
  const handle = s._handle;
  if (
    internals === undefined ||
    handle === null ||
    !(handle instanceof internals.TCP) ||
    s.connecting ||
    s.destroyed ||
    s.writableEnded ||
    s.writableLength !== 0 ||
    handle.writeQueueSize !== 0
  ) {
    socket.write(data);
    return 'stream';
  }
  let req = spare;
  if (req === undefined) {
    req = spare = new internals.WriteWrap();
    req.oncomplete = onComplete;
    req.async = false;
    req.bytes = 0;
    req.buffer = null;
    req.socket = null;
  }
  req.handle = handle;
  const err = handle.writeBuffer(req, data);
  if (err !== 0) {
    socket.destroy(errnoError(err));
    return 'handle';
  }
  if (internals.state[internals.lastWriteWasAsync] !== 0) {
    // libuv holds the rest (and this request) until it completes
    req.async = true;
    req.buffer = data;
    req.socket = socket;
    spare = undefined;
  }
  // What socket.write does after a write: the socket's idle timeout restarts.
  s._unrefTimer?.();
  return 'handle';
}
