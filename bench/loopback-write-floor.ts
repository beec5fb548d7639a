/**
 * The kernel's floor of a held-request wake on this machine: bench/native/loopback-write-floor.c
 * (compiled here with gcc into a temp dir, never committed as a binary) writes one prepared
 * response with write(2) to each of N loopback TCP connections whose other ends a forked reader
 * process reads through epoll, and reports the writer's CPU per write and the delivery p50/p99.
 * bench/origin-bench.ts interleaves it with the origin's rounds and Node's floors.
 *
 *   node bin/run-ts.js bench/loopback-write-floor.ts [--n 10000] [--bytes 1200] [--rounds 3]
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export interface KernelFloorRound {
  /** Writer CPU (CLOCK_PROCESS_CPUTIME_ID) per write(2), µs. */
  cpuUsPerWrite: number;
  userUsPerWrite: number;
  sysUsPerWrite: number;
  /** Wall time of the write loop per write, µs (above the CPU when the writer is descheduled). */
  wallUsPerWrite: number;
  /** First write → each connection's bytes read by the reader, ms. */
  deliveredMs: { p50: number; p99: number; max: number };
}

const SOURCE = resolve(import.meta.dirname, 'native', 'loopback-write-floor.c');
let binary: string | undefined;
let buildDir: string | undefined;

function build(): string {
  if (binary) return binary;
  buildDir = mkdtempSync(join(tmpdir(), 'se-write-floor-'));
  const out = join(buildDir, 'loopback-write-floor');
  execFileSync('gcc', ['-O2', '-Wall', '-o', out, SOURCE], { stdio: ['ignore', 'inherit', 'inherit'] });
  process.once('exit', () => rmSync(buildDir!, { recursive: true, force: true }));
  return (binary = out);
}

/** Runs the C floor: `rounds` rounds of one write(2) of `bytes` bytes to each of `n` connections. */
export function kernelWriteFloor(n: number, bytes: number, rounds = 1): KernelFloorRound[] {
  const text = execFileSync(build(), [String(n), String(bytes), String(rounds)], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    timeout: 120_000,
  });
  const parsed = JSON.parse(text) as { rounds: KernelFloorRound[] };
  return parsed.rounds;
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  const arg = (name: string, fallback: number): number => {
    const i = process.argv.indexOf(`--${name}`);
    return i >= 0 ? Number(process.argv[i + 1]) : fallback;
  };
  const rounds = kernelWriteFloor(arg('n', 10_000), arg('bytes', 1200), arg('rounds', 3));
  process.stdout.write(JSON.stringify(rounds, null, 2) + '\n');
}
