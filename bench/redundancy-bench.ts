/**
 * Redundant live origins under load: the scenario of bench/redundant-origins.ts (two origin
 * processes with the same --epoch, one edge with --upstream a,b, load-tester viewers on LL-HLS,
 * origin A SIGKILLed once every viewer plays). Same-run baseline: the stalls in the window before
 * the kill; the failover's own stalls are those after it less that. Writes
 * bench/results/redundancy.json.
 *
 *   node bin/run-ts.js bench/redundancy-bench.ts [--viewers 200] [--seconds 24]
 */
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { finishMachineInfo, startMachineInfo } from './machine-info.js';
import { runRedundantOrigins } from './redundant-origins.js';
import { arg } from './bench-args.js';

const machineStart = startMachineInfo();
const here = dirname(fileURLToPath(import.meta.url));

const viewers = Number(arg('viewers', '200'));
const seconds = Number(arg('seconds', '24'));
const windowSec = 10;
const r = await runRedundantOrigins({
  viewers,
  killAfterSec: 12,
  windowSec,
  rampSec: 3,
  durationSec: seconds,
  workers: 1,
});
const rep = r.report;
const result = {
  bench: 'redundancy',
  what: 'LL-HLS viewers through one edge over two epoch-locked live origins, origin A SIGKILLed mid-run',
  workload: {
    viewers,
    durationSeconds: seconds,
    killedAtSeconds: r.killedAtSec ?? null,
    windowSeconds: windowSec,
    segmentSeconds: 1,
    partSeconds: 0.5,
    source: 'lavfi 320x180@30 + AAC, 180p rung + audio',
  },
  totals: {
    viewersFailed: rep.viewers.failed,
    errors: rep.errors,
    stalls: rep.stalls,
    stallsBeforeKill: r.stallsBefore,
    stallsAfterKill: r.stallsAfter,
    failoverStalls: r.failoverStalls,
    failoverStallsPer10Viewers: r.failoverStallsPer10Viewers,
    edgeFailovers: r.failovers,
    edgeFailoversByReason: r.failoversByReason,
    rebufferRatio: rep.rebufferRatio,
    liveLatencyP50Seconds: rep.liveLatencySec?.p50 ?? null,
    testerValid: rep.loadTester.valid,
    testerEventLoopP99Ms: rep.loadTester.eventLoopDelayP99Ms,
  },
  // one point a second: viewers playing, requests/s, cumulative stalls and errors, latency
  series: rep.timeline,
  // The failover's stalls per 10 viewers against the goal of 1 (≤ 1 meets it).
  ratios: { failoverStallsPer10ViewersToGoal: r.failoverStallsPer10Viewers / 1 },
  machine: finishMachineInfo(machineStart),
};
const out = join(here, 'results', 'redundancy.json');
writeFileSync(out, JSON.stringify(result, null, 2) + '\n');
process.stdout.write(`${JSON.stringify(result.totals)}\nwrote ${out}\n`);
process.exit(0);
