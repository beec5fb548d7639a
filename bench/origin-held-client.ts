/**
 * Child process of bench/origin-bench.ts: opens N concurrent blocking-reload requests against the
 * origin, each on its own keep-alive connection, and reports, per request, the epoch time (µs)
 * at which its response was complete.
 *
 * A deliberately thin HTTP/1.1 client on raw sockets (one request line, Content-Length framing):
 * with 10,000 responses arriving at once a full client library costs tens of µs per response,
 * which would measure the client rather than the origin's wake-up. A separate process so 2×N
 * sockets fit the fd limit and the client's work does not run on the origin's event loop.
 */
import { connect, type Socket } from 'node:net';
import { connect as connectH2, type ClientHttp2Session } from 'node:http2';

interface Job {
  host: string;
  port: number;
  path: string;
  n: number;
  acceptEncoding?: string;
  /** HTTP/2 over TLS instead: the requests spread over this many sessions (streams of few connections). */
  h2Sessions?: number;
}

const nowUs = (): number => Math.round((performance.timeOrigin + performance.now()) * 1000);
const HEADER_END = Buffer.from('\r\n\r\n');

async function measure(job: Job): Promise<void> {
  const done: (number | null)[] = new Array(job.n).fill(null);
  const statuses = new Map<number, number>();
  const request = Buffer.from(
    `GET ${job.path} HTTP/1.1\r\nHost: ${job.host}:${job.port}\r\n` +
      (job.acceptEncoding ? `Accept-Encoding: ${job.acceptEncoding}\r\n` : '') +
      'Connection: keep-alive\r\n\r\n',
  );
  let errors = 0;
  let finished = 0;
  let connected = 0;
  const sockets: Socket[] = [];
  let resolveAll!: () => void;
  const all = new Promise<void>((r) => (resolveAll = r));
  const settle = (): void => {
    if (++finished === job.n) resolveAll();
  };

  const open = (i: number): void => {
    const s = connect({ host: job.host, port: job.port, noDelay: true });
    sockets.push(s);
    let buf: Buffer | undefined;
    let need = -1;
    let over = false;
    s.once('connect', () => {
      connected++;
      s.write(request);
    });
    s.on('data', (chunk: Buffer) => {
      if (over) return;
      buf = buf ? Buffer.concat([buf, chunk]) : chunk;
      if (need < 0) {
        const end = buf.indexOf(HEADER_END);
        if (end < 0) return;
        const head = buf.subarray(0, end).toString('latin1');
        const status = Number(head.slice(9, 12));
        const cl = /\r\ncontent-length:\s*(\d+)/i.exec(head);
        need = end + 4 + (cl ? Number(cl[1]) : 0);
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
      }
      if (buf.length >= need) {
        over = true;
        done[i] = nowUs();
        settle();
      }
    });
    s.on('error', () => {
      if (over) return;
      over = true;
      errors++;
      settle();
    });
    s.on('close', () => {
      if (over) return;
      over = true;
      errors++;
      settle();
    });
  };

  // Ramp up in batches so the listen backlog is not flooded with SYNs.
  for (let i = 0; i < job.n; i++) {
    open(i);
    if (i % 250 === 249) await new Promise((r) => setTimeout(r, 20));
  }
  process.send!({ type: 'opened', connected });
  await all;
  await receivedAndTeardown();
  for (const s of sockets) s.destroy();
  process.send!({ type: 'result', done, statuses: Object.fromEntries(statuses), errors });
}

/** The same over HTTP/2: N streams spread over `h2Sessions` TLS connections (node:http2 client). */
async function measureH2(job: Job): Promise<void> {
  const done: (number | null)[] = new Array(job.n).fill(null);
  const statuses = new Map<number, number>();
  let errors = 0;
  let finished = 0;
  let resolveAll!: () => void;
  const all = new Promise<void>((r) => (resolveAll = r));
  const settle = (): void => {
    if (++finished === job.n) resolveAll();
  };
  const sessions: ClientHttp2Session[] = [];
  for (let i = 0; i < job.h2Sessions!; i++) {
    const s = connectH2(`https://${job.host}:${job.port}`, { rejectUnauthorized: false });
    s.on('error', () => undefined);
    await new Promise<void>((r, j) => {
      s.once('connect', () => r());
      s.once('error', j);
    });
    sessions.push(s);
  }
  for (let i = 0; i < job.n; i++) {
    const req = sessions[i % sessions.length].request({
      ':path': job.path,
      ...(job.acceptEncoding ? { 'accept-encoding': job.acceptEncoding } : {}),
    });
    let over = false;
    req.on('response', (h) => {
      const status = Number(h[':status']);
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
    });
    req.on('data', () => undefined);
    req.on('end', () => {
      if (over) return;
      over = true;
      done[i] = nowUs();
      settle();
    });
    req.on('error', () => {
      if (over) return;
      over = true;
      errors++;
      settle();
    });
    req.end();
    if (i % 1000 === 999) await new Promise((r) => setTimeout(r, 10));
  }
  process.send!({ type: 'opened', connected: sessions.length });
  await all;
  await receivedAndTeardown();
  for (const s of sessions) s.destroy();
  process.send!({ type: 'result', done, statuses: Object.fromEntries(statuses), errors });
}

/**
 * Tells the parent every response is complete and waits for its go-ahead before closing the
 * connections, so the origin's CPU up to this point is the wake's alone (not the teardown's).
 */
function receivedAndTeardown(): Promise<void> {
  const go = new Promise<void>((resolve) => {
    const onMessage = (m: unknown): void => {
      if (m !== 'teardown') return;
      process.off('message', onMessage);
      resolve();
    };
    process.on('message', onMessage);
  });
  process.send!({ type: 'received' });
  return go;
}

// A failure is left unhandled on purpose: it ends this child, and the bench sees the exit.
process.on('message', (job: Job | 'teardown') => {
  if (job === 'teardown') return;
  void (job.h2Sessions ? measureH2(job) : measure(job));
});
