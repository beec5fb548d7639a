/**
 * wrk (Debian's package) as the HTTP/1.1 load client of the edge benchmarks: one run, its output
 * read into numbers (requests/s, bytes/s, latency percentiles from --latency, errors).
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface WrkResult {
  requests: number;
  seconds: number;
  requestsPerSecond: number;
  bytesPerSecond: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  /** Non-2xx/3xx answers plus socket errors (connect, read, write, timeout). */
  errors: number;
}

const UNITS: Record<string, number> = { B: 1, KB: 1024, MB: 1024 ** 2, GB: 1024 ** 3, TB: 1024 ** 4 };

function bytesOf(text: string): number {
  const m = /^([\d.]+)([KMGT]?B)$/.exec(text.trim());
  return m ? Number(m[1]) * (UNITS[m[2]] ?? 1) : Number.NaN;
}

function msOf(text: string): number {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(text.trim());
  if (!m) return Number.NaN;
  const v = Number(m[1]);
  return m[2] === 'us' ? v / 1000 : m[2] === 'ms' ? v : m[2] === 's' ? v * 1000 : v * 60_000;
}

/** Parses `wrk --latency` output. */
export function parseWrk(out: string): WrkResult {
  const total = /(\d+) requests in ([\d.]+)(ms|s|m), ([\d.]+[KMGT]?B) read/.exec(out);
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(out);
  const p50 = /^\s+50%\s+(\S+)/m.exec(out);
  const p99 = /^\s+99%\s+(\S+)/m.exec(out);
  if (!total || !rps || !p50 || !p99) throw new Error(`cannot read wrk output:\n${out}`);
  const seconds =
    total[3] === 'ms' ? Number(total[2]) / 1000 : total[3] === 'm' ? Number(total[2]) * 60 : Number(total[2]);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(out);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const socketErrors = sock ? sock.slice(1).reduce((a, x) => a + Number(x), 0) : 0;
  return {
    requests: Number(total[1]),
    seconds,
    requestsPerSecond: Number(rps[1]),
    bytesPerSecond: Math.round(bytesOf(total[4]) / seconds),
    latencyP50Ms: msOf(p50[1]),
    latencyP99Ms: msOf(p99[1]),
    errors: (non2xx ? Number(non2xx[1]) : 0) + socketErrors,
  };
}

/** `wrk -t<threads> -c<connections> -d<seconds>s --latency [-s <script>] <url>`. */
export async function wrk(
  url: string,
  o: { threads: number; connections: number; seconds: number; script?: string },
): Promise<WrkResult> {
  const script = o.script !== undefined ? ['-s', o.script] : [];
  const { stdout } = await run(
    'wrk',
    [`-t${o.threads}`, `-c${o.connections}`, `-d${o.seconds}s`, '--latency', ...script, url],
    {
      maxBuffer: 1 << 20,
      timeout: (o.seconds + 60) * 1000,
    },
  );
  return parseWrk(stdout);
}
