/**
 * Test helpers for the multi-worker edge: `streamedge edge --workers N` as a real process tree
 * (supervisor, store process, N workers) on loopback, a one-connection-per-request client that
 * tells which worker answered, and the processes listed by the summed /_edge/metrics.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const CLI = fileURLToPath(new URL('../../../bin/streamedge.js', import.meta.url));
export const ADMIN_TOKEN = 'cluster-test-token';

export interface SupervisedEdge {
  url: string;
  proc: ChildProcessWithoutNullStreams;
  /** Every JSON log line of the supervisor and its children so far. */
  logs: Array<Record<string, unknown>>;
  /** Resolves once the supervisor exited (with its exit code). */
  exited: Promise<number | null>;
  stop(): Promise<void>;
}

/**
 * Starts `streamedge edge --workers <workers> ...extra` and waits for the supervisor's ready line.
 * `env` adds to the process environment: `NODE_CLUSTER_SCHED_POLICY: 'rr'` makes consecutive
 * connections alternate between the workers, for a test that must reach each of them from outside
 * (with the default SCHED_NONE, whichever worker runs first accepts).
 */
export async function startSupervisedEdge(
  upstream: string,
  workers = 2,
  extra: string[] = [],
  env: Record<string, string> = {},
): Promise<SupervisedEdge> {
  const dir = mkdtempSync(join(tmpdir(), 'edge-workers-'));
  const proc = spawn(
    process.execPath,
    [
      CLI,
      'edge',
      '--upstream',
      upstream,
      '--workers',
      String(workers),
      '--port',
      '0',
      '--store',
      join(dir, 'store'),
      '--store-size',
      '256MiB',
      '--ram-size',
      '32MiB',
      '--admin-token',
      ADMIN_TOKEN,
      ...extra,
    ],
    { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...env } },
  );
  const logs: Array<Record<string, unknown>> = [];
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  let stderr = '';
  proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`edge did not start in 60 s: ${stderr}`)), 60_000);
    void exited.then((code) => reject(new Error(`edge exited (${code}) before it was ready: ${stderr}`)));
    createInterface({ input: proc.stdout }).on('line', (line) => {
      let rec: Record<string, unknown>;
      try {
        rec = JSON.parse(line) as Record<string, unknown>;
      } catch {
        return;
      }
      logs.push(rec);
      if (rec.msg === 'edge supervisor ready') {
        clearTimeout(timer);
        resolve(String(rec.url));
      }
    });
  });
  return {
    url,
    proc,
    logs,
    exited,
    stop: async () => {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  /** The `x-edge-worker` that answered. */
  worker: string | undefined;
  /** 1xx interim responses received before the answer (103 Early Hints), with their Link field. */
  infos: Array<{ status: number; link: string | undefined }>;
}

/** A request under way: `head` resolves with the answering worker once the response head arrived. */
export interface Pending {
  head: Promise<string | undefined>;
  answer: Promise<Answer>;
}

/**
 * One request on a connection of its own (so node:cluster spreads them over the workers), with the
 * moment its response head arrived (a waiter on a fill is streaming from then on). Both promises
 * are marked handled, so a test that fails before awaiting them reports its own failure.
 */
export function startGet(
  base: string,
  path: string,
  init: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Pending {
  const u = new URL(path, base);
  const infos: Answer['infos'] = [];
  let onHead!: (worker: string | undefined) => void;
  let onHeadError!: (e: unknown) => void;
  const head = new Promise<string | undefined>((resolve, reject) => {
    onHead = resolve;
    onHeadError = reject;
  });
  const answer = new Promise<Answer>((resolve, reject) => {
    const req = httpRequest(
      {
        host: u.hostname,
        port: u.port,
        path: u.pathname + u.search,
        method: init.method ?? 'GET',
        headers: init.headers,
        agent: false,
      },
      (res) => {
        const w = res.headers['x-edge-worker'];
        const worker = typeof w === 'string' ? w : undefined;
        onHead(worker);
        const parts: Buffer[] = [];
        res.on('data', (c: Buffer) => parts.push(c));
        res.once('error', reject);
        res.once('end', () => {
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts), worker, infos });
        });
      },
    );
    req.on('information', (i) => {
      const link = i.headers['link'];
      infos.push({ status: i.statusCode, link: Array.isArray(link) ? link.join(', ') : link });
    });
    req.once('error', (e) => {
      onHeadError(e);
      reject(e);
    });
    req.end(init.body);
  });
  head.catch(() => undefined);
  answer.catch(() => undefined);
  return { head, answer };
}

/** One request on a connection of its own; resolves with the whole answer. */
export function get(
  base: string,
  path: string,
  init: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<Answer> {
  return startGet(base, path, init).answer;
}

/** The summed Prometheus text of every process. */
export async function metricsText(base: string): Promise<string> {
  const r = await get(base, '/_edge/metrics');
  if (r.status !== 200) throw new Error(`metrics answered ${r.status}`);
  return r.body.toString();
}

/** The value of one series (`name{labels}` exactly as printed), or 0 when absent. */
export function series(text: string, name: string): number {
  for (const line of text.split('\n')) {
    if (line.startsWith(name + ' ')) return Number(line.slice(name.length + 1));
  }
  return 0;
}

/** Sum of every series of a metric name (all label sets). */
export function total(text: string, name: string): number {
  let n = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith(name + '{') || line.startsWith(name + ' ')) n += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return n;
}

export interface EdgeProcess {
  role: 'worker' | 'store';
  worker: string;
  pid: number;
}

/** The processes that answered the metrics collection (edge_process_info). */
export function processes(text: string): EdgeProcess[] {
  const out: EdgeProcess[] = [];
  const re = /^edge_process_info\{([^}]*)\} 1$/gm;
  for (const m of text.matchAll(re)) {
    const labels = Object.fromEntries([...m[1].matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    out.push({ role: labels.role as 'worker' | 'store', worker: labels.worker ?? '', pid: Number(labels.pid) });
  }
  return out;
}

/** Polls `fn` (bounded) until it returns a value that is not undefined. */
export async function eventually<T>(fn: () => Promise<T | undefined>, what: string, ms = 30_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
