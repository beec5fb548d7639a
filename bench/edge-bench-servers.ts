/**
 * The processes of the HTTP/1.1 edge benchmarks (bench/edge-bench.ts, bench/edge-cmcd-bench.ts):
 * the origin (bench/edge-origin.ts), a streamedge edge of any checkout, nginx proxy_cache.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { cpus } from 'node:os';
import { join, resolve } from 'node:path';
import { request } from 'undici';
import { freePort } from './free-port.js';
import { nginxBinary, nginxConfigHead, startNginx } from './nginx-proxy-cache.js';

const root = resolve(import.meta.dirname, '..');
const CORES = cpus().length;

export function stop(proc: ChildProcess): Promise<void> {
  return new Promise((r) => {
    if (proc.exitCode !== null || proc.signalCode !== null) return r();
    proc.once('exit', () => r());
    proc.kill('SIGTERM');
  });
}

export async function firstLine(proc: ChildProcess, what: string): Promise<string> {
  return new Promise<string>((res, rej) => {
    let buf = '';
    proc.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      const nl = buf.indexOf('\n');
      if (nl !== -1) res(buf.slice(0, nl).trim());
    });
    proc.once('exit', (code) => rej(new Error(`${what} exited (${code})`)));
  });
}

export async function startOrigin(): Promise<{ proc: ChildProcess; url: string }> {
  const proc = spawn(process.execPath, [join(root, 'bin/run-ts.js'), join(root, 'bench/edge-origin.ts')], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return { proc, url: await firstLine(proc, 'origin') };
}

export async function originCounts(
  originUrl: string,
): Promise<{ counts: Record<string, number>; finished: Record<string, number> }> {
  const r = await request(`${originUrl}/_counts`);
  return (await r.body.json()) as { counts: Record<string, number>; finished: Record<string, number> };
}

export async function waitUp(url: string, proc: ChildProcess): Promise<void> {
  const end = Date.now() + 30_000;
  for (;;) {
    try {
      const r = await request(url);
      await r.body.text();
      if (r.statusCode === 200) return;
    } catch {
      /* not up yet */
    }
    if (Date.now() > end || proc.exitCode !== null) throw new Error(`${url} did not come up`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Does this checkout's `streamedge edge` take --workers? */
export function edgeTakesWorkers(checkout: string): boolean {
  const help = execFileSync(process.execPath, [join(checkout, 'bin/streamedge.js'), 'edge', '--help'], {
    encoding: 'utf8',
  });
  return help.includes('--workers');
}

export async function startStreamedge(
  dir: string,
  originUrl: string,
  o: { checkout?: string; workers?: number; cpuProfDir?: string; logLevel?: string },
): Promise<{ proc: ChildProcess; url: string }> {
  const checkout = o.checkout ?? root;
  const port = await freePort();
  const node = o.cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${o.cpuProfDir}`] : [];
  const proc = spawn(
    process.execPath,
    [
      ...node,
      join(checkout, 'bin/streamedge.js'),
      'edge',
      '--upstream',
      originUrl,
      '--port',
      String(port),
      '--store',
      join(dir, 'store'),
      '--store-size',
      '2GB',
      '--ram-size',
      '256MiB',
      '--log-level',
      o.logLevel ?? 'warn',
      '--name',
      'streamedge',
      ...(o.workers !== undefined ? ['--workers', String(o.workers)] : []),
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  proc.stderr?.on('data', (d: Buffer) => process.stderr.write(`edge: ${d.toString()}`));
  const url = `http://127.0.0.1:${port}`;
  await waitUp(`${url}/_edge/health`, proc);
  return { proc, url };
}

/**
 * nginx proxy_cache with `worker_processes` = cores, sendfile, proxy_cache_lock; `cacheKey`
 * replaces nginx's default key (`$scheme$proxy_host$request_uri`), e.g. `$scheme$proxy_host$uri`
 * to ignore the query as a CMCD-sending player's edge must.
 */
export function startNginxCache(
  dir: string,
  originUrl: string,
  cacheKey?: string,
): Promise<{ proc: ChildProcess; url: string; version: string }> {
  const origin = new URL(originUrl);
  const config = (
    port: number,
  ) => `${nginxConfigHead(dir, { workerConnections: 8192, workerProcesses: CORES })}  sendfile on;
  tcp_nopush on;
  keepalive_requests 100000000;
  proxy_cache_path ${dir}/cache levels=1:2 keys_zone=edge:16m max_size=2g inactive=60m use_temp_path=off;
  upstream origin { server ${origin.host}; keepalive 64; }
  server {
    listen 127.0.0.1:${port} backlog=4096;
    location / {
      proxy_pass http://origin;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_cache edge;${cacheKey !== undefined ? `\n      proxy_cache_key ${cacheKey};` : ''}
      proxy_cache_lock on;
      proxy_cache_lock_timeout 30s;
      proxy_cache_lock_age 30s;
      add_header X-Cache $upstream_cache_status;
    }
  }
}
`;
  return startNginx(nginxBinary(), dir, config, '/pl/warmup');
}
