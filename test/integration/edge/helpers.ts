/** Test helpers for the edge suites: a scriptable upstream on loopback and a small client. */
import { cacheKey } from '../../../src/http/cache-key.js';
import { EventEmitter } from 'node:events';
import { createSecureServer } from 'node:http2';
import { createServer, Server as HttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect, type Socket } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { Agent, request } from 'undici';
import { createEdge, type Edge, type EdgeServerOptions } from '../../../edge/server.js';

export interface Upstream {
  url: string;
  /** Requests seen, by path+query. */
  counts: Map<string, number>;
  /** Every request's headers, in order. */
  seen: Array<{ url: string; headers: IncomingMessage['headers'] }>;
  total(): number;
  count(url: string): number;
  close(): Promise<void>;
}

export async function startUpstream(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<Upstream> {
  const counts = new Map<string, number>();
  const seen: Upstream['seen'] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((req, res) => {
    const u = req.url ?? '/';
    counts.set(u, (counts.get(u) ?? 0) + 1);
    seen.push({ url: u, headers: req.headers });
    handler(req, res);
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    counts,
    seen,
    total: () => [...counts.values()].reduce((a, b) => a + b, 0),
    count: (url) => counts.get(url) ?? 0,
    close: async () => {
      const closed = new Promise<void>((r) => server.close(() => r()));
      for (const s of sockets) s.destroy();
      await closed;
    },
  };
}

export interface TestEdge {
  edge: Edge;
  url: string;
  dir: string;
  close(): Promise<void>;
}

export async function startEdge(
  opts: Omit<EdgeServerOptions, 'store'> & { storeDir?: string; regionBytes?: number; port?: number },
): Promise<TestEdge> {
  const dir = opts.storeDir ?? mkdtempSync(join(tmpdir(), 'edge-test-'));
  const edge = createEdge({
    logLevel: 'silent',
    ...opts,
    store: {
      dir,
      capacityBytes: 256 * 1024 * 1024,
      regionBytes: opts.regionBytes ?? 16 * 1024 * 1024,
      ramBytes: 32 * 1024 * 1024,
    },
  });
  const url = await edge.listen(opts.port ?? 0, '127.0.0.1');
  return {
    edge,
    url,
    dir,
    close: async () => {
      await edge.close();
      if (!opts.storeDir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

export const client = new Agent({ connections: 2048, pipelining: 0, keepAliveTimeout: 1000 });

export interface Got {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

export async function get(url: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Got> {
  const res = await request(url, { method: method as 'GET', headers, dispatcher: client });
  const body = Buffer.from(await res.body.arrayBuffer());
  const h: Record<string, string> = {};
  for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) h[k] = Array.isArray(v) ? v.join(', ') : v;
  return { status: res.statusCode, headers: h, body };
}

/** `path` asked of the edge twice, the edge idle (its fill stored) after each: the first and the second answer. */
export async function getTwice(
  e: TestEdge,
  path: string,
  headers: Record<string, string> = {},
): Promise<{ a: Got; b: Got }> {
  const a = await get(`${e.url}${path}`, headers);
  await e.edge.whenIdle();
  const b = await get(`${e.url}${path}`, headers);
  await e.edge.whenIdle();
  return { a, b };
}

/** The store key the edge uses (default rules) for `path` when the response has no Vary. */
export function storedKey(path: string): string {
  return cacheKey(path, {}, { queryParams: 'all', headers: [] });
}

/**
 * Records the target of every node:http 'request' event on `port` (any http.Server of this
 * process: the edge's handler runs on one), so a test can tell the edge's one-write hit path (no
 * such event) from the full lookup. Returns the function that stops recording.
 */
export function recordNodeRequests(port: number, into: string[]): () => void {
  HttpServer.prototype.emit = function (this: HttpServer, event: string | symbol, ...args: unknown[]): boolean {
    if (event === 'request') {
      const req = args[0] as IncomingMessage;
      if (req.socket.localPort === port) into.push(req.url ?? '');
    }
    return EventEmitter.prototype.emit.call(this, event, ...args);
  } as HttpServer['emit'];
  // the patch is an own property: deleting it restores the inherited EventEmitter emit
  return () => delete (HttpServer.prototype as Partial<HttpServer>).emit;
}

/** A pino logger at level info whose lines are parsed into `into` (access-log assertions). */
export function jsonLogger(into: Array<Record<string, unknown>>): pino.Logger {
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString().split('\n')) if (line !== '') into.push(JSON.parse(line) as never);
      cb();
    },
  });
  return pino({ level: 'info' }, sink);
}

/**
 * Counts the requests node:http2's compatibility layer hands to any HTTP/2 server's 'request'
 * event in this process (each made an Http2ServerRequest/Response), so a test can tell the edge's
 * stream-first hits from the rest. Returns the count's reader and the function that stops it.
 */
export function countH2CompatRequests(): { count: () => number; stop: () => void } {
  const proto = Object.getPrototypeOf(createSecureServer()) as EventEmitter;
  let n = 0;
  proto.emit = function (this: EventEmitter, event: string | symbol, ...args: unknown[]): boolean {
    if (event === 'request' && (args[0] as IncomingMessage).httpVersionMajor === 2) n++;
    return EventEmitter.prototype.emit.call(this, event, ...args);
  };
  // the patch is an own property: deleting it restores the inherited emit
  return { count: () => n, stop: () => delete (proto as Partial<EventEmitter>).emit };
}

/** Writes `raw` to the edge at `baseUrl` on one connection; resolves with all it reads until `until` matches or it closes. */
export function exchangeRaw(
  baseUrl: string,
  raw: string,
  until: (text: string) => boolean,
): Promise<{ text: string; closed: boolean }> {
  const { port } = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const sock = connect(Number(port), '127.0.0.1');
    let text = '';
    let done = false;
    const finish = (closed: boolean): void => {
      if (done) return;
      done = true;
      sock.destroy();
      resolve({ text, closed });
    };
    sock.setEncoding('latin1');
    sock.on('data', (d: string) => {
      text += d;
      if (until(text)) finish(false);
    });
    sock.on('end', () => finish(true));
    sock.on('error', reject);
    sock.write(raw);
  });
}
