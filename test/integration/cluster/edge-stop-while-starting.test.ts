/**
 * `streamedge edge` told to stop (SIGTERM) while it is still starting: it finishes starting, then
 * stops as it would once started, leaving no temporary store, socket or child process. It used to
 * die of the signal's default action there, leaving `streamedge-edge-*` in $TMPDIR (and, with
 * workers, possibly its children). Real process trees, one folder as their TMPDIR.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const CLI = fileURLToPath(new URL('../../../bin/streamedge.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'edge-stop-starting-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function stopWhileStarting(
  workers: string,
): Promise<{ code: number | null; signal: string | null; left: string[] }> {
  const tmp = join(dir, `tmp-${workers}`);
  mkdirSync(tmp);
  const proc = spawn(
    process.execPath,
    [CLI, 'edge', '--workers', workers, '--upstream', 'http://127.0.0.1:9', '--port', '0', '--log-level', 'warn'],
    { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, TMPDIR: tmp } },
  );
  let exited = false;
  const closed = new Promise<[number | null, string | null]>((r) =>
    proc.once('close', (c, s) => {
      exited = true;
      r([c, s]);
    }),
  );
  let stderr = '';
  proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  // the temporary store appears as the edge starts: stop it then (polled, bounded at 30 s)
  const until = Date.now() + 30_000;
  while (ours(tmp).length === 0 && !exited && Date.now() < until) await new Promise((r) => setTimeout(r, 5));
  expect(ours(tmp).length, stderr).toBeGreaterThan(0);
  proc.kill('SIGTERM');
  const [code, signal] = await closed;
  return { code, signal, left: ours(tmp) };
}

/** The edge's own entries in a TMPDIR (its temporary store, its socket), not the TypeScript loader's cache. */
function ours(tmp: string): string[] {
  return readdirSync(tmp).filter((f) => f.startsWith('streamedge-edge-'));
}

describe('an edge stopped while it starts', () => {
  for (const workers of ['1', '2']) {
    it(`--workers ${workers}: exits 0 and leaves nothing in its TMPDIR`, async () => {
      const r = await stopWhileStarting(workers);
      expect([r.code, r.signal]).toEqual([0, null]);
      expect(r.left).toEqual([]);
    }, 60_000);
  }
});
