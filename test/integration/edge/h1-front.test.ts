/**
 * The edge's plain-HTTP/1.1 front (edge/h1-front.ts) on raw sockets against a real edge: fresh
 * RAM hits answered without node:http objects (its 'request' event never fires for them),
 * pipelined hit/miss/hit answered in order with the right bytes, HEAD hits, requests outside the
 * strict subset handed to node:http on the same connection and answered as node:http answers
 * them (request smuggling shapes get exactly the bytes a plain node:http server with the edge's
 * clientError handler gives), Connection: close, the keep-alive idle close, a client gone
 * mid-fill (the handler's response is told 'close'), and a client pipelining without reading.
 */
import { STATUS_CODES, type Server as HttpServer, createServer, type ServerResponse } from 'node:http';
import { connect, type Socket } from 'node:net';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parserErrorStatus } from '../../../edge/request-limits.js';
import { get, recordNodeRequests, startEdge, startUpstream, type TestEdge, type Upstream } from './helpers.js';

let up: Upstream;
let e: TestEdge;
let port: number;
/** Targets of the node:http 'request' events on the edge's port. */
const nodeRequests: string[] = [];
const logLines: Array<Record<string, unknown>> = [];
const logWaiters: Array<() => void> = [];
/** /slow/… upstream answers: their first bytes are out, the rest never comes until released. */
const slowResponses: ServerResponse[] = [];
let reference: HttpServer;
let stopRecording: () => void = () => undefined;
let referencePort: number;

const BIG = 256 * 1024;

beforeAll(async () => {
  up = await startUpstream((req, res) => {
    const url = req.url ?? '/';
    if (req.method === 'POST') {
      req.resume();
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'no-store' });
        res.end(`posted ${url}\n`);
      });
      return;
    }
    if (url.startsWith('/slow/')) {
      res.writeHead(200, { 'content-type': 'video/mp4', 'cache-control': 'max-age=60', 'content-length': '100000' });
      res.write(Buffer.alloc(1000, 1));
      slowResponses.push(res);
      return;
    }
    const body = url.startsWith('/big/') ? Buffer.alloc(BIG, 7) : Buffer.from(`body of ${url}\n`);
    res.writeHead(200, {
      'content-type': 'text/plain',
      'cache-control': 'public, max-age=60',
      'content-length': String(body.length),
    });
    res.end(body);
  });
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString().split('\n')) if (line !== '') logLines.push(JSON.parse(line) as never);
      for (const w of logWaiters.splice(0)) w();
      cb();
    },
  });
  e = await startEdge({ upstream: up.url, name: 'fr', adminToken: 'sekret', logger: pino({ level: 'info' }, sink) });
  port = Number(new URL(e.url).port);
  // every node:http server's 'request' events on the edge's port
  stopRecording = recordNodeRequests(port, nodeRequests);
  // today's answers to heads node:http refuses: a plain node:http server with the edge's clientError handler
  reference = createServer({ requestTimeout: 0, headersTimeout: 30_000, keepAliveTimeout: 5_000 }, (req, res) => {
    req.resume();
    res.end('reference');
  });
  reference.on('clientError', (err: Error & { code?: string; rawPacket?: Buffer }, socket: Socket) => {
    const status = parserErrorStatus(err.code, err.rawPacket);
    if (socket.writable) socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nConnection: close\r\n\r\n`);
    else socket.destroy();
  });
  await new Promise<void>((r) => reference.listen(0, '127.0.0.1', r));
  referencePort = (reference.address() as { port: number }).port;
});

afterAll(async () => {
  stopRecording();
  for (const r of slowResponses) r.destroy();
  await new Promise<void>((r) => reference.close(() => r()));
  await e.close();
  await up.close();
});

interface Response {
  status: number;
  head: string;
  headers: Record<string, string>;
  body: Buffer;
}

/** A raw HTTP/1.1 client connection reading responses one by one (Content-Length framed). */
class Raw {
  private buf = Buffer.alloc(0);
  closed = false;
  private readonly waiters: Array<() => void> = [];
  readonly sock: Socket;

  private constructor(p: number) {
    this.sock = connect(p, '127.0.0.1');
    this.sock.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.wake();
    });
    this.sock.on('close', () => {
      this.closed = true;
      this.wake();
    });
    this.sock.on('error', () => {});
  }

  static async open(p = port): Promise<Raw> {
    const r = new Raw(p);
    await new Promise<void>((res) => r.sock.once('connect', () => res()));
    return r;
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  private async until<T>(f: () => T | undefined): Promise<T> {
    for (;;) {
      const v = f();
      if (v !== undefined) return v;
      if (this.closed) throw new Error(`connection closed; unread: ${this.buf.toString('latin1')}`);
      await new Promise<void>((r) => this.waiters.push(r));
    }
  }

  send(text: string | Buffer): void {
    this.sock.write(text);
  }

  /** The next response (`noBody`: a HEAD's), Content-Length or chunked framed. */
  read(noBody = false): Promise<Response> {
    return this.until(() => {
      const end = this.buf.indexOf('\r\n\r\n');
      if (end === -1) return undefined;
      const head = this.buf.toString('latin1', 0, end);
      const headers: Record<string, string> = {};
      for (const line of head.split('\r\n').slice(1)) {
        const c = line.indexOf(':');
        headers[line.slice(0, c).toLowerCase()] = line.slice(c + 1).trim();
      }
      const status = Number(head.slice(9, 12));
      if (!noBody && headers['transfer-encoding'] === 'chunked') {
        const chunks: Buffer[] = [];
        let at = end + 4;
        for (;;) {
          const eol = this.buf.indexOf('\r\n', at);
          if (eol === -1) return undefined;
          const size = parseInt(this.buf.toString('latin1', at, eol), 16);
          if (this.buf.length < eol + 2 + size + 2) return undefined;
          if (size === 0) {
            this.buf = this.buf.subarray(eol + 4);
            return { status, head, headers, body: Buffer.concat(chunks) };
          }
          chunks.push(this.buf.subarray(eol + 2, eol + 2 + size));
          at = eol + 2 + size + 2;
        }
      }
      const length = noBody ? 0 : Number(headers['content-length'] ?? '0');
      if (this.buf.length < end + 4 + length) return undefined;
      const body = this.buf.subarray(end + 4, end + 4 + length);
      this.buf = this.buf.subarray(end + 4 + length);
      return { status, head, headers, body };
    });
  }

  /** Everything until the peer closes. */
  async rest(): Promise<string> {
    await this.until(() => (this.closed ? true : undefined));
    return this.buf.toString('latin1');
  }

  whenClosed(): Promise<void> {
    return this.until(() => (this.closed ? true : undefined)).then(() => undefined);
  }

  close(): void {
    this.sock.destroy();
  }
}

const req = (path: string, extra = '', method = 'GET'): string =>
  `${method} ${path} HTTP/1.1\r\nHost: edge\r\n${extra}\r\n`;

async function warm(path: string): Promise<void> {
  expect((await get(`${e.url}${path}`)).status).toBe(200);
  expect((await get(`${e.url}${path}`)).headers['cache-status']).toContain('hit');
}

/** Without Date (and the per-answer fields): what two answers must share. */
function stable(text: string): string {
  return text.replace(/\r\n(date|x-request-id|age): [^\r]*/gi, '');
}

describe('the fast path', () => {
  it('answers a fresh RAM hit on the socket, never making node:http objects for it', async () => {
    await warm('/obj/1');
    const before = nodeRequests.length;
    const hitsBefore = e.edge.metrics.tally.hits;
    const c = await Raw.open();
    c.send(req('/obj/1', 'X-Request-ID: front-1\r\n'));
    const r = await c.read();
    expect(r.status).toBe(200);
    expect(r.body.toString()).toBe('body of /obj/1\n');
    expect(r.headers['cache-status']).toBe('fr; hit; ttl=59');
    expect(r.headers['x-request-id']).toBe('front-1');
    expect(r.headers['connection']).toBe('keep-alive');
    expect(r.headers['keep-alive']).toBe('timeout=5');
    expect(r.headers['timing-allow-origin']).toBe('*');
    expect(r.headers['content-length']).toBe(String(r.body.length));
    expect(r.head).toMatch(/\r\ndate: /i);
    expect(nodeRequests.length).toBe(before);
    expect(e.edge.metrics.tally.hits).toBe(hitsBefore + 1);
    // a miss on the same connection goes through node:http's objects and the edge's handler
    c.send(req('/obj/fresh-miss'));
    const m = await c.read();
    expect(m.status).toBe(200);
    expect(m.body.toString()).toBe('body of /obj/fresh-miss\n');
    expect(nodeRequests.slice(before)).toEqual(['/obj/fresh-miss']);
    c.close();
  });

  it('pipelined hit, miss, hit: answered in order with the right bytes', async () => {
    await warm('/obj/2');
    const c = await Raw.open();
    c.send(req('/obj/2') + req('/obj/pipe-miss') + req('/obj/2', 'X-Request-ID: third\r\n'));
    const a = await c.read();
    const b = await c.read();
    const d = await c.read();
    expect([a.status, b.status, d.status]).toEqual([200, 200, 200]);
    expect(a.body.toString()).toBe('body of /obj/2\n');
    expect(a.headers['cache-status']).toContain('hit');
    expect(b.body.toString()).toBe('body of /obj/pipe-miss\n');
    expect(b.headers['cache-status']).toContain('miss');
    expect(d.body.toString()).toBe('body of /obj/2\n');
    expect(d.headers['x-request-id']).toBe('third');
    expect(up.count('/obj/pipe-miss')).toBe(1);
    c.close();
  });

  it('answers a HEAD hit with the head a GET gets and no body, the same fields node:http writes for it', async () => {
    await warm('/obj/3');
    const before = nodeRequests.length;
    const c = await Raw.open();
    c.send(req('/obj/3', '', 'HEAD') + req('/obj/3'));
    const h = await c.read(true);
    const g = await c.read();
    expect(h.status).toBe(200);
    expect(h.body.length).toBe(0);
    expect(h.headers['content-length']).toBe(String(g.body.length));
    expect(stable(h.head)).toBe(stable(g.head));
    expect(nodeRequests.length).toBe(before);
    // the same HEAD on a connection node:http owns (handed over by an HTTP/1.0 request first)
    const n = await Raw.open();
    n.send('GET /obj/3 HTTP/1.0\r\nHost: edge\r\nConnection: keep-alive\r\n\r\n');
    await n.read();
    n.send(req('/obj/3', '', 'HEAD'));
    const viaNode = await n.read(true);
    expect(nodeRequests.slice(before)).toEqual(['/obj/3', '/obj/3']);
    const names = (r: Response): string[] => Object.keys(r.headers).sort();
    expect(names(h)).toEqual(names(viaNode));
    for (const k of ['content-type', 'content-length', 'cache-control', 'etag', 'cache-status', 'connection'])
      expect(h.headers[k]).toBe(viaNode.headers[k]);
    c.close();
    n.close();
  });

  it('Connection: close on a hit: node:http answers with connection: close and the socket closes', async () => {
    await warm('/obj/4');
    const c = await Raw.open();
    c.send(req('/obj/4', 'Connection: close\r\n'));
    const r = await c.read();
    expect(r.body.toString()).toBe('body of /obj/4\n');
    expect(r.headers['connection']).toBe('close');
    await c.whenClosed();
  });

  it('closes a keep-alive connection left idle after an answer (5 s advertised, +1 s as node:http)', async () => {
    await warm('/obj/5');
    const c = await Raw.open();
    c.send(req('/obj/5'));
    await c.read();
    const t0 = Date.now();
    await c.whenClosed();
    const idle = Date.now() - t0;
    expect(idle).toBeGreaterThanOrEqual(4_900);
    expect(idle).toBeLessThan(15_000);
  }, 20_000);
});

describe('slow clients', () => {
  it('a head that stops half-way is dropped after the slow-client timeout, with no answer', async () => {
    const slow = await startEdge({ upstream: up.url, clientTimeoutMs: 300 });
    try {
      const c = await Raw.open(Number(new URL(slow.url).port));
      c.send('GET /obj/1 HTTP/1.1\r\nHo');
      expect(await c.rest()).toBe('');
    } finally {
      await slow.close();
    }
  });
});

describe('request heads not completed in time', () => {
  let timed: TestEdge;
  let timedPort: number;
  beforeAll(async () => {
    timed = await startEdge({ upstream: up.url, clientHeadTimeoutMs: 300, clientTimeoutMs: 20_000 });
    timedPort = Number(new URL(timed.url).port);
  });
  afterAll(() => timed.close());

  it('a head begun and not completed within the client head timeout gets 408 and the connection closes', async () => {
    const c = await Raw.open(timedPort);
    const t0 = Date.now();
    c.send('GET /obj/1 HTTP/1.1\r\nHo');
    const rest = await c.rest();
    expect(rest.startsWith('HTTP/1.1 408 Request Timeout\r\n'), rest).toBe(true);
    // the head timeout answered, not the 20 s slow-client timeout
    expect(Date.now() - t0).toBeLessThan(10_000);
  });

  it('a head node:http took over (trickled in many pieces) gets 408 from node:http with the same timeout', async () => {
    const c = await Raw.open(timedPort);
    c.sock.setNoDelay(true);
    const t0 = Date.now();
    // more reads of one unfinished head than the front parses itself: node:http's parser takes the connection
    for (const piece of ['GET /ob', 'j/1 HT', 'TP/1.1', '\r\nHost', ': x\r\n', 'X-A: 1', '\r\nX-B']) {
      await new Promise<void>((r) => c.sock.write(piece, () => r()));
      await new Promise<void>((r) => setImmediate(r));
    }
    const rest = await c.rest();
    expect(rest.startsWith('HTTP/1.1 408 Request Timeout\r\n'), rest).toBe(true);
    expect(Date.now() - t0).toBeLessThan(10_000);
  });

  it('a head completed within the timeout, over two reads, is answered', async () => {
    await get(`${timed.url}/obj/2`);
    const c = await Raw.open(timedPort);
    c.send('GET /obj/2 HTTP/1.1\r\nHo');
    await new Promise<void>((r) => setImmediate(r));
    c.send('st: x\r\n\r\n');
    const r = await c.read();
    expect(r.status).toBe(200);
    expect(r.body.toString()).toBe('body of /obj/2\n');
    c.close();
  });
});

describe('heads in pieces', () => {
  it('a head sent a few bytes at a time is answered (node:http takes it after a few pieces)', async () => {
    await warm('/obj/8');
    const c = await Raw.open();
    c.sock.setNoDelay(true);
    const text = req('/obj/8', 'X-Request-ID: pieces\r\n');
    for (let i = 0; i < text.length; i += 6) {
      await new Promise<void>((r) => c.sock.write(text.slice(i, i + 6), () => r()));
      await new Promise<void>((r) => setImmediate(r));
    }
    const r = await c.read();
    expect(r.status).toBe(200);
    expect(r.body.toString()).toBe('body of /obj/8\n');
    expect(r.headers['x-request-id']).toBe('pieces');
    c.close();
  });
});

describe('requests outside the subset are handed to node:http on the same connection', () => {
  it('a POST and a PURGE after hits are answered as node:http answers them; node:http keeps the connection', async () => {
    await warm('/obj/6');
    const before = nodeRequests.length;
    const c = await Raw.open();
    c.send(req('/obj/6') + 'POST /form HTTP/1.1\r\nHost: edge\r\nContent-Length: 5\r\n\r\nhello');
    const hit = await c.read();
    expect(hit.headers['cache-status']).toContain('hit');
    const posted = await c.read();
    expect(posted.status).toBe(200);
    expect(posted.body.toString()).toBe('posted /form\n');
    c.send(req('/obj/6', '', 'PURGE'));
    const refused = await c.read();
    expect(refused.status).toBe(401);
    c.send(req('/obj/6', 'Authorization: Bearer sekret\r\n', 'PURGE'));
    const purged = await c.read();
    expect(purged.status).toBe(200);
    // the connection is node:http's now: even a GET goes through its 'request'
    c.send(req('/obj/6'));
    const again = await c.read();
    expect(again.headers['cache-status']).toContain('miss');
    expect(nodeRequests.slice(before)).toEqual(['/form', '/obj/6', '/obj/6', '/obj/6']);
    c.close();
  });

  /** Request smuggling and malformed shapes: node:http's parser refuses them all. */
  const shapes: Array<[string, string]> = [
    ['CL + TE', 'POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nG'],
    ['duplicate Content-Length', 'POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 5\r\n\r\nabcde'],
    ['bare LF', 'GET /obj/7 HTTP/1.1\nHost: x\n\n'],
    ['obs-fold', 'GET /obj/7 HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n'],
    ['space before colon', 'GET /obj/7 HTTP/1.1\r\nHost : x\r\n\r\n'],
    ['TE not ending in chunked', 'POST /p HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n'],
    ['bad method', 'G@T /obj/7 HTTP/1.1\r\nHost: x\r\n\r\n'],
    ['no Host', 'GET /obj/7 HTTP/1.1\r\nX: y\r\n\r\n'],
    ['header fields over 16 KiB', `GET /obj/7 HTTP/1.1\r\nHost: x\r\nX: ${'a'.repeat(17 * 1024)}\r\n\r\n`],
    ['request line over 16 KiB', `GET /${'a'.repeat(17 * 1024)} HTTP/1.1\r\nHost: x\r\n\r\n`],
  ];

  async function answer(p: number, first: string | undefined, text: string): Promise<string> {
    const c = await Raw.open(p);
    if (first !== undefined) {
      c.send(first);
      await c.read();
    }
    c.send(text);
    return stable(await c.rest());
  }

  for (const [name, text] of shapes) {
    it(`${name}: the same answer as node:http gives today, first on a connection or after a hit`, async () => {
      await warm('/obj/7');
      const today = await answer(referencePort, req('/obj/7'), text);
      expect(today).toMatch(/^HTTP\/1\.1 4\d\d /);
      expect(today).not.toContain('reference');
      expect(await answer(port, undefined, text)).toBe(today);
      expect(await answer(port, req('/obj/7'), text)).toBe(today);
    });
  }
});

describe('answers in flight', () => {
  it('a client gone mid-fill: the handler sees its response close; the fill carries on for the others', async () => {
    const c = await Raw.open();
    c.send(req('/slow/a'));
    const first = await new Promise<Buffer>((r) => c.sock.once('data', r));
    expect(first.toString('latin1')).toMatch(/^HTTP\/1\.1 200 /);
    const logged = new Promise<Record<string, unknown>>((resolve) => {
      const look = (): void => {
        const l = logLines.find((x) => x['url'] === '/slow/a');
        if (l) resolve(l);
        else logWaiters.push(look);
      };
      look();
    });
    c.close();
    expect(await logged).toMatchObject({ url: '/slow/a', aborted: true });
    // the upstream answer is still being read: finish it, and the object is then a hit
    slowResponses[0].end(Buffer.alloc(99000, 2));
    await e.edge.whenIdle();
    const r = await get(`${e.url}/slow/a`);
    expect(r.status).toBe(200);
    expect(r.headers['cache-status']).toContain('hit');
  });

  it('a client pipelining without reading: answering stops at the write buffer, then all arrive in order', async () => {
    await warm('/big/1');
    const n = 200;
    const c = await Raw.open();
    c.sock.pause();
    const hitsBefore = e.edge.metrics.tally.hits;
    let all = '';
    for (let i = 0; i < n; i++) all += req('/big/1', `X-Request-ID: p${i}\r\n`);
    await new Promise<void>((r) => c.sock.write(all, () => r()));
    // let the edge answer what it will: it stops once the socket's buffers are full
    let last = -1;
    while (e.edge.metrics.tally.hits !== last) {
      last = e.edge.metrics.tally.hits;
      await new Promise<void>((r) => setTimeout(r, 100));
    }
    expect(last - hitsBefore).toBeLessThan(n / 2);
    c.sock.resume();
    for (let i = 0; i < n; i++) {
      const r = await c.read();
      expect(r.headers['x-request-id']).toBe(`p${i}`);
      expect(r.body.length).toBe(BIG);
    }
    c.close();
  });
});
