import { afterEach, describe, expect, it, vi } from 'vitest';
import { createServer, connect, Socket, type Server } from 'node:net';
import { rawSocketWrite } from '../../../src/http/raw-socket-write.js';

/** A loopback TCP pair: `ours` is the server side we write on, `peer` the client reading it. */
async function pair(): Promise<{ ours: Socket; peer: Socket; server: Server }> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const accepted = new Promise<Socket>((r) => server.once('connection', r));
  const peer = connect((server.address() as { port: number }).port, '127.0.0.1');
  const ours = await accepted;
  await new Promise<void>((r) => (peer.connecting ? peer.once('connect', () => r()) : r()));
  return { ours, peer, server };
}

/** Everything `peer` receives until it has `n` bytes. */
function receive(peer: Socket, n: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let got = 0;
    peer.on('data', (c: Buffer) => {
      chunks.push(c);
      got += c.length;
      if (got >= n) resolve(Buffer.concat(chunks));
    });
    peer.once('error', reject);
  });
}

let open: { ours: Socket; peer: Socket; server: Server } | undefined;
afterEach(async () => {
  vi.restoreAllMocks();
  if (!open) return;
  open.ours.destroy();
  open.peer.destroy();
  await new Promise<void>((r) => open!.server.close(() => r()));
  open = undefined;
});

describe('rawSocketWrite', () => {
  it('writes an idle TCP socket through its handle, not socket.write, and the peer gets the bytes', async () => {
    open = await pair();
    const data = Buffer.from('HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello');
    const streamWrite = vi.spyOn(Socket.prototype, 'write');
    const got = receive(open.peer, data.length);
    expect(rawSocketWrite(open.ours, data)).toBe('handle');
    expect(streamWrite).not.toHaveBeenCalled();
    expect((await got).equals(data)).toBe(true);
    expect(open.ours.bytesWritten).toBe(data.length);
  });

  it('goes through socket.write when the Writable holds data, so the bytes stay in order', async () => {
    open = await pair();
    const got = receive(open.peer, 10);
    open.ours.cork();
    open.ours.write('first');
    expect(open.ours.writableLength).toBe(5);
    expect(rawSocketWrite(open.ours, Buffer.from('after'))).toBe('stream');
    open.ours.uncork();
    expect((await got).toString()).toBe('firstafter');
  });

  it('a write libuv cannot finish at once is queued there; the next write waits behind it and nothing is lost', async () => {
    open = await pair();
    open.peer.pause(); // nothing is read: the kernel buffers fill and libuv queues the rest
    const big = Buffer.alloc(32 * 1024 * 1024);
    for (let i = 0; i < big.length; i += 4096) big.writeUInt32BE(i, i);
    expect(rawSocketWrite(open.ours, big)).toBe('handle');
    const handle = (open.ours as unknown as { _handle: { writeQueueSize: number } })._handle;
    expect(handle.writeQueueSize).toBeGreaterThan(0);
    const tail = Buffer.from('tail');
    expect(rawSocketWrite(open.ours, tail)).toBe('stream');
    const got = receive(open.peer, big.length + tail.length);
    open.peer.resume();
    const all = await got;
    expect(all.length).toBe(big.length + tail.length);
    expect(all.subarray(0, big.length).equals(big)).toBe(true);
    expect(all.subarray(big.length).toString()).toBe('tail');
  });

  it('falls back to socket.write on a socket that is ending (and that write errors as socket.write does)', async () => {
    open = await pair();
    open.ours.end();
    const errors: Error[] = [];
    open.ours.on('error', (e) => errors.push(e));
    expect(rawSocketWrite(open.ours, Buffer.from('late'))).toBe('stream');
    await new Promise<void>((r) => open!.ours.once('close', () => r()));
    expect(errors.map((e) => (e as NodeJS.ErrnoException).code)).toContain('ERR_STREAM_WRITE_AFTER_END');
  });
});
