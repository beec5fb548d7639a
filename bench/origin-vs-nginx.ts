/**
 * The origin's VOD files against nginx serving the same folder, same run, same machine: what a
 * media team gives up (or not) by serving packaged assets from `streamedge origin` instead of
 * pointing nginx at the output folder. Writes bench/results/origin-vs-nginx.json.
 *
 *   node bin/run-ts.js bench/origin-vs-nginx.ts [--rounds 4] [--duration 6] [--connections 32]
 *
 * - The demo sample (8 s of 720p) packaged with the small ladder; three files asked for: the
 *   asset's entry point (`master.m3u8`, short-lived), a media playlist of its version
 *   (immutable) and a 2 s 360p segment of it (immutable).
 * - The origin: `streamedge origin --root` as a user starts it (one process, logging at info into
 *   a pipe this process drains). nginx as its users configure a static server: worker_processes =
 *   cores, sendfile and tcp_nopush on, its MIME types for m3u8 and m4s, the same Cache-Control
 *   (versioned files a year and immutable, entry points 30 s), access log off.
 * - Per file, rounds of wrk -t1 -c<C> -d<D>s in ABBA order (odd rounds reversed): CPU-µs per
 *   request of each server's process tree (/proc utime + stime around the run) and requests/s,
 *   medians over rounds; the ratios are the origin's over nginx's.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os, { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { packageVod } from '../packager/vod-job.js';
import { fixture } from '../media-fixtures/generate.js';
import { freePort } from './free-port.js';
import { finishMachineInfo, startMachineInfo } from './machine-info.js';
import { nginxBinary, nginxConfigHead, startNginx } from './nginx-proxy-cache.js';
import { median, treeCpuSeconds } from './process-cpu.js';
import { wrk } from './wrk.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const at = (name: string): string | undefined => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};
const ROUNDS = Number(at('rounds') ?? 4);
const DURATION_S = Number(at('duration') ?? 6);
const CONNECTIONS = Number(at('connections') ?? 32);
const OUT = join(root, 'bench/results/origin-vs-nginx.json');
const CORES = os.availableParallelism();
const FILES = {
  entryPoint: 'master.m3u8',
  mediaPlaylist: 'v1/360p/index.m3u8',
  segment: 'v1/360p/seg-2.m4s',
} as const;
type File = keyof typeof FILES;
type Server = 'origin' | 'nginx';

const dir = mkdtempSync(join(tmpdir(), 'se-origin-nginx-'));
const media = join(dir, 'vod');
process.stdout.write('packaging the sample…\n');
await packageVod({
  input: await fixture('sample'),
  outDir: media,
  assetId: 'movie',
  ladder: 'small',
  segmentDuration: 2,
});
const sizes = Object.fromEntries(
  Object.entries(FILES).map(([k, f]) => [k, statSync(join(media, 'movie', f)).size]),
) as Record<File, number>;

async function startOrigin(): Promise<{ proc: ChildProcess; url: string }> {
  const port = await freePort();
  const proc = spawn(
    process.execPath,
    [join(root, 'bin/streamedge.js'), 'origin', '--root', media, '--host', '127.0.0.1', '--port', String(port)],
    { stdio: ['ignore', 'pipe', 'inherit'], cwd: root },
  );
  proc.stdout.resume(); // its access log, drained as a pipe to a log collector would be
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    const ok = await fetch(`${url}/vod/movie/${FILES.entryPoint}`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return { proc, url };
    if (Date.now() > deadline) throw new Error('the origin did not answer');
    await new Promise((r) => setTimeout(r, 100));
  }
}

const nginxDir = join(dir, 'nginx');
mkdirSync(nginxDir);
const nginxConfig = (port: number) => `${nginxConfigHead(nginxDir, { workerConnections: 4096, workerProcesses: CORES })}
  sendfile on;
  tcp_nopush on;
  types {
    application/vnd.apple.mpegurl m3u8;
    application/dash+xml mpd;
    video/iso.segment m4s;
    video/mp4 mp4;
  }
  server {
    listen 127.0.0.1:${port};
    root ${dir};
    location ~ ^/vod/[^/]+/v[0-9]+/ { add_header Cache-Control "public, max-age=31536000, immutable"; }
    location /vod/ { add_header Cache-Control "public, max-age=30"; }
  }
}
`;

const machine = startMachineInfo();
const servers: Record<Server, { proc: ChildProcess; url: string; version?: string }> = {
  origin: await startOrigin(),
  nginx: await startNginx(nginxBinary(), nginxDir, nginxConfig, `/vod/movie/${FILES.entryPoint}`),
};
interface Run {
  cpuUsPerRequest: number;
  requestsPerSecond: number;
  latencyP99Ms: number;
}
const runs = {} as Record<File, Record<Server, Run[]>>;
try {
  // the same bytes from both (the origin's answer is the file)
  for (const f of Object.keys(FILES) as File[]) {
    const [a, b] = await Promise.all(
      (['origin', 'nginx'] as Server[]).map(async (s) =>
        Buffer.from(await (await fetch(`${servers[s].url}/vod/movie/${FILES[f]}`)).arrayBuffer()),
      ),
    );
    if (!a.equals(b) || !a.equals(readFileSync(join(media, 'movie', FILES[f]))))
      throw new Error(`${f}: different bytes`);
  }
  for (const f of Object.keys(FILES) as File[]) {
    runs[f] = { origin: [], nginx: [] };
    for (const s of ['origin', 'nginx'] as Server[])
      await wrk(`${servers[s].url}/vod/movie/${FILES[f]}`, { threads: 1, connections: CONNECTIONS, seconds: 2 });
    for (let round = 0; round < ROUNDS; round++) {
      const order: Server[] = round % 2 === 0 ? ['origin', 'nginx'] : ['nginx', 'origin'];
      for (const s of order) {
        const pid = servers[s].proc.pid!;
        const cpu0 = treeCpuSeconds(pid);
        const r = await wrk(`${servers[s].url}/vod/movie/${FILES[f]}`, {
          threads: 1,
          connections: CONNECTIONS,
          seconds: DURATION_S,
        });
        const cpu = treeCpuSeconds(pid) - cpu0;
        if (r.errors > 0) throw new Error(`${s} ${f}: ${r.errors} errors`);
        runs[f][s].push({
          cpuUsPerRequest: Math.round((cpu / r.requests) * 1e6 * 100) / 100,
          requestsPerSecond: Math.round(r.requestsPerSecond),
          latencyP99Ms: r.latencyP99Ms,
        });
        process.stdout.write(`${f} round ${round + 1}/${ROUNDS} ${s}: ${JSON.stringify(runs[f][s].at(-1))}\n`);
      }
    }
  }
} finally {
  for (const s of Object.values(servers)) s.proc.kill('SIGTERM');
  rmSync(dir, { recursive: true, force: true });
}

const med = (f: File, s: Server, k: keyof Run) => Math.round(median(runs[f][s].map((r) => r[k])) * 100) / 100;
const ratio = (a: number, b: number) => Math.round((a / b) * 1000) / 1000;
const files = Object.fromEntries(
  (Object.keys(FILES) as File[]).map((f) => [
    f,
    {
      path: FILES[f],
      bytes: sizes[f],
      medians: {
        origin: {
          cpuUsPerRequest: med(f, 'origin', 'cpuUsPerRequest'),
          requestsPerSecond: med(f, 'origin', 'requestsPerSecond'),
        },
        nginx: {
          cpuUsPerRequest: med(f, 'nginx', 'cpuUsPerRequest'),
          requestsPerSecond: med(f, 'nginx', 'requestsPerSecond'),
        },
      },
      ratios: {
        cpuPerRequestOriginOverNginx: ratio(med(f, 'origin', 'cpuUsPerRequest'), med(f, 'nginx', 'cpuUsPerRequest')),
        requestsPerSecondOriginOverNginx: ratio(
          med(f, 'origin', 'requestsPerSecond'),
          med(f, 'nginx', 'requestsPerSecond'),
        ),
      },
      runs: runs[f],
    },
  ]),
);
const result = {
  bench: 'origin-vs-nginx',
  command: `node bin/run-ts.js bench/origin-vs-nginx.ts --rounds ${ROUNDS} --duration ${DURATION_S} --connections ${CONNECTIONS}`,
  setup: {
    rounds: ROUNDS,
    durationSeconds: DURATION_S,
    connections: CONNECTIONS,
    client: 'wrk -t1 (HTTP/1.1 keep-alive), one file per series, ABBA rounds',
    origin: 'streamedge origin --root (one process, access log at info into a drained pipe)',
    nginx: `${servers.nginx.version ?? 'nginx'}, worker_processes ${CORES}, sendfile, tcp_nopush, access_log off`,
  },
  files,
  machine: finishMachineInfo(machine),
};
mkdirSync(dirname(OUT), { recursive: true });
writeFileSync(OUT, JSON.stringify(result, null, 2) + '\n');
for (const [f, v] of Object.entries(files)) process.stdout.write(`${f} (${v.bytes} B): ${JSON.stringify(v.ratios)}\n`);
