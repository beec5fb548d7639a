/** Runs the real CLI (`node bin/streamedge.js ...`) and inspects output folders. */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';

export const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const cli = join(repo, 'bin', 'streamedge.js');
export interface Result {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export function runCli(
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; interruptWhen?: (stdout: string) => boolean } = {},
): Promise<Result> {
  return new Promise((res, rej) => {
    const child = spawn(process.execPath, [cli, ...args], {
      cwd: repo,
      env: { ...process.env, ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let interrupted = false;
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
      if (!interrupted && opts.interruptWhen?.(stdout)) {
        interrupted = true;
        child.kill('SIGINT');
      }
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', rej);
    child.on('close', (code, signal) => res({ code, signal, stdout, stderr }));
  });
}

/** Everything in outDir (recursively, relative paths), dot folders included. */
export function listing(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: false }).map(String).sort();
}

export function hashTree(dir: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const rel of readdirSync(dir, { recursive: true }).map(String)) {
    const p = join(dir, rel);
    if (rel.endsWith('.m4s') || rel.endsWith('.mp4') || rel.endsWith('.m3u8') || rel.endsWith('.mpd')) {
      m.set(rel, createHash('sha256').update(readFileSync(p)).digest('hex'));
    }
  }
  return m;
}

export function oneLine(stderr: string): string {
  const lines = stderr.split('\n').filter((l) => l.trim() !== '');
  expect(lines, `stderr: ${stderr}`).toHaveLength(1);
  return lines[0];
}

/**
 * Runs `package <input> --ladder small` once per case with the case's values after `flag`, and asserts
 * that each is refused with exit 1, one line of stderr matching the case, and nothing left in its folder.
 */
export async function expectEachRefused(
  root: string,
  input: string,
  flag: string,
  cases: [string[], RegExp][],
): Promise<void> {
  for (const [values, message] of cases) {
    const dir = join(root, `bad-${listing(root).length}`);
    const r = await runCli([
      'package',
      input,
      '--out',
      dir,
      '--id',
      'm',
      '--ladder',
      'small',
      ...values.flatMap((v) => [flag, v]),
    ]);
    expect(r.code, r.stderr).toBe(1);
    expect(oneLine(r.stderr)).toMatch(message);
    expect(listing(dir)).toEqual([]);
  }
}

/**
 * Starts `streamedge origin <args>` (add `--port 0`) and resolves with its URL once it prints
 * "origin listening on"; rejects if it exits first. Stop it with `stop()` (SIGTERM, awaited).
 */
export async function startOriginCli(args: string[]): Promise<{ url: string; stop: () => Promise<void> }> {
  const child = spawn(process.execPath, [cli, ...args], { cwd: repo, stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise((r) => child.once('exit', r));
  const url = await new Promise<string>((ok, fail) => {
    child.once('exit', (code) => fail(new Error(`origin exited (${code})`)));
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      const m = /origin listening on (http:\/\/\S+)/.exec(out);
      if (m) ok(m[1]);
    });
  });
  return {
    url,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}
