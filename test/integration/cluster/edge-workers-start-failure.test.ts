/**
 * `streamedge edge --workers 2` whose store process or workers cannot start (a bad option, a
 * certificate it cannot read, a port out of range): the command fails with the child's own one
 * line and exit code 1, not a child's stack trace followed by "worker 0 exited (1) before it
 * listened", and leaves no process behind. Real process trees.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const CLI = fileURLToPath(new URL('../../../bin/streamedge.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'edge-start-failure-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let runs = 0;

async function edge(args: string[]): Promise<{ code: number | null; stderr: string; store: string }> {
  const store = join(dir, `store-${++runs}`);
  const proc = spawn(
    process.execPath,
    [CLI, 'edge', '--workers', '2', '--store', store, '--log-level', 'warn', ...args],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stderr = '';
  proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  proc.stdout.resume();
  const code = await new Promise<number | null>((r) => proc.once('close', (c) => r(c)));
  return { code, stderr, store };
}

/** Processes whose command line or environment names `s` (the supervisor's children carry the store folder). */
function processesNaming(s: string): number[] {
  const found: number[] = [];
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const text = readFileSync(`/proc/${pid}/cmdline`, 'latin1') + readFileSync(`/proc/${pid}/environ`, 'latin1');
      if (text.includes(s)) found.push(Number(pid));
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return found;
}

describe('a multi-worker edge that cannot start', () => {
  for (const [what, args, line] of [
    [
      'the store process (a bad upstream)',
      ['--upstream', 'ftp://x'],
      /^streamedge: --upstream must be http:\/\/ or https:\/\/ \(got "ftp:\/\/x"\)$/,
    ],
    [
      'the workers (a port out of range)',
      ['--upstream', 'http://127.0.0.1:9', '--port', '99999'],
      /^streamedge: not a TCP port: "99999"$/,
    ],
    [
      'the workers (a certificate it cannot read)',
      [
        '--upstream',
        'http://127.0.0.1:9',
        '--port',
        '0',
        '--tls-cert',
        join(dir, 'no.pem'),
        '--tls-key',
        join(dir, 'no.key'),
      ],
      // the certificate and the key are read together: either may be the one named
      /^streamedge: --tls-(cert|key) \S+\/no\.(pem|key): cannot read the (certificate|private key) \(no such file\)$/,
    ],
  ] as const) {
    it(`fails with the child's own line when ${what} cannot start`, async () => {
      const r = await edge([...args]);
      expect(r.code).toBe(1);
      const lines = r.stderr.trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(line);
      expect(processesNaming(r.store)).toEqual([]);
    });
  }
});
