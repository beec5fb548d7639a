#!/usr/bin/env node
/**
 * The vitest half of `npm test`: the node project (unit and integration suites) and the browser
 * project (Chromium) run at the same time, as two vitest processes, each one file at a time.
 *
 * Why: the browser suites play real media in real time and leave most of a core idle while they
 * wait on the clock (58 % of 2 cores busy over the demo-player file); run after the node suites,
 * as one vitest run does, they made the suite 30+ minutes on 2 cores. Side by side, two test files
 * run at once, as in the node phase before: one node file (with its ffmpeg and servers) and one
 * browser file (which were never run two at once: each may run live channels with their own
 * ffmpeg).
 *
 *   node test/run-suites.js [vitest options for both, e.g. -t "name"]
 *
 * The node project's output streams through as it comes; the browser project's lines are
 * prefixed `[browser]`. Each writes its JSON report (test-results/vitest-<project>.json); the two
 * are merged into test-results/vitest.json, which CI reads. Exits non-zero when either failed or
 * wrote no report. `npx vitest run` still runs everything in one process (node suites first).
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const resultsDir = join(root, 'test-results');
const vitest = join(root, 'node_modules', 'vitest', 'vitest.mjs');
const extra = process.argv.slice(2);
// with a filter, one project may hold none of the files named: that is not a failure
if (extra.length > 0) extra.push('--passWithNoTests');

/** Runs one project; resolves with its exit code once its output is drained. */
function runProject(project, prefix) {
  const report = join(resultsDir, `vitest-${project}.json`);
  const child = spawn(process.execPath, [vitest, 'run', '--project', project, '--maxWorkers', '1', ...extra], {
    cwd: root,
    env: { ...process.env, VITEST_JSON: report, FORCE_COLOR: process.stdout.isTTY ? '1' : process.env.FORCE_COLOR },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const pipe = (from, to) => {
    const lines = createInterface({ input: from, crlfDelay: Infinity });
    lines.on('line', (line) => to.write(`${prefix}${line}\n`));
    return new Promise((resolve) => lines.once('close', resolve));
  };
  const drained = Promise.all([pipe(child.stdout, process.stdout), pipe(child.stderr, process.stderr)]);
  const exited = new Promise((resolve) => {
    child.once('error', (err) => {
      process.stderr.write(`${prefix}could not start vitest: ${err.message}\n`);
      resolve(1);
    });
    child.once('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
  return Promise.all([exited, drained]).then(([code]) => ({ project, code, report }));
}

function readReport(file) {
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    return undefined;
  }
}

/** One report in vitest's JSON shape (the fields CI and people read), from each project's. */
function merge(runs) {
  const reports = runs.map((r) => ({ ...r, json: readReport(r.report) }));
  const sum = (field) => reports.reduce((n, r) => n + (r.json?.[field] ?? 0), 0);
  const missing = reports.filter((r) => r.json === undefined).map((r) => r.project);
  return {
    numTotalTestSuites: sum('numTotalTestSuites'),
    numPassedTestSuites: sum('numPassedTestSuites'),
    numFailedTestSuites: sum('numFailedTestSuites'),
    numPendingTestSuites: sum('numPendingTestSuites'),
    numTotalTests: sum('numTotalTests'),
    numPassedTests: sum('numPassedTests'),
    // a project that wrote no report (vitest crashed, or never started) counts as one failure
    numFailedTests: sum('numFailedTests') + missing.length,
    numPendingTests: sum('numPendingTests'),
    numTodoTests: sum('numTodoTests'),
    numRuntimeErrorTests: sum('numRuntimeErrorTests'),
    startTime: Math.min(...reports.map((r) => r.json?.startTime ?? Date.now())),
    success: reports.every((r) => r.code === 0 && r.json?.success === true),
    projects: reports.map((r) => ({ project: r.project, exitCode: r.code, report: r.report, wroteReport: !!r.json })),
    testResults: reports.flatMap((r) => r.json?.testResults ?? []),
  };
}

mkdirSync(resultsDir, { recursive: true });
const startedAt = Date.now();
const runs = await Promise.all([runProject('node', ''), runProject('browser', '[browser] ')]);
const merged = merge(runs);
writeFileSync(join(resultsDir, 'vitest.json'), JSON.stringify(merged));
const minutes = ((Date.now() - startedAt) / 60_000).toFixed(1);
for (const r of merged.projects) {
  const json = readReport(r.report);
  const counts = json ? `${json.numPassedTests} passed, ${json.numFailedTests} failed` : 'no report written';
  process.stdout.write(`${r.project}: ${counts} (vitest exit ${r.exitCode})\n`);
}
process.stdout.write(
  `all suites, ${minutes} min: ${merged.numPassedTests} passed, ${merged.numFailedTests} failed` +
    `${merged.success ? '' : ' — FAILED'}\n`,
);
process.exitCode = merged.success ? 0 : 1;
