/**
 * Cached hits of players that send CMCD (CTA-5004), HTTP/1.1, wrk as the client, same machine,
 * same run (ABBA order). Writes bench/results/edge-cmcd.json.
 *
 *   node bin/run-ts.js bench/edge-cmcd-bench.ts [--duration 6] [--connections 64] [--rounds 4]
 *     [--workers <n>] [--baseline <checkout dir>] [--out <json>]
 *
 * One cached 1 KiB playlist (bench/edge-origin.ts `/pl/0.m3u8`), asked three ways by wrk Lua
 * scripts: plain; with a `CMCD=` query argument that changes on every request (buffer length
 * `bl`, 64 session ids `sid`, `ot=m`), as a player's does; with the same keys as `CMCD-*` headers.
 * Servers, each with the same number of workers (default: cores):
 * - the streamedge edge of this checkout (`--workers <n>`), its access log on (level info, to
 *   /dev/null: every CMCD request is logged whole, as every other request outside the sampled
 *   hit path);
 * - with `--baseline <dir>`, the edge of another checkout, the same way (before/after);
 * - nginx 1.22 (Debian) proxy_cache, `worker_processes` = workers, sendfile, with
 *   `proxy_cache_key $scheme$proxy_host$uri` (the query is not keyed, as a CMCD edge must not key
 *   it), access log off (its default in this bench).
 * Each server and mode first gets a discarded 2 s run (warm-up), then rounds of every server and
 * mode, the order reversed every other round. Per run: requests/s and CPU-seconds per 10k requests
 * of the server's process tree (/proc). The figures are medians over rounds; ratios compare
 * medians of the same run.
 */
import { execFileSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { request } from 'undici';
import { startNginxCache, startOrigin, startStreamedge, stop } from './edge-bench-servers.js';
import { finishMachineInfo, startMachineInfo } from './machine-info.js';
import { treeCpuSeconds } from './process-cpu.js';
import { wrk } from './wrk.js';

const args = process.argv.slice(2);
function arg(name: string, def: number): number {
  const i = args.indexOf(`--${name}`);
  return i === -1 ? def : Number(args[i + 1]);
}
function argText(name: string): string | undefined {
  const i = args.indexOf(`--${name}`);
  return i === -1 ? undefined : args[i + 1];
}
const root = resolve(import.meta.dirname, '..');
const DURATION_S = arg('duration', 6);
const CONNECTIONS = arg('connections', 64);
const ROUNDS = arg('rounds', 4);
const WORKERS = arg('workers', cpus().length);
const BASELINE = argText('baseline') !== undefined ? resolve(argText('baseline')!) : undefined;
const OUT = resolve(argText('out') ?? join(root, 'bench', 'results', 'edge-cmcd.json'));
const PATH = '/pl/0.m3u8';

const MODES = ['plain', 'cmcdQuery', 'cmcdHeaders'] as const;
type Mode = (typeof MODES)[number];

/** wrk Lua: a request per call, its CMCD keys changing as a playing session's do. */
const SCRIPTS: Record<Mode, string> = {
  plain: `request = function() return wrk.format("GET", "${PATH}") end\n`,
  cmcdQuery: `n = 0
request = function()
  n = n + 1
  local cmcd = "bl%3D" .. (n % 30000) .. "%2Cbr%3D800%2Cot%3Dm%2Csid%3D%22s-" .. (n % 64) .. "%22%2Csf%3Dh%2Cst%3Dv"
  return wrk.format("GET", "${PATH}?CMCD=" .. cmcd)
end
`,
  cmcdHeaders: `n = 0
request = function()
  n = n + 1
  return wrk.format("GET", "${PATH}", {
    ["CMCD-Request"] = "bl=" .. (n % 30000),
    ["CMCD-Object"] = "br=800,ot=m",
    ["CMCD-Session"] = "sf=h,sid=\\"s-" .. (n % 64) .. "\\",st=v",
  })
end
`,
};

interface Server {
  name: string;
  proc: ChildProcess;
  url: string;
}

interface Run {
  server: string;
  mode: Mode;
  round: number;
  reqPerSec: number;
  cpuSecondsPer10k: number;
  errors: number;
  latencyP99Ms: number;
}

async function startEdge(dir: string, checkout: string, originUrl: string, name: string): Promise<Server> {
  // the access log on (to /dev/null): CMCD requests are logged whole, which is part of their cost
  const edge = await startStreamedge(dir, originUrl, { checkout, workers: WORKERS, logLevel: 'info' });
  return { name, ...edge };
}

async function warm(url: string): Promise<void> {
  for (let i = 0; i < 4; i++) {
    const r = await request(`${url}${PATH}`);
    await r.body.arrayBuffer();
  }
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const round3 = (x: number): number => Math.round(x * 1000) / 1000;

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'streamedge-cmcd-bench-'));
  const machineStart = startMachineInfo();
  const servers: Server[] = [];
  const origin = await startOrigin();
  try {
    for (const mode of MODES) writeFileSync(join(dir, `${mode}.lua`), SCRIPTS[mode]);
    servers.push(await startEdge(join(dir, 'edge'), root, origin.url, 'edge'));
    if (BASELINE) servers.push(await startEdge(join(dir, 'baseline'), BASELINE, origin.url, 'baseline'));
    mkdirSync(join(dir, 'nginx'), { recursive: true });
    const nginx = await startNginxCache(join(dir, 'nginx'), origin.url, '$scheme$proxy_host$uri');
    servers.push({ name: 'nginx', proc: nginx.proc, url: nginx.url });
    for (const s of servers) await warm(s.url);
    // a discarded 2 s run per server and mode first: JIT and caches warm before any measured run
    for (const s of servers) {
      for (const mode of MODES) {
        await wrk(`${s.url}${PATH}`, {
          threads: 1,
          connections: CONNECTIONS,
          seconds: 2,
          script: join(dir, `${mode}.lua`),
        });
      }
    }

    const runs: Run[] = [];
    const order = servers.flatMap((s) => MODES.map((mode) => ({ s, mode })));
    const total = ROUNDS * order.length;
    for (let round = 0; round < ROUNDS; round++) {
      for (const { s, mode } of round % 2 === 0 ? order : [...order].reverse()) {
        const cpu0 = treeCpuSeconds(s.proc.pid!);
        const r = await wrk(`${s.url}${PATH}`, {
          threads: 1,
          connections: CONNECTIONS,
          seconds: DURATION_S,
          script: join(dir, `${mode}.lua`),
        });
        const cpu = treeCpuSeconds(s.proc.pid!) - cpu0;
        runs.push({
          server: s.name,
          mode,
          round,
          reqPerSec: Math.round(r.requestsPerSecond),
          cpuSecondsPer10k: round3((cpu / r.requests) * 10_000),
          errors: r.errors,
          latencyP99Ms: r.latencyP99Ms,
        });
        process.stderr.write(
          `\r[${runs.length}/${total}] ${s.name} ${mode}: ${Math.round(r.requestsPerSecond)} req/s        `,
        );
      }
    }
    process.stderr.write('\n');

    const medians: Record<string, Record<Mode, { reqPerSec: number; cpuSecondsPer10k: number }>> = {};
    for (const s of servers) {
      medians[s.name] = {} as Record<Mode, { reqPerSec: number; cpuSecondsPer10k: number }>;
      for (const mode of MODES) {
        const mine = runs.filter((r) => r.server === s.name && r.mode === mode);
        medians[s.name][mode] = {
          reqPerSec: median(mine.map((r) => r.reqPerSec)),
          cpuSecondsPer10k: round3(median(mine.map((r) => r.cpuSecondsPer10k))),
        };
      }
    }
    const ratio = (a: number, b: number): number => round3(a / b);
    const e = medians['edge'];
    const n = medians['nginx'];
    const ratios: Record<string, number> = {
      edgeCmcdQueryRequestsPerSecondToNginx: ratio(e.cmcdQuery.reqPerSec, n.cmcdQuery.reqPerSec),
      edgeCmcdHeadersRequestsPerSecondToNginx: ratio(e.cmcdHeaders.reqPerSec, n.cmcdHeaders.reqPerSec),
      edgeCmcdQueryRequestsPerSecondToPlain: ratio(e.cmcdQuery.reqPerSec, e.plain.reqPerSec),
      edgeCmcdHeadersRequestsPerSecondToPlain: ratio(e.cmcdHeaders.reqPerSec, e.plain.reqPerSec),
      edgePlainRequestsPerSecondToNginx: ratio(e.plain.reqPerSec, n.plain.reqPerSec),
      edgeCmcdQueryCpuPer10kToNginx: ratio(e.cmcdQuery.cpuSecondsPer10k, n.cmcdQuery.cpuSecondsPer10k),
    };
    const b = medians['baseline'];
    if (b) {
      ratios['cmcdQueryRequestsPerSecondToBaseline'] = ratio(e.cmcdQuery.reqPerSec, b.cmcdQuery.reqPerSec);
      ratios['cmcdHeadersRequestsPerSecondToBaseline'] = ratio(e.cmcdHeaders.reqPerSec, b.cmcdHeaders.reqPerSec);
      ratios['plainRequestsPerSecondToBaseline'] = ratio(e.plain.reqPerSec, b.plain.reqPerSec);
      ratios['cmcdQueryCpuPer10kToBaseline'] = ratio(e.cmcdQuery.cpuSecondsPer10k, b.cmcdQuery.cpuSecondsPer10k);
    }
    const out = {
      bench: 'edge-cmcd',
      command: `node bin/run-ts.js bench/edge-cmcd-bench.ts ${args.join(' ')}`.trim(),
      date: new Date().toISOString(),
      machine: finishMachineInfo(machineStart),
      client: {
        wrk: execFileSync('sh', ['-c', 'wrk -v 2>&1 | head -1'], { encoding: 'utf8' }).trim(),
        threads: 1,
        connections: CONNECTIONS,
        seconds: DURATION_S,
        rounds: ROUNDS,
      },
      workers: WORKERS,
      object: { path: PATH, bytes: 1024 },
      nginx: { version: nginx.version, proxyCacheKey: '$scheme$proxy_host$uri', accessLog: 'off' },
      baseline: BASELINE
        ? execFileSync('git', ['-C', BASELINE, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim()
        : null,
      edgeCheckout: execFileSync('git', ['-C', root, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim(),
      medians,
      ratios,
      runs,
    };
    writeFileSync(OUT, `${JSON.stringify(out, null, 2)}\n`);
    for (const [k, v] of Object.entries(ratios)) console.log(`${k.padEnd(36)} ${v}`);
    for (const [name, m] of Object.entries(medians)) {
      console.log(
        `${name.padEnd(9)} ${MODES.map((mode) => `${mode} ${m[mode].reqPerSec} req/s (${m[mode].cpuSecondsPer10k} cpu-s/10k)`).join(', ')}`,
      );
    }
    console.log(`wrote ${OUT}`);
  } finally {
    for (const s of servers) await stop(s.proc);
    await stop(origin.proc);
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
