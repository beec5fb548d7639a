/**
 * The load tester's lean HTTP/1.1 client (bench/loadtest/h1-client.ts) against real sockets on
 * loopback: raw servers that write exactly the bytes a case needs (fragmented heads and chunk
 * lines, trailers, close-delimited bodies, a keep-alive connection closed as it is reused,
 * garbage, silence), and node:http for keep-alive reuse.
 */
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { H1Client } from '../../../bench/loadtest/h1-client.js';
import { get, getAbortingAtFirstChunk, getPausingEachChunk } from './get-outcome.js';

/** A raw TCP server: `answer` gets each connection and the request heads it sends. */
async function rawServer(answer: (socket: Socket, head: string) => void) {
  let connections = 0;
  const server: Server = createServer((socket) => {
    connections++;
    let buf = '';
    socket.on('error', () => undefined);
    socket.on('data', (d) => {
      buf += d.toString('latin1');
      let end;
      while ((end = buf.indexOf('\r\n\r\n')) !== -1) {
        const head = buf.slice(0, end);
        buf = buf.slice(end + 4);
        answer(socket, head);
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    connections: () => connections,
    close: () => new Promise<void>((r) => server.close(() => r())),
    server,
  };
}

/** Writes `text` in pieces of `size` bytes, each on its own turn of the event loop. */
function dribble(socket: Socket, text: string, size: number, then?: () => void): void {
  const b = Buffer.from(text, 'latin1');
  let at = 0;
  const step = () => {
    if (socket.destroyed) return;
    if (at >= b.length) return then?.();
    socket.write(b.subarray(at, at + size));
    at += size;
    setImmediate(step);
  };
  step();
}

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (closers.length > 0) await closers.pop()!();
});

describe('H1Client', () => {
  it('reuses one keep-alive connection for sequential GETs and sends host, path and headers', async () => {
    const seen: { url?: string; host?: string; cmcd?: string | string[] }[] = [];
    const server: HttpServer = createHttpServer((req, res) => {
      seen.push({ url: req.url, host: req.headers.host, cmcd: req.headers['cmcd-session'] });
      res.writeHead(200, { 'content-length': 5 }).end('hello');
    });
    let connections = 0;
    server.on('connection', () => connections++);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    closers.push(() => new Promise<void>((r) => (server.closeAllConnections(), server.close(() => r()))));
    const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const client = new H1Client(4);
    for (let i = 0; i < 3; i++) {
      const r = await get(client, origin, `/a/${i}.m4s?x=1`, { headers: { 'cmcd-session': 'sid="s"' } });
      expect(r).toMatchObject({ status: 200, body: 'hello', contentLength: '5' });
    }
    expect(connections).toBe(1);
    expect(seen.map((s) => s.url)).toEqual(['/a/0.m4s?x=1', '/a/1.m4s?x=1', '/a/2.m4s?x=1']);
    expect(seen[0].host).toBe(new URL(origin).host);
    expect(seen[0].cmcd).toBe('sid="s"');
    await client.destroy();
  });

  it("hands over CMSD-Dynamic (every hop's field line, joined), with or without a Content-Length", async () => {
    const srv = await rawServer((socket, head) => {
      if (head.startsWith('GET /len'))
        socket.write(
          'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nCMSD-Dynamic: "shield";mb=5000\r\ncmsd-dynamic: "edge-a";mb=3000\r\n\r\nok',
        );
      else if (head.startsWith('GET /chunked'))
        socket.write(
          'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nCMSD-Dynamic: "edge-a";du\r\n\r\n2\r\nok\r\n0\r\n\r\n',
        );
      else socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
    });
    closers.push(srv.close);
    const client = new H1Client(1);
    expect(await get(client, srv.origin, '/len')).toMatchObject({
      body: 'ok',
      contentLength: '2',
      cmsd: '"shield";mb=5000, "edge-a";mb=3000',
    });
    expect(await get(client, srv.origin, '/chunked')).toMatchObject({ body: 'ok', cmsd: '"edge-a";du' });
    const plain = await get(client, srv.origin, '/plain');
    expect(plain).toMatchObject({ body: 'ok', contentLength: '2' });
    expect(plain.cmsd).toBeUndefined();
    await client.destroy();
  });

  it('decodes a chunked body whose head, size lines and trailers arrive in 3-byte pieces', async () => {
    const srv = await rawServer((socket) =>
      dribble(
        socket,
        'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: video/mp4\r\n\r\n' +
          '5;ext=1\r\nhello\r\n1\r\n \r\nA\r\n0123456789\r\n0\r\nX-Trailer: 1\r\n\r\n',
        3,
      ),
    );
    closers.push(srv.close);
    const client = new H1Client(4);
    const r = await get(client, srv.origin, '/p.m4s');
    expect(r.error).toBeUndefined();
    expect(r).toMatchObject({ status: 200, body: 'hello 0123456789' });
    expect(r.chunks).toBeGreaterThan(3);
    // the connection is still usable after the trailers
    const again = await get(client, srv.origin, '/p.m4s');
    expect(again.body).toBe('hello 0123456789');
    expect(srv.connections()).toBe(1);
    await client.destroy();
  });

  it('reads a body without length to the close, and opens a new connection after Connection: close', async () => {
    const srv = await rawServer((socket, head) => {
      if (head.includes('/old')) socket.end('HTTP/1.0 200 OK\r\n\r\nuntil the end');
      else socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 4\r\n\r\nnope');
    });
    closers.push(srv.close);
    const client = new H1Client(4);
    expect(await get(client, srv.origin, '/old')).toMatchObject({ status: 200, body: 'until the end' });
    expect(await get(client, srv.origin, '/gone')).toMatchObject({ status: 404, body: 'nope' });
    expect(await get(client, srv.origin, '/gone')).toMatchObject({ status: 404, body: 'nope' });
    expect(srv.connections()).toBe(3);
    await client.destroy();
  });

  it('retries once on a new connection when the server closes a reused keep-alive connection unanswered', async () => {
    let requests = 0;
    const srv = await rawServer((socket) => {
      // the first request is answered and kept alive; the second, on that connection, meets a close
      const n = requests++;
      if (n === 0) socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
      else if (n === 1) socket.destroy();
      else socket.write('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nagain');
    });
    closers.push(srv.close);
    const client = new H1Client(4);
    expect(await get(client, srv.origin, '/1')).toMatchObject({ status: 200, body: 'ok' });
    const r = await get(client, srv.origin, '/2');
    expect(r.error).toBeUndefined();
    expect(r).toMatchObject({ status: 200, body: 'again' });
    expect(srv.connections()).toBe(2);
    await client.destroy();
  });

  it('pauses and resumes delivery (shaping) without losing or reordering bytes', async () => {
    const body = 'x'.repeat(1000) + 'y'.repeat(1000) + 'z'.repeat(1000);
    const srv = await rawServer((socket) =>
      dribble(socket, `HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n${body}`, 700),
    );
    closers.push(srv.close);
    const client = new H1Client(4);
    const { outcome: r, pauses } = await getPausingEachChunk(client, srv.origin, '/s');
    expect(r.error).toBeUndefined();
    expect(r.body).toBe(body);
    expect(pauses).toBe(r.chunks);
    await client.destroy();
  });

  it('an abort mid-body stops the callbacks and drops the connection; the next GET works', async () => {
    let closed = 0;
    const srv = await rawServer((socket, head) => {
      socket.once('close', () => closed++);
      if (head.includes('/long'))
        dribble(socket, 'HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n' + 'a'.repeat(500), 100);
      else socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
    });
    closers.push(srv.close);
    const client = new H1Client(4);
    const aborting = await getAbortingAtFirstChunk(client, srv.origin, '/long');
    expect(aborting.settled).toBe('aborted');
    await new Promise<void>((r) => {
      const wait = () => (closed > 0 ? r() : setImmediate(wait));
      wait();
    });
    expect(aborting.callbacksAfter()).toBe(0);
    expect(await get(client, srv.origin, '/short')).toMatchObject({ status: 200, body: 'ok' });
    await client.destroy();
  });

  it('fails with a coded error on a malformed answer, on silence past the headers timeout, and on a refused connection', async () => {
    const srv = await rawServer((socket, head) => {
      if (head.includes('/garbage')) socket.write('SSH-2.0-OpenSSH\r\n\r\n');
      else if (head.includes('/badchunk')) socket.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n');
      // /silent: never answered
    });
    closers.push(srv.close);
    const client = new H1Client(4);
    expect((await get(client, srv.origin, '/garbage')).error?.code).toBe('HPE_INVALID_CONSTANT');
    expect((await get(client, srv.origin, '/badchunk')).error?.code).toBe('HPE_INVALID_CHUNK_SIZE');
    expect((await get(client, srv.origin, '/silent', { headersTimeout: 50 })).error?.code).toBe(
      'UND_ERR_HEADERS_TIMEOUT',
    );
    await srv.close();
    closers.pop();
    const refused = await get(new H1Client(1), srv.origin, '/x');
    expect(refused.error?.code).toBe('ECONNREFUSED');
    await client.destroy();
  });
});
