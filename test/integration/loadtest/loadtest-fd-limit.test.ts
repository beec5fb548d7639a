/**
 * The ulimit -n check end to end: the CLI in a shell with a low open-files limit, against the
 * instant live stub (real sockets on loopback). A run too big for the limit exits at once with one
 * line naming the numbers and the fix, before a single connection reaches the stub; a run that
 * fits plays with no error, and its plain-HLS viewers open at most 2 connections each.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LoadReport } from '../../../bench/loadtest/report.js';
import { startStubServer, type StubServer } from '../../../bench/loadtest/stub-live-server.js';

const LIMIT = 256;

function cliWithLimit(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(
    'sh',
    ['-c', `ulimit -n ${LIMIT} && exec "$0" bin/streamedge.js "$@"`, process.execPath, ...args],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, stdout, stderr })));
}

describe('loadtest checks ulimit -n before opening sockets', () => {
  let stub: StubServer;
  let dir: string;
  beforeAll(async () => {
    stub = await startStubServer();
    dir = mkdtempSync(join(tmpdir(), 'se-loadtest-fd-'));
  });
  afterAll(async () => {
    await stub.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses a run that cannot fit, naming the numbers and the fix, with no connection made', async () => {
    const before = stub.counts.connections;
    const r = await cliWithLimit(['loadtest', stub.url, '--viewers', '200', '--no-low-latency', '--duration', '5s']);
    expect(r.code).not.toBe(0);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /200 viewers × 2 connections \+ \d+ open \+ 64 spare = \d+ file descriptors, but ulimit -n is 256: raise it \(ulimit -n \d+\) or lower --viewers to \d+/,
    );
    expect(r.stderr).not.toMatch(/EMFILE/);
    expect(stub.counts.connections).toBe(before);
  });

  it('plays a run that fits, at most 2 connections per plain-HLS viewer', async () => {
    const before = stub.counts.connections;
    const viewers = 20;
    const json = join(dir, 'report.json');
    const r = await cliWithLimit([
      'loadtest',
      stub.url,
      '--viewers',
      String(viewers),
      '--no-low-latency',
      '--ramp',
      '1s',
      '--duration',
      '3s',
      '--workers',
      '0',
      '--quiet',
      '--json',
      json,
    ]);
    expect(r.stderr).not.toMatch(/EMFILE|file descriptors/);
    expect(r.code).toBe(0);
    const used = stub.counts.connections - before;
    expect(used).toBeGreaterThanOrEqual(viewers);
    // + 2: the report's look for edge metrics (/_edge/metrics) before and after the run. They are
    // about 4 s apart, undici's keep-alive timeout, so the second look may need a connection of its own.
    expect(used).toBeLessThanOrEqual(2 * viewers + 2);
    const report = JSON.parse(readFileSync(json, 'utf8')) as LoadReport;
    expect(report.viewers.failed).toBe(0);
    expect(report.errors).toEqual({});
    expect(report.byObject.segment?.count).toBeGreaterThan(viewers);
  });
});
