/**
 * The origin's CPU per request for a small VOD file, this checkout's origin against a baseline
 * checkout's, both logging at their default (info, JSON lines on standard output into a pipe, as
 * under systemd or a container runtime), same run, same machine: an A/B of a change to the
 * origin's request path (session 36: its access log, `origin-log-ab.json`; its VOD file path,
 * `origin-vod-ab.json`). Writes bench/results/origin-ab.json unless told otherwise.
 *
 *   node bin/run-ts.js bench/origin-ab.ts --baseline <checkout dir> [--rounds 4] [--duration 6]
 *     [--connections 32] [--target playlist|segment|large-segment] [--out <file>]
 *
 * - Both checkouts' `streamedge origin` serve one small VOD playlist (1 KiB, the entry point of an
 *   asset with a version history) from one folder; this process reads both origins' standard
 *   output and throws it away.
 * - Each round runs wrk -t1 -c<C> -d<D>s on the playlist against each origin, in ABBA order (odd
 *   rounds reversed); the figures are CPU-µs per request of each origin's process (/proc utime +
 *   stime around the wrk run), log bytes per request, and requests/s, medians over rounds. The
 *   ratios compare this checkout's medians with the baseline's.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { abRun } from './ab-run.js';
import { freePort } from './free-port.js';
import { finishMachineInfo, startMachineInfo } from './machine-info.js';
import { median, treeCpuSeconds } from './process-cpu.js';
import { wrk } from './wrk.js';

const ab = abRun();
const at = ab.option;
const root = ab.root;
const BASELINE = ab.baseline;
const ROUNDS = Number(at('rounds') ?? 4);
const DURATION_S = Number(at('duration') ?? 6);
const CONNECTIONS = Number(at('connections') ?? 32);
const OUT = at('out') ?? join(root, 'bench/results/origin-ab.json');
/** What is asked for: the asset's entry point (a 1 KiB playlist), a 4 KiB or a 160 kB segment of its version. */
const TARGETS = {
  playlist: 'master.m3u8',
  segment: 'v1/360p/seg-1.m4s',
  'large-segment': 'v1/360p/seg-2.m4s',
} as const;
const TARGET = (at('target') ?? 'playlist') as keyof typeof TARGETS;
if (!(TARGET in TARGETS)) throw new Error('--target playlist|segment|large-segment');

type Tree = 'baseline' | 'current';
interface Origin {
  proc: ChildProcess;
  url: string;
  logBytes: number;
}

async function startOrigin(tree: Tree, dir: string): Promise<Origin> {
  const checkout = tree === 'baseline' ? BASELINE : root;
  const port = await freePort();
  const proc = spawn(
    process.execPath,
    [join(checkout, 'bin/streamedge.js'), 'origin', '--root', dir, '--host', '127.0.0.1', '--port', String(port)],
    { stdio: ['ignore', 'pipe', 'inherit'], cwd: checkout },
  );
  const o: Origin = { proc, url: `http://127.0.0.1:${port}/vod/movie/${TARGETS[TARGET]}`, logBytes: 0 };
  proc.stdout.on('data', (d: Buffer) => (o.logBytes += d.length));
  const deadline = Date.now() + 30_000;
  for (;;) {
    const ok = await fetch(o.url).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return o;
    if (Date.now() > deadline) throw new Error(`the ${tree} origin did not answer`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const dir = mkdtempSync(join(tmpdir(), 'se-origin-ab-'));
mkdirSync(join(dir, 'movie'));
// a packaged asset has a version history (its entry points are then short-lived); its content is not read
writeFileSync(join(dir, 'movie', '.asset.json'), '{}\n');
mkdirSync(join(dir, 'movie', 'v1', '360p'), { recursive: true });
writeFileSync(join(dir, 'movie', 'v1', '360p', 'seg-1.m4s'), Buffer.alloc(4096, 7));
writeFileSync(join(dir, 'movie', 'v1', '360p', 'seg-2.m4s'), Buffer.alloc(160_000, 7)); // a 2 s 360p segment
writeFileSync(
  join(dir, 'movie', 'master.m3u8'),
  '#EXTM3U\n#EXT-X-VERSION:7\n' +
    Array.from(
      { length: 8 },
      (_, i) =>
        `#EXT-X-STREAM-INF:BANDWIDTH=${(i + 1) * 400_000},RESOLUTION=640x360,CODECS="avc1.64001e,mp4a.40.2"\nv${i}/index.m3u8\n`,
    ).join(''),
);
const machine = startMachineInfo();
const origins: Record<Tree, Origin> = {
  baseline: await startOrigin('baseline', dir),
  current: await startOrigin('current', dir),
};
const runs: Record<Tree, { cpuUsPerRequest: number; requestsPerSecond: number; logBytesPerRequest: number }[]> = {
  baseline: [],
  current: [],
};
try {
  // warm both (JIT, the file's cache)
  for (const t of ['baseline', 'current'] as Tree[])
    await wrk(origins[t].url, { threads: 1, connections: CONNECTIONS, seconds: 2 });
  for (let round = 0; round < ROUNDS; round++) {
    const order: Tree[] = round % 2 === 0 ? ['baseline', 'current'] : ['current', 'baseline'];
    for (const t of order) {
      const o = origins[t];
      const cpu0 = treeCpuSeconds(o.proc.pid!);
      const log0 = o.logBytes;
      const r = await wrk(o.url, { threads: 1, connections: CONNECTIONS, seconds: DURATION_S });
      await new Promise((res) => setTimeout(res, 200)); // the last lines reach the pipe
      const cpu = treeCpuSeconds(o.proc.pid!) - cpu0;
      if (r.errors > 0) throw new Error(`${t}: ${r.errors} errors`);
      runs[t].push({
        cpuUsPerRequest: Math.round((cpu / r.requests) * 1e6 * 100) / 100,
        requestsPerSecond: Math.round(r.requestsPerSecond),
        logBytesPerRequest: Math.round(((o.logBytes - log0) / r.requests) * 10) / 10,
      });
      process.stdout.write(`round ${round + 1}/${ROUNDS} ${t}: ${JSON.stringify(runs[t].at(-1))}\n`);
    }
  }
} finally {
  for (const o of Object.values(origins)) o.proc.kill('SIGTERM');
  rmSync(dir, { recursive: true, force: true });
}
const med = (t: Tree, k: 'cpuUsPerRequest' | 'requestsPerSecond' | 'logBytesPerRequest') =>
  Math.round(median(runs[t].map((r) => r[k])) * 100) / 100;
const result = {
  bench: 'origin-ab',
  command: `node bin/run-ts.js bench/origin-ab.ts --baseline <baseline checkout> --rounds ${ROUNDS} --duration ${DURATION_S} --connections ${CONNECTIONS}${TARGET !== 'playlist' ? ` --target ${TARGET}` : ''}${at('out') ? ` --out bench/results/${basename(OUT)}` : ''}`,
  setup: {
    ...ab.commits(),
    rounds: ROUNDS,
    durationSeconds: DURATION_S,
    connections: CONNECTIONS,
    client: `wrk -t1, one ${{ playlist: '1 KiB playlist (the entry point)', segment: '4 KiB segment of v1', 'large-segment': '160 kB segment of v1' }[TARGET]}, both origins logging at info into a pipe this process drains`,
  },
  runs,
  medians: {
    baseline: {
      cpuUsPerRequest: med('baseline', 'cpuUsPerRequest'),
      requestsPerSecond: med('baseline', 'requestsPerSecond'),
      logBytesPerRequest: med('baseline', 'logBytesPerRequest'),
    },
    current: {
      cpuUsPerRequest: med('current', 'cpuUsPerRequest'),
      requestsPerSecond: med('current', 'requestsPerSecond'),
      logBytesPerRequest: med('current', 'logBytesPerRequest'),
    },
  },
  ratios: {
    cpuPerRequestCurrentOverBaseline:
      Math.round((med('current', 'cpuUsPerRequest') / med('baseline', 'cpuUsPerRequest')) * 1000) / 1000,
    requestsPerSecondCurrentOverBaseline:
      Math.round((med('current', 'requestsPerSecond') / med('baseline', 'requestsPerSecond')) * 1000) / 1000,
  },
  machine: finishMachineInfo(machine),
};
mkdirSync(dirname(OUT), { recursive: true });
writeFileSync(OUT, JSON.stringify(result, null, 2) + '\n');
process.stdout.write(`${JSON.stringify(result.medians)}\n${JSON.stringify(result.ratios)}\n`);
