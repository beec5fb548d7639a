/**
 * HTTP/2 hit throughput over TLS, h2load as the client, same certificate, same machine, same run
 * (ABBA order). Writes bench/results/edge-h2.json.
 *
 *   node bin/run-ts.js bench/edge-h2-bench.ts [--duration 5] [--connections 16] [--streams 16] [--workers <n>]
 *     [--edge-root <checkout>] [--out <json>]
 *
 * Targets, each with the same number of workers (default: cores), serving a cached 1 KiB object
 * over HTTPS + h2:
 * - the streamedge edge (`streamedge edge --tls-cert ... --tls-key ...`, with `--workers <n>` when
 *   `streamedge edge --help` lists it, else one process: the JSON says which), object already cached;
 * - nginx 1.22 (Debian) with proxy_cache, `listen ... ssl http2;`, `worker_processes` = workers;
 * - a node:cluster of node:http2 servers answering every request with a constant 1 KiB buffer
 *   on its stream (bench/constant-cluster.ts; through node:http2's compatibility objects before
 *   session 35): the runtime's own limit (the goal is edge >= 0.6x of it).
 * The same object is then asked for with a request `Cache-Control: max-age=3600`: the edge answers
 * it from its full lookup (request directives are honoured there, not on the RAM-hit path: the path
 * blocking reloads, parts and fills take, answered through exchange.ts), nginx as a plain hit (it
 * ignores request Cache-Control), the constant server as before.
 * CPU-seconds per 10k requests of each server's process tree are read from /proc around each run.
 * `--edge-root` measures the edge of another checkout (two revisions compared with one bench);
 * `--out` writes the JSON elsewhere than bench/results/edge-h2.json.
 * Also the TLS handshake rate of each: h2load with one request per connection, so every request
 * is a new TCP connection and a full TLS handshake (TLS 1.3, ECDSA P-256 certificate).
 */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { cpus, tmpdir } from 'node:os';
import { finishMachineInfo, startMachineInfo } from './machine-info.js';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { Agent, request } from 'undici';
import { createSelfSignedCertificate } from '../src/tls/self-signed.js';
import { nginxBinary, nginxConfigHead } from './nginx-proxy-cache.js';
import { freePort } from './free-port.js';
import { treeCpuSeconds } from './process-cpu.js';

const run = promisify(execFile);
const args = process.argv.slice(2);
function arg(name: string, def: number): number {
  const i = args.indexOf(`--${name}`);
  return i === -1 ? def : Number(args[i + 1]);
}
const root = resolve(import.meta.dirname, '..');
const edgeRootAt = args.indexOf('--edge-root');
/** The checkout whose `bin/streamedge.js` is measured. */
const edgeRoot = edgeRootAt === -1 ? root : resolve(args[edgeRootAt + 1]);
const outAt = args.indexOf('--out');
const outFile = outAt === -1 ? join(root, 'bench', 'results', 'edge-h2.json') : resolve(args[outAt + 1]);
/** Sends the edge's answer through its full lookup instead of the RAM-hit path. */
const FULL_LOOKUP_HEADER = 'cache-control: max-age=3600';
const BODY = Buffer.alloc(1024, 'x');
const PATH = '/live/bench/v/index.m3u8';

await main();

interface H2loadResult {
  reqPerSec: number;
  /** CPU-seconds of the server's process tree per 10,000 requests (hit runs). */
  cpuSecondsPer10k?: number;
  succeeded: number;
  failed: number;
  meanLatencyMs: number | null;
}

async function h2load(url: string, extra: string[]): Promise<H2loadResult> {
  const { stdout } = await run('h2load', [...extra, url], { maxBuffer: 16 * 1024 * 1024, timeout: 120_000 });
  const rps = /finished in [\d.]+m?s, ([\d.]+) req\/s/.exec(stdout);
  const req = /requests: \d+ total, \d+ started, \d+ done, (\d+) succeeded, (\d+) failed/.exec(stdout);
  const lat = /time for request:\s+\S+\s+\S+\s+(\S+)/.exec(stdout);
  if (!rps || !req) throw new Error(`cannot read h2load output:\n${stdout}`);
  const mean = lat ? lat[1] : undefined;
  const ms =
    mean === undefined
      ? null
      : mean.endsWith('us')
        ? parseFloat(mean) / 1000
        : mean.endsWith('ms')
          ? parseFloat(mean)
          : parseFloat(mean) * 1000;
  return { reqPerSec: Number(rps[1]), succeeded: Number(req[1]), failed: Number(req[2]), meanLatencyMs: ms };
}

async function waitReady(url: string, ca: Buffer, proc: ChildProcess): Promise<void> {
  const dispatcher = new Agent({ connect: { ca } });
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      const r = await request(url, { dispatcher });
      await r.body.arrayBuffer();
      if (r.statusCode === 200) break;
    } catch {
      /* not up yet */
    }
    if (Date.now() > deadline || proc.exitCode !== null) throw new Error(`${url} did not come up`);
    await new Promise((r) => setTimeout(r, 100));
  }
  // twice: the second answer is a cache hit for the caching targets
  const r = await request(url, { dispatcher });
  await r.body.arrayBuffer();
  await dispatcher.close();
}

function stop(p: ChildProcess | undefined): Promise<void> {
  if (!p || p.exitCode !== null) return Promise.resolve();
  return new Promise((r) => {
    p.once('exit', () => r());
    p.kill('SIGTERM');
  });
}

async function main(): Promise<void> {
  const duration = arg('duration', 5);
  const connections = arg('connections', 16);
  const streams = arg('streams', 16);
  const handshakes = arg('handshakes', 500);
  const workers = arg('workers', cpus().length);
  const help = execFileSync(process.execPath, [join(edgeRoot, 'bin/streamedge.js'), 'edge', '--help'], {
    encoding: 'utf8',
  });
  const workersFlag = help.includes('--workers');
  const edgeWorkers = workersFlag ? workers : 1;
  const dir = mkdtempSync(join(tmpdir(), 'se-h2-bench-'));
  const procs: ChildProcess[] = [];
  const machineStart = startMachineInfo();
  try {
    const files = await createSelfSignedCertificate(join(dir, 'tls'));
    const ca = readFileSync(files.certFile);
    // the origin: one cacheable 1 KiB object
    const origin = createHttpServer((_req, res) => {
      res.writeHead(200, {
        'content-type': 'application/vnd.apple.mpegurl',
        'cache-control': 'public, max-age=3600',
        'content-length': BODY.length,
      });
      res.end(BODY);
    });
    await new Promise<void>((r) => origin.listen(0, '127.0.0.1', r));
    const originUrl = `http://127.0.0.1:${(origin.address() as { port: number }).port}`;

    // edge
    const edgePort = await freePort();
    const edge = spawn(
      process.execPath,
      [
        join(edgeRoot, 'bin/streamedge.js'),
        'edge',
        '--upstream',
        originUrl,
        '--port',
        String(edgePort),
        '--tls-cert',
        files.certFile,
        '--tls-key',
        files.keyFile,
        '--log-level',
        'warn',
        '--store',
        join(dir, 'edge-store'),
        '--store-size',
        '1GB',
        ...(workersFlag ? ['--workers', String(workers)] : []),
      ],
      { stdio: ['ignore', 'ignore', 'inherit'] },
    );
    procs.push(edge);
    const edgeUrl = `https://127.0.0.1:${edgePort}`;

    // node:http2 constant buffer, a node:cluster with the same workers
    const constPort = await freePort();
    const constant = spawn(
      process.execPath,
      [
        join(root, 'bin/run-ts.js'),
        join(root, 'bench/constant-cluster.ts'),
        '--port',
        String(constPort),
        '--workers',
        String(workers),
        '--tls',
        files.certFile,
        files.keyFile,
      ],
      { stdio: ['ignore', 'ignore', 'inherit'] },
    );
    procs.push(constant);
    const constUrl = `https://127.0.0.1:${constPort}`;

    // nginx 1.22: proxy_cache, listen ssl http2, the same certificate, the same workers
    const nginxDir = join(dir, 'nginx');
    for (const d of ['cache', 'tmp', 'logs']) mkdirSync(join(nginxDir, d), { recursive: true });
    const nginxPort = await freePort();
    writeFileSync(
      join(nginxDir, 'nginx.conf'),
      `${nginxConfigHead(nginxDir, { workerConnections: 4096, workerProcesses: workers })}
  proxy_cache_path ${nginxDir}/cache levels=1:2 keys_zone=bench:10m max_size=1g inactive=60m use_temp_path=off;
  server {
    listen 127.0.0.1:${nginxPort} ssl http2;
    ssl_certificate ${files.certFile};
    ssl_certificate_key ${files.keyFile};
    ssl_protocols TLSv1.2 TLSv1.3;
    http2_max_concurrent_streams 1000;
    # nginx closes a connection after keepalive_requests (1000) requests and h2load does not reconnect
    keepalive_requests 100000000;
    location / {
      proxy_pass ${originUrl};
      proxy_cache bench;
      proxy_cache_lock on;
      proxy_http_version 1.1;
      add_header Cache-Status $upstream_cache_status;
    }
  }
}
`,
    );
    const nginxBin = nginxBinary();
    const nginx = spawn(nginxBin, ['-p', nginxDir, '-c', join(nginxDir, 'nginx.conf')], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    procs.push(nginx);
    const nginxUrl = `https://127.0.0.1:${nginxPort}`;
    const nginxVersion = (await run('sh', ['-c', `${nginxBin} -v 2>&1`])).stdout.trim();

    await waitReady(`${edgeUrl}${PATH}`, ca, edge);
    await waitReady(`${constUrl}${PATH}`, ca, constant);
    await waitReady(`${nginxUrl}${PATH}`, ca, nginx);

    const targets: Record<string, string> = { edge: edgeUrl, nodeHttp2Constant: constUrl, nginx: nginxUrl };
    const pids: Record<string, number> = { edge: edge.pid!, nodeHttp2Constant: constant.pid!, nginx: nginx.pid! };
    const order = ['edge', 'nodeHttp2Constant', 'nginx', 'nginx', 'nodeHttp2Constant', 'edge'];
    const hits: Record<string, H2loadResult[]> = { edge: [], nodeHttp2Constant: [], nginx: [] };
    const full: Record<string, H2loadResult[]> = { edge: [], nodeHttp2Constant: [], nginx: [] };
    const hand: Record<string, H2loadResult[]> = { edge: [], nodeHttp2Constant: [], nginx: [] };
    const measure = async (name: string, extra: string[]): Promise<H2loadResult> => {
      const cpu0 = treeCpuSeconds(pids[name]);
      const r = await h2load(`${targets[name]}${PATH}`, [
        '-t',
        '1',
        '-c',
        String(connections),
        '-m',
        String(streams),
        '-D',
        String(duration),
        '--warm-up-time',
        '1',
        ...extra,
      ]);
      const cpu = treeCpuSeconds(pids[name]) - cpu0;
      // the CPU window includes the 1 s warm-up: requests/s × (duration + 1) approximates its requests
      const served = r.reqPerSec * (duration + 1);
      r.cpuSecondsPer10k = Math.round((cpu / Math.max(1, served)) * 10_000 * 10_000) / 10_000;
      return r;
    };
    for (const name of order) {
      process.stdout.write(`h2 hits: ${name}…\n`);
      hits[name].push(await measure(name, []));
    }
    for (const name of order) {
      process.stdout.write(`h2 answers through the full lookup: ${name}…\n`);
      full[name].push(await measure(name, ['-H', FULL_LOOKUP_HEADER]));
    }
    for (const name of order.slice(0, 3)) {
      process.stdout.write(`handshakes: ${name}…\n`);
      hand[name].push(
        await h2load(`${targets[name]}${PATH}`, [
          '-t',
          '1',
          '-c',
          String(handshakes),
          '-n',
          String(handshakes),
          '-m',
          '1',
        ]),
      );
    }
    const mean = (xs: H2loadResult[]) => Math.round(xs.reduce((a, x) => a + x.reqPerSec, 0) / Math.max(1, xs.length));
    const hitRps = Object.fromEntries(Object.entries(hits).map(([k, v]) => [k, mean(v)]));
    const meanCpu = (xs: H2loadResult[]) =>
      xs.reduce((a, x) => a + (x.cpuSecondsPer10k ?? 0), 0) / Math.max(1, xs.length);
    const cpuPer10k = Object.fromEntries(
      Object.entries(hits).map(([k, v]) => [k, Math.round(meanCpu(v) * 10_000) / 10_000]),
    );
    const handRps = Object.fromEntries(Object.entries(hand).map(([k, v]) => [k, mean(v)]));
    const fullRps = Object.fromEntries(Object.entries(full).map(([k, v]) => [k, mean(v)]));
    const fullCpuPer10k = Object.fromEntries(
      Object.entries(full).map(([k, v]) => [k, Math.round(meanCpu(v) * 10_000) / 10_000]),
    );
    const r2 = (x: number) => Math.round(x * 100) / 100;
    const out = {
      bench: 'edge-h2',
      startedAt: new Date().toISOString(),
      machine: finishMachineInfo(machineStart),
      edge: {
        checkout: edgeRoot === root ? 'this one' : edgeRoot,
        workers: edgeWorkers,
        workersFlag,
        how: workersFlag
          ? `streamedge edge --workers ${workers}`
          : 'one process: this checkout has no --workers (the bench passes it once `streamedge edge --help` lists it)',
      },
      setup: {
        object: '1 KiB, cached (cache-control max-age=3600), GET over HTTPS + HTTP/2',
        client: `h2load -t 1 -c ${connections} -m ${streams} -D ${duration} --warm-up-time 1, ABBA order ${order.join(' ')}`,
        handshakeClient: `h2load -t 1 -c ${handshakes} -n ${handshakes} -m 1: ${handshakes} connections opened at once, one request each, so req/s = full TLS handshakes (+ one h2 request) per second`,
        fullLookup: `the same GET with the request header '${FULL_LOOKUP_HEADER}': the edge answers from its full lookup (not the RAM-hit path), nginx and the constant server as without it`,
        processes: `edge: ${edgeWorkers} process(es); nginx: worker_processes ${workers}; node:http2 constant: node:cluster of ${workers}, answering on the stream (respond + end, no compatibility objects); the origin runs in the bench process`,
        nginx: nginxVersion,
        certificate: 'self-signed ECDSA P-256 (openssl), the same files for every target',
        cpu: 'cpuSecondsPer10k: user+system CPU of the target process tree per 10,000 requests (warm-up second included, at the measured rate)',
      },
      goals: { requestsPerSecondToNodeHttp2: 0.6 },
      hitReqPerSec: hitRps,
      hitCpuSecondsPer10k: cpuPer10k,
      fullLookupReqPerSec: fullRps,
      fullLookupCpuSecondsPer10k: fullCpuPer10k,
      handshakesPerSec: handRps,
      hitRuns: hits,
      fullLookupRuns: full,
      ratios: {
        requestsPerSecondToNodeHttp2: r2(hitRps.edge / hitRps.nodeHttp2Constant),
        requestsPerSecondToNginx: r2(hitRps.edge / hitRps.nginx),
        cpuPer10kToNodeHttp2: r2(cpuPer10k.edge / cpuPer10k.nodeHttp2Constant),
        fullLookupRequestsPerSecondToNodeHttp2: r2(fullRps.edge / fullRps.nodeHttp2Constant),
        fullLookupRequestsPerSecondToNginx: r2(fullRps.edge / fullRps.nginx),
        fullLookupCpuPer10kToNodeHttp2: r2(fullCpuPer10k.edge / fullCpuPer10k.nodeHttp2Constant),
        handshakeRequestsPerSecondToNginx: r2(handRps.edge / handRps.nginx),
      },
      handshakeRuns: hand,
    };
    mkdirSync(dirname(outFile), { recursive: true });
    writeFileSync(outFile, `${JSON.stringify(out, null, 2)}\n`);
    process.stdout.write(
      `${JSON.stringify({ hitReqPerSec: hitRps, fullLookupReqPerSec: fullRps, ratios: out.ratios }, null, 2)}\n`,
    );
    origin.close();
  } finally {
    for (const p of procs) await stop(p);
    rmSync(dir, { recursive: true, force: true });
  }
  process.exit(0);
}
