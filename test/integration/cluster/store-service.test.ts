import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { StoreService, type FetchUpstream } from '../../../edge/cluster/store-service.js';
import { crc32c } from '../../../edge/store/crc32c.js';
import { LogStore } from '../../../edge/store/index.js';
import { bodyFor, tempDir } from '../store/store-helpers.js';

/**
 * The store process and worker processes of the multi-worker edge, through real processes, a real
 * Unix socket, a real lmdb store and a real origin on loopback: one upstream fill per key whatever
 * the number of workers and waiters, a worker SIGKILLed mid-fill, purge reaching every worker.
 */
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const WORKER = fileURLToPath(new URL('./worker-child.ts', import.meta.url));
const MiB = 1024 * 1024;
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Waits (event-loop turns, bounded) until `cond` holds. */
async function until(cond: () => boolean, what: string, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

interface Origin {
  url: string;
  hits: Map<string, number>;
  /** Bodies are sent in two halves; the second half waits for release(). */
  release(): void;
}

async function startOrigin(body: Buffer): Promise<Origin> {
  const hits = new Map<string, number>();
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  const server: Server = createServer((req, res) => {
    hits.set(req.url!, (hits.get(req.url!) ?? 0) + 1);
    res.writeHead(200, { 'content-type': 'video/mp4', 'content-length': String(body.length) });
    res.write(body.subarray(0, body.length >> 1));
    void released.then(() => res.end(body.subarray(body.length >> 1)));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
  cleanups.push(() => server.closeAllConnections());
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, hits, release };
}

const fetchUpstream: FetchUpstream = async (_key, url) => {
  const res = await fetch(url);
  const headers: Record<string, string> = {};
  res.headers.forEach((v, k) => (headers[k] = v));
  const length = Number(res.headers.get('content-length'));
  const now = Date.now();
  return {
    status: res.status,
    headers,
    length,
    meta: { status: res.status, headers, storedAt: now, expiresAt: now + 60_000, tags: [] },
    body: res.body as unknown as AsyncIterable<Uint8Array>,
  };
};

interface Worker {
  proc: ChildProcessWithoutNullStreams;
  send(line: string): void;
  next(): Promise<string>;
  ask(line: string): Promise<string>;
}

async function startWorker(sock: string, dir: string): Promise<Worker> {
  const proc = spawn(process.execPath, ['bin/run-ts.js', WORKER, sock, dir], {
    cwd: ROOT,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = once(proc, 'exit');
  cleanups.push(async () => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    await exited;
  });
  const lines: string[] = [];
  const waiting: ((l: string) => void)[] = [];
  createInterface({ input: proc.stdout }).on('line', (l) => {
    const w = waiting.shift();
    if (w) w(l);
    else lines.push(l);
  });
  const next = (): Promise<string> =>
    new Promise((resolve, reject) => {
      const l = lines.shift();
      if (l !== undefined) return resolve(l);
      waiting.push(resolve);
      void exited.then(() => reject(new Error(`worker exited: ${stderr.slice(-1500)}`)));
    });
  expect(await next()).toBe('ready');
  const send = (line: string): void => {
    proc.stdin.write(line + '\n');
  };
  return { proc, send, next, ask: (l) => (send(l), next()) };
}

async function cluster(workers: number, body: Buffer, size = { capacityBytes: 64 * MiB, regionBytes: 8 * MiB }) {
  const t = tempDir('cluster-');
  cleanups.push(t.cleanup);
  const store = await LogStore.open({ dir: join(t.dir, 'store'), ...size });
  cleanups.push(() => store.close());
  const sock = join(t.dir, 'store.sock');
  const svc = await StoreService.listen(sock, store, fetchUpstream);
  cleanups.push(() => svc.close());
  const origin = await startOrigin(body);
  const ws = await Promise.all(Array.from({ length: workers }, () => startWorker(sock, join(t.dir, 'store'))));
  return { store, svc, origin, ws };
}

describe('multi-worker edge: store process and workers', () => {
  it('one upstream fill per key with waiters spread over three workers; then every worker hits locally', async () => {
    const body = bodyFor('/vod/a/seg-1.m4s', 2 * MiB);
    const { svc, origin, ws } = await cluster(3, body);
    const url = `${origin.url}/vod/a/seg-1.m4s`;
    for (const w of ws) w.send(`fill /vod/a/seg-1.m4s ${url} 5`);
    for (const w of ws) expect(await w.next()).toBe('started');
    await until(() => svc.counters.fills + svc.counters.joined === 3, 'all three workers to ask');
    origin.release();
    const want = `filled 5 ${body.length} ${crc32c(body)} true`;
    for (const w of ws) expect(await w.next()).toBe(want);
    expect(origin.hits.get('/vod/a/seg-1.m4s')).toBe(1);
    expect(svc.counters).toMatchObject({ fills: 1, joined: 2, stored: 1, failed: 0 });
    for (const w of ws) expect(await w.ask('get /vod/a/seg-1.m4s')).toBe(`hit ${body.length} ${crc32c(body)}`);
  });

  it('a worker SIGKILLed mid-fill loses only its own waiters: the fill completes, is stored and reaches the others', async () => {
    const body = bodyFor('/vod/b/seg-9.m4s', MiB);
    const { svc, origin, ws } = await cluster(3, body);
    const [a, b, c] = ws;
    const url = `${origin.url}/vod/b/seg-9.m4s`;
    a.send(`fill /vod/b/seg-9.m4s ${url} 3`);
    b.send(`fill /vod/b/seg-9.m4s ${url} 3`);
    expect(await a.next()).toBe('started');
    expect(await b.next()).toBe('started');
    const gone = once(a.proc, 'exit');
    a.proc.kill('SIGKILL');
    await gone;
    await until(() => svc.counters.readerChecks === 1, 'the store process to notice the dead worker');
    origin.release();
    expect(await b.next()).toBe(`filled 3 ${body.length} ${crc32c(body)} true`);
    expect(origin.hits.get('/vod/b/seg-9.m4s')).toBe(1);
    expect(svc.counters.stored).toBe(1);
    expect(await c.ask('get /vod/b/seg-9.m4s')).toBe(`hit ${body.length} ${crc32c(body)}`);
  });

  it('a purge from one worker reaches every worker (RAM copies dropped, snapshot refreshed) before it is acknowledged', async () => {
    const body = bodyFor('/vod/c/seg-2.m4s', 256 * 1024);
    const { origin, ws } = await cluster(3, body);
    origin.release();
    const url = `${origin.url}/vod/c/seg-2.m4s`;
    ws[0].send(`fill /vod/c/seg-2.m4s ${url} 1`);
    expect(await ws[0].next()).toBe('started');
    expect(await ws[0].next()).toBe(`filled 1 ${body.length} ${crc32c(body)} true`);
    // every worker now holds it (the second get is a RAM hit in that worker)
    for (const w of ws) for (let i = 0; i < 2; i++) expect(await w.ask('get /vod/c/seg-2.m4s')).toMatch(/^hit /);
    expect(await ws[1].ask('purge /vod/c/')).toBe('purged 1');
    for (const w of ws) expect(await w.ask('get /vod/c/seg-2.m4s')).toBe('miss');
  });

  it('an eviction reaches every worker: RAM copies of the dropped keys go and the region file handle is closed', async () => {
    const body = bodyFor('/vod/d/seg-0.m4s', 100 * 1024);
    const { store, origin, ws } = await cluster(2, body, { capacityBytes: 1024 * 1024, regionBytes: 256 * 1024 });
    origin.release();
    ws[0].send(`fill /vod/d/seg-0.m4s ${origin.url}/vod/d/seg-0.m4s 1`);
    expect(await ws[0].next()).toBe('started');
    expect(await ws[0].next()).toBe(`filled 1 ${body.length} ${crc32c(body)} true`);
    for (const w of ws) {
      for (let i = 0; i < 2; i++) expect(await w.ask('get /vod/d/seg-0.m4s')).toMatch(/^hit /); // disk, then RAM
      expect(await w.ask('regions')).toBe('regions 1');
    }
    // the store process keeps writing until the region holding seg-0 is evicted
    const filler = Buffer.alloc(100 * 1024, 7);
    for (let i = 0; store.stats().evictedRegions === 0; i++) {
      expect(i).toBeLessThan(100);
      await store.put(`/vod/e/seg-${i}.m4s`, { status: 200, headers: {}, storedAt: 0, expiresAt: 0, tags: [] }, filler);
    }
    for (const w of ws) {
      expect(await w.ask('purge /vod/none/')).toBe('purged 0'); // a round trip on the socket: Evicted came first
      expect(await w.ask('get /vod/d/seg-0.m4s')).toBe('miss');
      expect(await w.ask('regions')).toBe('regions 0');
    }
  });
});
