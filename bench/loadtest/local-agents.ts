/**
 * One load test played by several tester PROCESSES on this machine, the way a media team splits a
 * run too big for one process (`ulimit -n`: every process has its own descriptor table, worker
 * threads share theirs): a local `nats-server` on a free loopback port, N `streamedge
 * loadtest-agent --nats <url> --once` processes, and this process as the coordinator
 * (`runLoadTest` with `nats` + `agents`). It is the real multi-agent path, so the report is the
 * merged one (HDR histograms added exactly) with each agent's CPU and event-loop delay; every agent
 * checks its own share against its own `ulimit -n`. Everything started here is stopped by PID.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { YOUNG_GENERATION_MB } from './workers.js';
import { resolve } from 'node:path';
import { StreamedgeError } from '../../src/errors.js';
import { freePort } from '../free-port.js';
import type { LoadReport } from './report.js';
import { runLoadTest, type LoadTestOptions } from './run.js';

export interface LocalAgentsOptions extends Omit<LoadTestOptions, 'nats' | 'agents' | 'workers'> {
  /** Tester processes (agents) that share the viewers. */
  processes: number;
  /** Worker threads per agent (default 0: each agent plays in its main thread; the processes are the parallelism). */
  agentWorkers?: number;
}

const root = resolve(import.meta.dirname, '../..');
/** How long nats-server may take to say it is ready. */
const NATS_START_MS = 10_000;

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((r) => child.once('exit', () => r()));
}

async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const gone = exited(child);
  process.kill(child.pid, 'SIGTERM');
  const timer = setTimeout(() => {
    if (child.exitCode === null && child.signalCode === null) process.kill(child.pid!, 'SIGKILL');
  }, 5000);
  await gone;
  clearTimeout(timer);
}

async function startNats(): Promise<{ url: string; child: ChildProcess }> {
  const port = await freePort();
  const child = spawn('nats-server', ['-a', '127.0.0.1', '-p', String(port)], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  try {
    await new Promise<void>((ok, fail) => {
      const timer = setTimeout(
        () => fail(new Error(`not ready within ${NATS_START_MS / 1000} s: ${log}`)),
        NATS_START_MS,
      );
      child.once('error', (e) => {
        clearTimeout(timer);
        fail(e);
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        fail(new Error(`exited (${code}): ${log}`));
      });
      child.stderr.on('data', (d: Buffer) => {
        if (log.length < 16_384) log += d.toString('utf8');
        if (log.includes('Server is ready')) {
          clearTimeout(timer);
          ok();
        }
      });
    });
  } catch (e) {
    await stopProcess(child);
    throw new StreamedgeError('LOADTEST_NATS', `nats-server (needed for tester processes): ${(e as Error).message}`, {
      cause: e,
    });
  }
  child.stderr.resume();
  return { url: `nats://127.0.0.1:${port}`, child };
}

/** Runs the load test over `processes` local agent processes; the report is the coordinator's merged one. */
export async function runLocalAgents(o: LocalAgentsOptions): Promise<LoadReport> {
  if (!Number.isInteger(o.processes) || o.processes < 1)
    throw new StreamedgeError('BAD_OPTION', `processes must be a whole number ≥ 1, got ${o.processes}`);
  const { processes, agentWorkers = 0, ...load } = o;
  const nats = await startNats();
  const agents: { child: ChildProcess; stderr: string }[] = [];
  try {
    for (let i = 0; i < processes; i++) {
      const child = spawn(
        process.execPath,
        [
          // viewers in the agent's main thread (agentWorkers 0): the same young generation as a viewer thread
          `--max-semi-space-size=${YOUNG_GENERATION_MB / 3}`,
          resolve(root, 'bin/streamedge.js'),
          'loadtest-agent',
          '--nats',
          nats.url,
          '--once',
          '--workers',
          String(agentWorkers),
        ],
        { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] },
      );
      const a = { child, stderr: '' };
      child.stderr.on('data', (d: Buffer) => {
        if (a.stderr.length < 16_384) a.stderr += d.toString('utf8');
      });
      agents.push(a);
    }
    // an agent that dies (bad install, no ulimit room) fails the run at once, not after the coordinator's wait
    const stop = new AbortController();
    let onDeath: (e: Error) => void = () => undefined;
    const died = new Promise<never>((_, fail) => (onDeath = fail));
    died.catch(() => undefined); // the agents stopped below, after the run, exit by signal
    for (const a of agents)
      a.child.once('exit', (code, signal) => {
        if (code !== 0)
          onDeath(
            new StreamedgeError(
              'LOADTEST_AGENT',
              `tester process ${a.child.pid} exited (${code ?? signal}): ${a.stderr.trim().split('\n').slice(-3).join(' | ')}`,
            ),
          );
      });
    const run = runLoadTest({ ...load, nats: nats.url, agents: processes, signal: stop.signal });
    run.catch(() => undefined); // when an agent's death wins the race below
    try {
      return await Promise.race([run, died]);
    } catch (e) {
      stop.abort();
      throw e;
    }
  } finally {
    await Promise.all(agents.map((a) => stopProcess(a.child)));
    await stopProcess(nats.child);
  }
}

export interface HoldFigures {
  /** Σ over the agents of CPU ÷ wall over the hold (cores). */
  testerCores: number;
  holdCpuSec: number;
  /** The longest agent hold (they start together; they differ by their clocks' jitter). */
  holdWallSec: number;
  holdRequests: number;
  /** viewers ÷ testerCores. */
  viewersPerCore: number;
  /** Every agent kept up (event-loop delay p99 below the limit). */
  valid: boolean;
}

/** The tester's steady cost of a run played by agents: their hold CPU summed, and whether every one kept up. */
export function agentsHoldFigures(report: LoadReport): HoldFigures {
  const agents = report.agents ?? [];
  if (agents.length === 0) throw new Error('agentsHoldFigures: the report has no agents');
  const testerCores = agents.reduce((n, a) => n + (a.holdSec > 0 ? a.holdCpuSec / a.holdSec : 0), 0);
  const viewers = agents.reduce((n, a) => n + a.viewers, 0);
  return {
    testerCores,
    holdCpuSec: agents.reduce((n, a) => n + a.holdCpuSec, 0),
    holdWallSec: Math.max(...agents.map((a) => a.holdSec)),
    holdRequests: agents.reduce((n, a) => n + a.holdRequests, 0),
    viewersPerCore: testerCores > 0 ? Math.round(viewers / testerCores) : 0,
    valid: agents.every((a) => a.valid),
  };
}
