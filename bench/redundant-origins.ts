/**
 * The redundant-live-origins scenario (issue 17 part 3), shared by its test
 * (test/integration/live/redundant-origins.test.ts) and its bench (bench/redundancy-bench.ts):
 * one live lavfi channel on two origin PROCESSES started with the same `--epoch`, one edge in this
 * process with `--upstream a,b`, load-tester viewers playing LL-HLS through the edge, and origin A
 * SIGKILLed once every viewer plays. Returns the load report and the failover figures.
 *
 * Stalls the failover caused are those in the `windowSec` after the kill less those in the
 * `windowSec` before it (the same run's steady rate): on a shared, loaded machine viewers stall
 * now and then with no failover at all, and that is not what this measures.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { request } from 'undici';
import { createEdge, type Edge } from '../edge/server.js';
import { freePort } from './free-port.js';
import { runLoadTest } from './loadtest/run.js';
import type { LoadReport } from './loadtest/report.js';

const CLI = resolve(import.meta.dirname, '../bin/streamedge.js');
const SOURCE = 'lavfi:testsrc2=size=320x180:rate=30';

export interface RedundantOriginsOptions {
  viewers: number;
  /** Origin A is killed once every viewer plays and at least this long into the run. */
  killAfterSec: number;
  windowSec: number;
  rampSec: number;
  durationSec: number;
  workers: number;
}

export interface RedundantOriginsResult {
  report: LoadReport;
  /** Seconds into the run at which origin A was SIGKILLed (undefined: it never was). */
  killedAtSec: number | undefined;
  /** Origin A exited by SIGKILL. */
  killedBySignal: boolean;
  /** The edge's current upstream was A before the run and B after it. */
  primaryWasCurrent: boolean;
  backupIsCurrent: boolean;
  /** edge_upstream_failovers_total{reason="connect"} after the run. */
  failovers: number;
  /** Every edge_upstream_failovers_total after the run, by reason (timeout, 5xx, body, recovered...). */
  failoversByReason: Record<string, number>;
  stallsBefore: number;
  stallsAfter: number;
  failoverStalls: number;
  failoverStallsPer10Viewers: number;
}

interface OriginProcess {
  url: string;
  child: ChildProcess;
}

async function waitFor(what: string, timeoutMs: number, fn: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function startOrigin(root: string, ladder: string, epochSec: number): Promise<OriginProcess> {
  mkdirSync(root);
  const port = await freePort();
  let err = '';
  const args = ['--live', `ch=${SOURCE}`, '--segment', '1', '--part', '0.5', '--dvr', '30', '--live-ladder', ladder];
  const child = spawn(
    process.execPath,
    [
      CLI,
      'origin',
      '--root',
      root,
      '--port',
      String(port),
      ...args,
      '--epoch',
      String(epochSec),
      '--log-level',
      'warn',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  child.stderr.on('data', (d: Buffer) => {
    if (err.length < 64 * 1024) err += d.toString();
  });
  const url = `http://127.0.0.1:${port}`;
  await waitFor(`origin ${root} to produce two segments`, 40_000, async () => {
    if (child.exitCode !== null) throw new Error(`origin exited ${child.exitCode}: ${err}`);
    try {
      const r = await request(`${url}/live/ch/180p/index.m3u8`);
      const text = await r.body.text();
      return r.statusCode === 200 && (text.match(/^#EXTINF:/gm) ?? []).length >= 2;
    } catch {
      return false;
    }
  });
  return { url, child };
}

async function stop(o: OriginProcess): Promise<void> {
  if (o.child.exitCode !== null || o.child.signalCode !== null) return;
  const exited = new Promise((r) => o.child.once('exit', r));
  o.child.kill('SIGTERM');
  await exited;
}

async function edgeMetric(edgeUrl: string, line: RegExp): Promise<number> {
  const r = await request(`${edgeUrl}/_edge/metrics`);
  const l = (await r.body.text()).split('\n').find((x) => line.test(x));
  return l === undefined ? 0 : Number(l.split(' ').pop());
}

async function failoversByReason(edgeUrl: string): Promise<Record<string, number>> {
  const r = await request(`${edgeUrl}/_edge/metrics`);
  const out: Record<string, number> = {};
  for (const l of (await r.body.text()).split('\n')) {
    const m = /^edge_upstream_failovers_total\{reason="([^"]+)"\} (\S+)$/.exec(l);
    if (m) out[m[1]] = Number(m[2]);
  }
  return out;
}

const current = (u: string): RegExp => new RegExp(`^edge_upstream_current\\{upstream="${u}"\\}`);

export async function runRedundantOrigins(o: RedundantOriginsOptions): Promise<RedundantOriginsResult> {
  const dir = mkdtempSync(join(tmpdir(), 'se-redundant-'));
  const ladder = join(dir, 'ladder.json');
  writeFileSync(
    ladder,
    JSON.stringify({
      video: [{ height: 180, bitrate: '200k', profile: 'main', id: '180p' }],
      audio: { bitrate: '64k' },
    }),
  );
  const epochSec = Math.floor(Date.now() / 1000) - 86_400; // yesterday, on a whole second
  const origins: OriginProcess[] = [];
  let edge: Edge | undefined;
  try {
    origins.push(await startOrigin(join(dir, 'a'), ladder, epochSec));
    origins.push(await startOrigin(join(dir, 'b'), ladder, epochSec));
    const [a, b] = origins;
    edge = createEdge({
      upstream: `${a.url},${b.url}`,
      keyHeaders: ['accept-encoding'],
      logLevel: 'silent',
      store: { dir: join(dir, 'store'), capacityBytes: 128 * 1024 * 1024 },
    });
    const edgeUrl = await edge.listen(0, '127.0.0.1');
    const primaryWasCurrent = (await edgeMetric(edgeUrl, current(a.url))) === 1;
    let killedAtSec: number | undefined;
    const aExited = new Promise<void>((r) => a.child.once('exit', () => r()));
    const report = await runLoadTest({
      url: `${edgeUrl}/live/ch/master.m3u8`,
      viewers: o.viewers,
      rampSec: o.rampSec,
      durationSec: o.durationSec,
      workers: o.workers,
      onProgress: (_line, s) => {
        // mid-run, once every viewer plays: origin A dies without warning
        if (killedAtSec === undefined && s.playing === o.viewers && s.elapsedSec >= o.killAfterSec) {
          killedAtSec = s.elapsedSec;
          a.child.kill('SIGKILL');
        }
      },
    });
    if (killedAtSec !== undefined) await aExited;
    const stallsAt = (t: number): number => {
      let v = 0;
      for (const p of report.timeline) if (p.t <= t) v = p.stalls;
      return v;
    };
    const k = killedAtSec ?? 0;
    const stallsBefore = stallsAt(k) - stallsAt(k - o.windowSec);
    const stallsAfter = stallsAt(k + o.windowSec) - stallsAt(k);
    const failoverStalls = Math.max(0, stallsAfter - stallsBefore);
    return {
      report,
      killedAtSec,
      killedBySignal: a.child.signalCode === 'SIGKILL',
      primaryWasCurrent,
      backupIsCurrent: (await edgeMetric(edgeUrl, current(b.url))) === 1,
      failovers: await edgeMetric(edgeUrl, /^edge_upstream_failovers_total\{reason="connect"\}/),
      failoversByReason: await failoversByReason(edgeUrl),
      stallsBefore,
      stallsAfter,
      failoverStalls,
      failoverStallsPer10Viewers: (failoverStalls / o.viewers) * 10,
    };
  } finally {
    await edge?.close();
    for (const x of origins) await stop(x);
    rmSync(dir, { recursive: true, force: true });
  }
}
