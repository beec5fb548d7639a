/**
 * How a fill's bytes reach its waiters (edge/fill.ts, edge/serve-fill.ts): readers already
 * streaming are woken once per event-loop turn with everything that arrived in it, readers still
 * waiting for their first bytes as soon as they arrive, and a waiter that joins a fill with
 * several chunks already there sends the head and the first chunk in one socket write in its own
 * turn, then catches up on a later turn (one more write), so the other requests read in its turn
 * get their first bytes before anyone's catch-up. A turn in which readers got their first bytes
 * puts the bulk (more bytes to readers already served, catch-ups) off to the next turn, a bounded
 * number of turns in a row. A bulk round runs in slices of a few ms, the event loop serving what
 * arrived between them (every reader once per round, in order; one that left is not run).
 */
import { type IncomingMessage, type Server, type ServerResponse, createServer, request } from 'node:http';
import type { Socket } from 'node:net';
import { PassThrough, Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_CACHE_KEY_POLICY } from '../../../src/http/cache-key.js';
import { Fill, type FillHead } from '../../../edge/fill.js';
import { pumpFill, serveFill } from '../../../edge/serve-fill.js';
import type { EdgeStore } from '../../../edge/store/index.js';

type ResponseHead = Extract<FillHead, { kind: 'response' }>;

/** A fill (nothing stored) whose upstream body yields `chunks` (all within one event-loop turn), or is `chunks`. */
function fillOf(chunks: Buffer[] | Readable): Fill {
  return new Fill({
    key: '/k',
    primaryKey: '/k',
    variantKeyFor: () => '/k',
    store: {} as EdgeStore, // storeIt false: never used
    policy: { keyPolicy: DEFAULT_CACHE_KEY_POLICY, negativeTtl: 0, keepForRevalidation: 0 },
    reqHeaders: {},
    storeIt: false,
    retainBytes: 64 * 1024 * 1024,
    storeQueueBytes: 8 * 1024 * 1024,
    fetch: () =>
      Promise.resolve({
        status: 200,
        headers: { 'content-type': 'video/mp4', 'cache-control': 'public, max-age=60' }, // no length: streamed
        body: Array.isArray(chunks) ? Readable.from(chunks) : chunks,
      }),
  }).start();
}

const bytes = (n: number, v: number) => Buffer.alloc(n, v);

let server: Server | undefined;
afterEach(async () => {
  server?.closeAllConnections(); // a failed test may leave a response open
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  server = undefined;
});

/** One write a response's socket handed to the kernel (a corked pass is one writev). */
interface SocketWrite {
  name: string;
  bytes: number;
}

/**
 * A server on `server` that holds each request's response (keyed by its path without the slash)
 * and records every socket write, in order; `all` resolves once `count` requests are held.
 */
async function recordingServer(count: number) {
  const writes: SocketWrite[] = [];
  const held = new Map<string, { req: IncomingMessage; res: ServerResponse }>();
  let allHeld!: () => void;
  const all = new Promise<void>((r) => (allHeld = r));
  server = createServer((req, res) => {
    const name = req.url!.slice(1);
    const sock = res.socket as Socket & {
      _writev(chunks: { chunk: Buffer | string }[], cb: (e?: Error) => void): void;
      _write(chunk: Buffer | string, enc: BufferEncoding, cb: (e?: Error) => void): void;
    };
    const writev = sock._writev.bind(sock);
    const write = sock._write.bind(sock);
    sock._writev = (cs, cb) => {
      writes.push({ name, bytes: cs.reduce((n, c) => n + Buffer.byteLength(c.chunk), 0) });
      writev(cs, cb);
    };
    sock._write = (c, enc, cb) => {
      writes.push({ name, bytes: Buffer.byteLength(c) });
      write(c, enc, cb);
    };
    held.set(name, { req, res });
    if (held.size === count) allHeld();
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as { port: number }).port;
  const get = (path: string) =>
    new Promise<{ status: number; body: Buffer }>((resolve, reject) => {
      request({ host: '127.0.0.1', port, path, agent: false }, (res) => {
        const parts: Buffer[] = [];
        res.on('data', (d: Buffer) => parts.push(d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts) }));
        res.on('error', reject);
      })
        .on('error', reject)
        .end();
    });
  return { writes, held, all, get };
}

/** A collapsed waiter's pass over `fill` from byte `start`, answering on `res`. */
function pumpWaiter(fill: Fill, name: string, res: ServerResponse, start: number): void {
  void pumpFill(
    {
      req: {} as IncomingMessage,
      res,
      id: name,
      method: 'GET',
      result: 'collapsed',
      bytes: 0,
      startedAt: Date.now(),
    },
    res,
    fill,
    {} as EdgeStore,
    start,
    undefined,
    { onBytes: () => undefined, onAbort: () => undefined },
  );
}

describe('fill fan-out', () => {
  it('wakes a waiting reader once per event-loop turn, with every chunk that arrived in the turn', async () => {
    const a = bytes(1000, 1);
    const b = bytes(2000, 2);
    const fill = fillOf([a, b]);
    await fill.head;
    expect(fill.size).toBe(0); // the body is read after the head resolves
    const sizeAtWake: number[] = [];
    const woken = new Promise<void>((resolve) =>
      fill.onProgress(() => {
        sizeAtWake.push(fill.size);
        resolve();
      }),
    );
    await woken;
    expect(sizeAtWake).toEqual([a.length + b.length]); // one wake, both chunks there (not one wake per chunk)
    const first = fill.read(0);
    expect(first.kind).toBe('data');
  });

  it('wakes a reader still waiting for its first bytes as soon as they arrive', async () => {
    const a = bytes(1000, 1);
    const b = bytes(2000, 2);
    const fill = fillOf([a, b]);
    await fill.head;
    expect(fill.size).toBe(0);
    const sizeAtWake: number[] = [];
    const woken = new Promise<void>((resolve) =>
      fill.onProgress(() => {
        sizeAtWake.push(fill.size);
        resolve();
      }, true),
    );
    await woken;
    expect(sizeAtWake).toEqual([a.length]); // at the first chunk, not after the turn
  });

  it('sends late joiners the head and the first chunk in their own turn, each catch-up in one write on a later turn', async () => {
    const chunks = [bytes(16 * 1024, 1), bytes(16 * 1024, 2), bytes(16 * 1024, 3)];
    const fill = fillOf(chunks);
    const head = (await fill.head) as ResponseHead;
    expect(head.kind).toBe('response');
    await fill.finished; // every chunk is there before the requests: late joiners

    const { writes, held, all, get } = await recordingServer(2);
    const answers = Promise.all([get('/a'), get('/b')]);
    await all;
    // the two requests are answered in two callbacks of one turn, as two sockets read in one poll
    for (const { req, res } of ['a', 'b'].map((n) => held.get(n)!)) {
      setImmediate(
        () =>
          void serveFill(
            { req, res, id: req.url!, method: 'GET', result: 'collapsed', bytes: 0, startedAt: Date.now() },
            fill,
            head,
            {} as EdgeStore,
            { cache: 'test' },
            { onBytes: () => undefined, onAbort: () => undefined },
            { stripSetCookie: false },
          ),
      );
    }
    for (const got of await answers) {
      expect(got.status).toBe(200);
      expect(got.body.equals(Buffer.concat(chunks))).toBe(true);
    }
    // each: the head and the first chunk in one write, both before either catch-up; each
    // catch-up (the two other chunks and the end) in one write
    expect(writes.map((w) => w.name)).toEqual(['a', 'b', 'a', 'b']);
    for (const w of writes.slice(0, 2)) {
      expect(w.bytes).toBeGreaterThan(chunks[0].length);
      expect(w.bytes).toBeLessThan(chunks[0].length + chunks[1].length);
    }
    for (const w of writes.slice(2)) expect(w.bytes).toBeGreaterThan(chunks[1].length + chunks[2].length);
  });

  it('writes a new chunk to a waiter still without bytes before the waiters already streaming', async () => {
    const body = new PassThrough();
    const fill = fillOf(body);
    await fill.head;
    const c1 = bytes(4096, 1);
    const c2 = bytes(4096, 2);
    const arrived = (n: number) =>
      new Promise<void>((resolve) => {
        const check = (): void => (fill.size >= n ? resolve() : void fill.onProgress(check));
        check();
      });
    body.write(c1);
    await arrived(c1.length);

    const { writes: recorded, held, all, get } = await recordingServer(2);
    const writes = () => recorded.map((w) => w.name);
    const answers = Promise.all([get('/streaming'), get('/first')]);
    await all;
    const pump = (name: string, start: number) => pumpWaiter(fill, name, held.get(name)!.res, start);
    pump('streaming', 0); // sends c1 now, then waits for more: already streaming
    pump('first', c1.length); // nothing to send yet: waits for its first bytes
    expect(writes()).toEqual(['streaming']);
    body.write(c2);
    await arrived(c1.length + c2.length);
    await new Promise<void>((r) => setImmediate(r));
    expect(writes()).toEqual(['streaming', 'first', 'streaming']); // c2: first to the waiter without bytes
    body.end();
    const [streaming, first] = await answers;
    expect(streaming.body.equals(Buffer.concat([c1, c2]))).toBe(true);
    expect(first.body.equals(c2)).toBe(true);
  });

  it('puts the bulk off while readers are joining: a burst gets its first bytes before anyone gets more', async () => {
    const body = new PassThrough();
    const fill = fillOf(body);
    await fill.head;
    const c1 = bytes(4096, 1);
    const c2 = bytes(4096, 2);
    body.write(c1);
    await new Promise<void>((resolve) => {
      const check = (): void => (fill.size >= c1.length ? resolve() : void fill.onProgress(check, true));
      check();
    });

    const { writes: recorded, held, all, get } = await recordingServer(3);
    const writes = () => recorded.map((w) => w.name);
    const answers = Promise.all([get('/early'), get('/join1'), get('/join2')]);
    await all;
    const pump = (name: string) => pumpWaiter(fill, name, held.get(name)!.res, 0);
    const turn = () => new Promise<void>((r) => setImmediate(r));
    pump('early'); // c1, then streaming
    await turn();
    await turn(); // a turn without joiners: nothing held back
    body.write(c2); // more bytes for 'early' (a bulk turn is queued)...
    await new Promise<void>((r) => process.nextTick(r)); // (the body's chunk reaches the fill)
    pump('join1'); // ...and a reader joins in the same turn: head + c1, its catch-up (c2) is bulk
    await turn();
    expect(writes()).toEqual(['early', 'join1']); // the bulk waited: this turn had a joiner
    pump('join2'); // another joiner in the next turn
    await turn();
    expect(writes()).toEqual(['early', 'join1', 'join2']);
    // a turn without joiners: the bulk goes (c2 to 'early', the catch-ups); it runs in slices of a
    // few ms, so on a loaded box it may take more than one turn to reach all three
    for (let i = 0; i < 1000 && writes().length < 6; i++) await turn();
    expect(writes().slice(0, 3)).toEqual(['early', 'join1', 'join2']);
    expect(writes().slice(3).sort()).toEqual(['early', 'join1', 'join2']);
    body.end();
    for (const got of await answers) expect(got.body.equals(Buffer.concat([c1, c2]))).toBe(true);
  });

  it('does not put the bulk off for ever when readers join on every turn', async () => {
    const body = new PassThrough();
    const fill = fillOf(body);
    await fill.head;
    body.write(bytes(1000, 1));
    let woken = false;
    let turns = 0;
    await new Promise<void>((resolve) => {
      const check = (): void => (fill.size > 0 ? resolve() : void fill.onProgress(check, true));
      check();
    });
    fill.onProgress(() => (woken = true)); // a reader already streaming waits for more
    body.write(bytes(1000, 2));
    await new Promise<void>((r) => process.nextTick(r));
    // a reader gets its first bytes on every turn (a steady stream of joiners)
    while (!woken && turns < 100) {
      fill.noteFirstBytes();
      await new Promise<void>((r) => setImmediate(r));
      turns++;
    }
    expect(woken).toBe(true);
    expect(turns).toBeGreaterThan(1); // it was put off...
    expect(turns).toBeLessThan(20); // ...a bounded number of turns
    body.end();
  });

  /** A fill with one chunk arrived and `n` readers waiting for more (already streaming), in order. */
  async function streamingReaders(n: number, onRun: (i: number) => void) {
    const body = new PassThrough();
    const fill = fillOf(body);
    await fill.head;
    body.write(bytes(1000, 1));
    await new Promise<void>((resolve) => {
      const check = (): void => (fill.size > 0 ? resolve() : void fill.onProgress(check, true));
      check();
    });
    const unsubscribe = Array.from({ length: n }, (_, i) => fill.onProgress(() => onRun(i)));
    return { fill, body, unsubscribe };
  }

  /** Busy for `ms` (a reader whose pass writes a lot: the time a bulk round spends on it). */
  const busy = (ms: number) => {
    const end = performance.now() + ms;
    while (performance.now() < end);
  };

  it('runs a bulk round in slices: the event loop serves what arrived between them, every reader once, in order', async () => {
    const order: (number | 'io')[] = [];
    const n = 12;
    let ranAll!: () => void;
    const all = new Promise<void>((r) => (ranAll = r));
    const { body } = await streamingReaders(n, (i) => {
      if (i === 0) setImmediate(() => order.push('io')); // work queued while the round runs
      order.push(i);
      busy(2);
      if (i === n - 1) ranAll();
    });
    body.write(bytes(1000, 2)); // more bytes: every reader is due on the next bulk turn
    await all;
    const readers = order.filter((x) => x !== 'io');
    expect(readers).toEqual(Array.from({ length: n }, (_, i) => i)); // each once, in order
    const io = order.indexOf('io');
    // 24 ms of readers in slices of a few ms: the queued work ran before the round's end
    expect(io).toBeGreaterThan(0);
    expect(io).toBeLessThan(order.length - 1);
    body.end();
  });

  it('does not run a reader that unsubscribed while its bulk round was in progress', async () => {
    const ran: number[] = [];
    const n = 12;
    let unsubscribeLast: () => void = () => undefined;
    const { body, unsubscribe } = await streamingReaders(n, (i) => {
      ran.push(i);
      if (i === 0) unsubscribeLast(); // e.g. its client went away during the round
      busy(2);
    });
    unsubscribeLast = unsubscribe[n - 1];
    body.write(bytes(1000, 2));
    // the round is done once a turn passes with the second-to-last reader run
    await new Promise<void>((resolve) => {
      const check = (): void => (ran.includes(n - 2) ? resolve() : void setImmediate(check));
      check();
    });
    await new Promise<void>((r) => setImmediate(r));
    expect(ran).toEqual(Array.from({ length: n - 1 }, (_, i) => i));
    body.end();
  });

  it('runs again the readers that bytes reached while their round was running in slices', async () => {
    const runs = new Map<number, number>();
    const n = 12;
    const live: { fill?: Fill; body?: PassThrough } = {};
    const onRun = (i: number): void => {
      runs.set(i, (runs.get(i) ?? 0) + 1);
      if (runs.get(i) === 1) live.fill!.onProgress(() => onRun(i)); // waits for more, as a streaming reader does
      if (i === 0 && runs.get(0) === 1) live.body!.write(bytes(1000, 3)); // reaches the fill between slices
      busy(2);
    };
    const { fill, body } = await streamingReaders(n, onRun);
    live.fill = fill;
    live.body = body;
    body.write(bytes(1000, 2));
    // nothing else arrives: the bytes that came during the round must still reach reader 0
    for (let turn = 0; turn < 500 && (runs.get(0) ?? 0) < 2; turn++) await new Promise<void>((r) => setImmediate(r));
    expect(runs.get(0)).toBe(2);
    expect(runs.get(n - 1)).toBeGreaterThanOrEqual(1);
    body.end();
  });
});
