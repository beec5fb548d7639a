/**
 * What a CLI start costs (bin/ts-launch.js):
 *
 *   node bin/run-ts.js bench/startup-bench.ts [--rounds 3] [--before <checkout>] [--out <json>]
 *
 * Each command is started as a user starts it (`node bin/streamedge.js …`) through tsx (A, the
 * baseline: STREAMEDGE_TSX=1, every module through tsx's loader hooks, as every start was before
 * the launcher) and from the cached bundle (B), in ABBA order, `rounds` times; each start's CPU
 * seconds (the child's user + system, from this process's cutime/cstime) and wall time. The
 * commands stop after parsing (help, or a refusal), so the figure is the start-up alone: what every
 * `package` run, every edge worker and every test that spawns the CLI pays before its work. The
 * bundle's own build (the first start after a change) is measured once per command against an
 * empty cache. `--before <checkout>` adds the CLI of another checkout (with its node_modules) as a
 * third mode, started as it starts, in the order before, tsx, bundle, bundle, tsx, before: the
 * checkout before the launcher loaded every command's modules through tsx on every start.
 * Writes bench/results/startup.json (or `--out`).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { finishMachineInfo, startMachineInfo } from './machine-info.js';
import { childrenCpuSec, median } from './process-cpu.js';
import { arg } from './bench-args.js';

const machineStart = startMachineInfo();
const root = resolve(import.meta.dirname, '..');
const cli = join(root, 'bin', 'streamedge.js');

const rounds = Math.max(1, Number(arg('rounds', '3')));
const out = arg('out', join(root, 'bench', 'results', 'startup.json'));
const work = mkdtempSync(join(tmpdir(), 'se-startup-bench-'));
// Bundles import packages by name, so their caches live under the checkout's node_modules.
const caches = mkdtempSync(join(root, 'node_modules', '.cache', 'startup-bench-'));
const cache = join(caches, 'warm');

/** Each command with the arguments that make it stop right after parsing, and what it then exits with. */
const COMMANDS: { name: string; args: string[]; exit: number }[] = [
  { name: 'help', args: ['--help'], exit: 0 },
  { name: 'package', args: ['package', 'in.mp4', '--out', work, '--video-codecs', 'vp9'], exit: 1 },
  { name: 'edge', args: ['edge', '--help'], exit: 0 },
  { name: 'loadtest', args: ['loadtest', '--help'], exit: 0 },
];

const before = arg('before', '');
type Mode = 'before' | 'tsx' | 'bundle';
const ORDER: Mode[] = before
  ? ['before', 'tsx', 'bundle', 'bundle', 'tsx', 'before']
  : ['tsx', 'bundle', 'bundle', 'tsx'];

function start(
  mode: Mode,
  args: string[],
  expectExit: number,
  launchCache = cache,
): { cpuSec: number; wallMs: number } {
  const cpu0 = childrenCpuSec();
  const t0 = performance.now();
  const entry = mode === 'before' ? join(resolve(before), 'bin', 'streamedge.js') : cli;
  const r = spawnSync(process.execPath, [entry, ...args], {
    env: { ...process.env, STREAMEDGE_LAUNCH_CACHE: launchCache, ...(mode === 'tsx' ? { STREAMEDGE_TSX: '1' } : {}) },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const wallMs = performance.now() - t0;
  if (r.status !== expectExit) {
    throw new Error(`streamedge ${args.join(' ')} (${mode}) exited ${r.status}: ${r.stderr.toString().slice(-500)}`);
  }
  return { cpuSec: childrenCpuSec() - cpu0, wallMs };
}

function gitHead(dir: string): string {
  return execFileSync('git', ['-C', dir, 'log', '-1', '--format=%h %s'], { encoding: 'utf8' }).trim().slice(0, 100);
}

const results = COMMANDS.map((c) => {
  // The first start after a change: builds the bundle (an empty cache of its own), then runs it.
  const cold = start('bundle', c.args, c.exit, join(caches, `cold-${c.name}`));
  start('bundle', c.args, c.exit); // warms the shared cache
  const runs: Record<Mode, { cpuSec: number; wallMs: number }[]> = { before: [], tsx: [], bundle: [] };
  const m = (mode: Mode, k: 'cpuSec' | 'wallMs'): number => median(runs[mode].map((x) => x[k]));
  for (let r = 0; r < rounds; r++) {
    for (const mode of ORDER) runs[mode].push(start(mode, c.args, c.exit));
    process.stdout.write(
      `  ${c.name.padEnd(9)} round ${r + 1}/${rounds}:` +
        ORDER.slice(0, ORDER.length / 2)
          .map((mode) => ` ${mode} ${m(mode, 'cpuSec').toFixed(2)} CPU-s`)
          .join(',') +
        '\n',
    );
  }
  const beforeFigures = before
    ? {
        beforeCpuSec: m('before', 'cpuSec'),
        beforeWallMs: Math.round(m('before', 'wallMs')),
      }
    : {};
  const beforeRatios = before
    ? {
        startupCpuBundleToBefore: Number((m('bundle', 'cpuSec') / m('before', 'cpuSec')).toFixed(3)),
        startupWallBundleToBefore: Number((m('bundle', 'wallMs') / m('before', 'wallMs')).toFixed(3)),
      }
    : {};
  return {
    name: c.name,
    command: `streamedge ${c.args.join(' ').replace(work, '<tmp>')}`,
    startsPerMode: runs.tsx.length,
    medians: {
      ...beforeFigures,
      tsxCpuSec: m('tsx', 'cpuSec'),
      bundleCpuSec: m('bundle', 'cpuSec'),
      tsxWallMs: Math.round(m('tsx', 'wallMs')),
      bundleWallMs: Math.round(m('bundle', 'wallMs')),
    },
    coldBundle: { cpuSec: cold.cpuSec, wallMs: Math.round(cold.wallMs) },
    ratios: {
      ...beforeRatios,
      startupCpuBundleToTsx: Number((m('bundle', 'cpuSec') / m('tsx', 'cpuSec')).toFixed(3)),
      startupWallBundleToTsx: Number((m('bundle', 'wallMs') / m('tsx', 'wallMs')).toFixed(3)),
    },
  };
});
rmSync(work, { recursive: true, force: true });
rmSync(caches, { recursive: true, force: true });

const result = {
  bench: 'startup',
  machine: finishMachineInfo(machineStart),
  date: new Date().toISOString(),
  command: `node bin/run-ts.js bench/startup-bench.ts --rounds ${rounds}${before ? ' --before <checkout>' : ''}`,
  order: before
    ? 'ABCCBA per command (A: the checkout before the launcher, every module through tsx; B: this one through tsx; C: its cached bundle)'
    : 'ABBA per command (A: through tsx, the baseline; B: the cached bundle)',
  before: before ? gitHead(before) : undefined,
  rounds,
  commands: results,
};
writeFileSync(out, JSON.stringify(result, null, 2) + '\n');
process.stdout.write(
  `\ncommand   ${before ? ' before CPU-s' : ''}  tsx CPU-s  bundle CPU-s  ratio   tsx wall  bundle wall  cold bundle\n`,
);
for (const r of results) {
  const b = r.medians.beforeCpuSec === undefined ? '' : r.medians.beforeCpuSec.toFixed(2).padStart(13);
  process.stdout.write(
    `${r.name.padEnd(10)}${b} ${r.medians.tsxCpuSec.toFixed(2).padStart(9)}  ${r.medians.bundleCpuSec.toFixed(2).padStart(12)}  ` +
      `${r.ratios.startupCpuBundleToTsx.toFixed(2).padStart(5)}  ${String(r.medians.tsxWallMs).padStart(6)} ms  ` +
      `${String(r.medians.bundleWallMs).padStart(8)} ms  ${String(r.coldBundle.wallMs).padStart(7)} ms\n`,
  );
}
process.stdout.write(`written to ${out}\n`);
