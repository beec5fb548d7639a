import type { Command } from 'commander';
import { readFile, writeFile } from 'node:fs/promises';
import { parseDuration } from '../src/cli/options.js';
import { StreamedgeError } from '../src/errors.js';
import { renderHtmlReport } from './loadtest/html-report.js';
import { formatReport, nothingMeasured } from './loadtest/report.js';
import { defaultWorkers, runLoadTest } from './loadtest/run.js';
import { runAgent } from './loadtest/nats-agent.js';

function wholeNumber(name: string) {
  return (v: string) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0)
      throw new StreamedgeError('BAD_OPTION', `${name} needs a whole number, got "${v}"`);
    return n;
  };
}

/** Exit code of a run that broke a --threshold (k6 uses 99 too). */
const THRESHOLDS_FAILED_EXIT = 99;
/** Exit code of a run in which every viewer failed: the target did not play, nothing was measured. */
const NOTHING_MEASURED_EXIT = 1;

/** Registers the `loadtest` command(s). */
export function registerLoadtestCommand(program: Command): void {
  program
    .command('loadtest')
    .description(
      'simulate concurrent viewers (real HLS/DASH clients with ABR and a virtual playhead) against a loopback origin or edge',
    )
    .argument('<url>', 'multivariant playlist (.m3u8) or MPD (.mpd) URL, on loopback')
    .option('--viewers <n>', 'number of virtual viewers', wholeNumber('--viewers'), 10)
    .option('--ramp <duration>', 'start viewers evenly over this time', '10s')
    .option('--duration <duration>', 'time every viewer keeps playing after the ramp', '60s')
    .option(
      '--profile <spec>',
      'per-viewer bandwidth: fixed:<Mbit/s>, cascade, spike, unlimited, or a trace .json',
      'unlimited',
    )
    .option('--latency <duration>', 'added latency before each response body', '0ms')
    .option('--no-low-latency', 'play live HLS like a player without LL-HLS: whole segments, plain playlist reloads')
    .option(
      '--workers <n>',
      'spread viewers over N worker threads (default: one per spare core; 0 = main thread)',
      wholeNumber('--workers'),
    )
    .option(
      '--threshold <cond>',
      "pass/fail condition, repeatable: 'stalls==0', 'latency.p95<3s', 'ttfb.part.p99<500ms' (exit code 99 when one fails)",
      (v: string, prev: string[] = []) => [...prev, v],
    )
    .option('--cmcd <mode>', 'send CMCD (CTA-5004) with each request: query, headers or off', 'off')
    .option(
      '--hevc-share <fraction>',
      'a ladder in H.264 and HEVC: the share of viewers whose devices prefer HEVC, e.g. 0.6 (default: each plays the first family listed)',
      (v: string) => Number(v),
    )
    .option('--http2', 'speak HTTP/2 to https targets (one session per viewer; a target without h2 in ALPN fails)')
    .option('--ca <pem>', "trust this CA certificate file too (e.g. a test edge's self-signed --tls-cert)")
    .option('--nats <url>', 'coordinate load-test agents over NATS instead of playing here (with --agents)')
    .option('--agents <n>', 'how many agents share the viewers (with --nats)', wholeNumber('--agents'))
    .option('--allow-host <host...>', "a non-loopback host to allow (this project's own test hosts only)")
    .option('--json <file>', 'also write the report as JSON')
    .option('--html <file>', 'also write the report as one self-contained HTML page with charts')
    .option('--quiet', 'no progress line')
    .action(
      async (
        url: string,
        opts: {
          viewers: number;
          ramp: string;
          duration: string;
          profile: string;
          latency: string;
          workers?: number;
          allowHost?: string[];
          json?: string;
          html?: string;
          quiet?: boolean;
          lowLatency: boolean;
          threshold?: string[];
          cmcd: string;
          hevcShare?: number;
          http2?: boolean;
          ca?: string;
          nats?: string;
          agents?: number;
        },
      ) => {
        const stop = new AbortController();
        const onSigint = () => stop.abort();
        process.once('SIGINT', onSigint);
        const tty = process.stderr.isTTY;
        try {
          const report = await runLoadTest({
            url,
            viewers: opts.viewers,
            rampSec: parseDuration(opts.ramp),
            durationSec: parseDuration(opts.duration),
            profile: opts.profile,
            latencyMs: parseDuration(opts.latency) * 1000,
            workers: opts.workers ?? defaultWorkers(opts.viewers),
            lowLatency: opts.lowLatency,
            thresholds: opts.threshold ?? [],
            cmcd: opts.cmcd as 'query' | 'headers' | 'off',
            ...(opts.hevcShare !== undefined ? { hevcShare: opts.hevcShare } : {}),
            http2: opts.http2 === true,
            ca: opts.ca ? await readCa(opts.ca) : undefined,
            nats: opts.nats,
            agents: opts.agents,
            allowHosts: opts.allowHost ?? [],
            signal: stop.signal,
            onProgress: opts.quiet ? undefined : (line) => process.stderr.write(tty ? `\r\x1b[2K${line}` : `${line}\n`),
          });
          if (tty && !opts.quiet) process.stderr.write('\n');
          process.stdout.write(formatReport(report));
          if (opts.json) await writeFile(opts.json, JSON.stringify(report, null, 2) + '\n');
          if (opts.html) await writeFile(opts.html, renderHtmlReport(report));
          const failed = (report.thresholds ?? []).filter((t) => !t.ok);
          if (failed.length > 0) {
            process.stderr.write(`thresholds failed: ${failed.map((t) => t.threshold).join(', ')}\n`);
            process.exitCode = THRESHOLDS_FAILED_EXIT;
          }
          const nothing = nothingMeasured(report);
          if (nothing !== undefined) {
            process.stderr.write(`streamedge: ${nothing}\n`);
            if (process.exitCode === undefined) process.exitCode = NOTHING_MEASURED_EXIT;
          }
        } finally {
          process.off('SIGINT', onSigint);
        }
      },
    );
}

/** Registers `loadtest-agent`: a process that plays the viewers a `loadtest --nats` coordinator assigns. */
export function registerLoadtestAgentCommand(program: Command): void {
  program
    .command('loadtest-agent')
    .description(
      'play the share of viewers a `loadtest --nats <url> --agents N` coordinator assigns (on this or another machine)',
    )
    .requiredOption('--nats <url>', 'the NATS server the coordinator uses, e.g. nats://10.0.0.5:4222')
    .option('--workers <n>', 'worker threads (default: one per spare core)', wholeNumber('--workers'))
    .option('--once', 'exit after one run')
    .action(async (opts: { nats: string; workers?: number; once?: boolean }) => {
      const stop = new AbortController();
      const onSignal = () => stop.abort();
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      try {
        await runAgent({
          natsUrl: opts.nats,
          workers: opts.workers,
          once: opts.once === true,
          signal: stop.signal,
          onLog: (line) => process.stderr.write(`${line}\n`),
        });
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
    });
}

async function readCa(file: string): Promise<string> {
  const pem = await readFile(file, 'utf8').catch((e: unknown) => {
    throw new StreamedgeError('BAD_OPTION', `--ca ${file}: ${(e as Error).message}`);
  });
  if (!pem.includes('-----BEGIN CERTIFICATE-----'))
    throw new StreamedgeError('BAD_OPTION', `--ca ${file} holds no PEM certificate`);
  return pem;
}
