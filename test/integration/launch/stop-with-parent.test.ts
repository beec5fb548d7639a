/**
 * The demo's services stop with it even when it is killed outright (SIGKILL: no handler runs). A
 * parent process starts an origin (a real `streamedge origin`, through player-demo/child-service)
 * and a nats-server (on player-demo/leash.ts, through player-demo/nats-service) as the demo does,
 * then is killed with SIGKILL: both ports must close, the origin by its own SIGTERM stop
 * (src/cli/stop-with-parent.ts, wired in bin/cli.ts).
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { until } from '../live/live-helpers.js';
import { freePort } from '../../../bench/free-port.js';

const REPO = join(import.meta.dirname, '../../..');
const dir = mkdtempSync(join(tmpdir(), 'se-leash-'));
let parent: ChildProcessByStdio<null, Readable, Readable> | undefined;
/** What to kill if the test fails (the services would be left running). */
const leftovers: number[] = [];

afterAll(() => {
  parent?.kill('SIGKILL');
  for (const pid of leftovers) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone, as it should be
    }
  }
  rmSync(dir, { recursive: true, force: true });
});

/** 'open' when something accepts a connection on the port, else the error's code. */
function probe(port: number): Promise<string> {
  return new Promise((resolve) => {
    const c = connect(port, '127.0.0.1');
    c.once('connect', () => {
      c.destroy();
      resolve('open');
    });
    c.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
  });
}

describe('services started by the demo', () => {
  it('stop when the demo is killed with SIGKILL: the origin by its own graceful stop, nats-server through its leash', async () => {
    const natsPort = await freePort();
    mkdirSync(join(dir, 'root'));
    const script = join(dir, 'parent.ts');
    const url = (f: string) => join(REPO, f);
    writeFileSync(join(dir, 'package.json'), '{ "type": "module" }');
    writeFileSync(
      script,
      `import { runCli } from '${url('player-demo/child-service.js')}';
import { startNatsServer } from '${url('player-demo/nats-service.js')}';
const origin = await runCli('origin', ['origin', '--root', ${JSON.stringify(join(dir, 'root'))}, '--port', '0'], {
  cwd: ${JSON.stringify(REPO)}, logFile: ${JSON.stringify(join(dir, 'origin.log'))}, waitForUrl: true,
});
const nats = await startNatsServer(${JSON.stringify(dir)}, ${JSON.stringify(join(dir, 'nats.log'))}, ${natsPort});
process.stdout.write(JSON.stringify({ origin: origin.url, originPid: origin.child.pid, leashPid: nats.child.pid }) + '\\n');
setInterval(() => undefined, 60_000);
`,
    );
    const p = spawn(process.execPath, [join(REPO, 'bin/run-ts.js'), script], { stdio: ['ignore', 'pipe', 'pipe'] });
    parent = p;
    let out = '';
    let err = '';
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const started = await new Promise<{ origin: string; originPid: number; leashPid: number }>((resolve, reject) => {
      p.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        const line = out.split('\n').find((l) => l.startsWith('{'));
        if (line) resolve(JSON.parse(line) as { origin: string; originPid: number; leashPid: number });
      });
      p.once('exit', (code) => reject(new Error(`the parent exited (${code}) before its services started: ${err}`)));
    });
    leftovers.push(started.originPid, started.leashPid);
    const originPort = Number(new URL(started.origin).port);
    expect(await probe(originPort)).toBe('open');
    expect(await probe(natsPort)).toBe('open');
    expect((await fetch(`${started.origin}/health`)).status).toBe(200);

    p.kill('SIGKILL');
    await until(async () => (await probe(originPort)) === 'ECONNREFUSED', 15_000, 'the origin port to close');
    await until(async () => (await probe(natsPort)) === 'ECONNREFUSED', 15_000, 'the nats-server port to close');
    await until(
      () => {
        try {
          process.kill(started.originPid, 0);
          return false;
        } catch {
          return true;
        }
      },
      15_000,
      'the origin process to exit',
    );
  });
});
