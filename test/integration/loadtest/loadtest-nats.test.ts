/**
 * Several machines, one run: a real nats-server (random loopback port, temporary folder, stopped
 * by PID), two `streamedge loadtest-agent` processes, and this process as the coordinator
 * (`runLoadTest` with `nats` + `agents`) against the instant live stub. Each agent plays its
 * share; the report merges their HDR histograms (every request of every agent is in them) and
 * lists each agent's CPU.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../../bench/free-port.js';
import { runLoadTest } from '../../../bench/loadtest/run.js';
import { startStubServer, type StubServer } from '../../../bench/loadtest/stub-live-server.js';

function exited(child: ChildProcess): Promise<number | null> {
  return child.exitCode !== null
    ? Promise.resolve(child.exitCode)
    : new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

describe('loadtest over NATS: a coordinator and two agents', () => {
  let dir: string;
  let nats: ChildProcess;
  let natsUrl: string;
  let stub: StubServer;
  const agents: { child: ChildProcess; stderr: string }[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'loadtest-nats-'));
    const port = await freePort();
    natsUrl = `nats://127.0.0.1:${port}`;
    nats = spawn('nats-server', ['-a', '127.0.0.1', '-p', String(port), '-sd', dir], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    await new Promise<void>((resolve, reject) => {
      let log = '';
      nats.stderr!.on('data', (d: Buffer) => {
        log += d.toString();
        if (log.includes('Server is ready')) resolve();
      });
      nats.once('exit', (code) => reject(new Error(`nats-server exited (${code}): ${log}`)));
    });
    stub = await startStubServer();
    for (let i = 0; i < 2; i++) {
      const child = spawn(
        process.execPath,
        ['bin/streamedge.js', 'loadtest-agent', '--nats', natsUrl, '--once', '--workers', '0'],
        { stdio: ['ignore', 'ignore', 'pipe'] },
      );
      const a = { child, stderr: '' };
      child.stderr.on('data', (d: Buffer) => (a.stderr += d.toString()));
      agents.push(a);
    }
  });

  afterAll(async () => {
    for (const a of agents) if (a.child.exitCode === null) a.child.kill('SIGTERM');
    await Promise.all(agents.map((a) => exited(a.child)));
    if (nats.exitCode === null) {
      process.kill(nats.pid!, 'SIGTERM');
      await exited(nats);
    }
    await stub.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('shares the viewers, merges the histograms exactly and reports each agent', async () => {
    const r = await runLoadTest({ url: stub.url, viewers: 6, rampSec: 1, durationSec: 3, nats: natsUrl, agents: 2 });
    expect(r.viewers.started).toBe(6);
    expect(r.viewers.failed).toBe(0);
    expect(r.errors).toEqual({});
    expect(r.agents).toHaveLength(2);
    for (const a of r.agents!) {
      expect(a.viewers).toBe(3);
      expect(a.cpuSec).toBeGreaterThan(0);
      expect(a.requests).toBeGreaterThan(10);
    }
    expect(new Set(r.agents!.map((a) => a.agentId)).size).toBe(2);
    // every request of every agent is in the merged histograms, once
    const perAgent = r.agents!.reduce((n, a) => n + a.requests, 0);
    expect(r.requests.total).toBe(perAgent);
    expect(Object.values(r.byObject).reduce((n, o) => n + o.count, 0)).toBe(perAgent);
    expect(r.byObject.part.count).toBeGreaterThan(0);
    expect(r.liveLatencySec?.count).toBeGreaterThan(0);
    // the progress counters streamed during the run made the timeline
    expect(r.timeline.some((p) => p.playing > 0)).toBe(true);
    const codes = await Promise.all(agents.map((a) => exited(a.child)));
    expect(codes, agents.map((a) => a.stderr).join('\n')).toEqual([0, 0]);
  });

  it('refuses --agents without --nats, and a bad NATS URL, before anything starts', async () => {
    await expect(runLoadTest({ url: stub.url, viewers: 2, rampSec: 0, durationSec: 1, agents: 2 })).rejects.toThrow(
      /--agents needs --nats/,
    );
    await expect(
      runLoadTest({ url: stub.url, viewers: 2, rampSec: 0, durationSec: 1, nats: 'http://x', agents: 1 }),
    ).rejects.toThrow(/nats:\/\/ URL/);
  });
});
