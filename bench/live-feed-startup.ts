/**
 * How soon a live channel fed MPEG-TS over UDP has media: the time from the feed's first packet
 * to the first part in the channel's media playlist, this checkout's origin against a baseline
 * checkout's, same run, same machine. Writes bench/results/live-feed-startup.json.
 *
 *   node bin/run-ts.js bench/live-feed-startup.ts --baseline <checkout dir> [--rounds 4] [--out <file>]
 *
 * - The feed: ffmpeg encodes 640x360 at 25 fps (H.264 ultrafast, zero latency, 1 s GOPs) and
 *   AAC in real time, as a contribution encoder does, into MPEG-TS; this process sends it over
 *   loopback UDP (7 packets a datagram) to the channel's port. Two feeds: `plain`, and `cuePid`
 *   with an SCTE 35 PID in its PMT that carries nothing during the run (a broadcast feed between
 *   cues).
 * - Each run starts a fresh origin (`streamedge origin --live feed=udp://…`, the `small` ladder,
 *   2 s segments of 0.5 s parts) of one checkout, waits for its /health, then starts the feed and
 *   polls the 360p playlist every 20 ms until it lists a part.
 * - Rounds in ABBA order (odd rounds reversed) over both checkouts and both feeds; the figures
 *   are medians over rounds, and the ratio (`ratios.firstPartCurrentOverBaseline`) is this
 *   checkout's median over the baseline's.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { ffmpegPath } from '../src/media/ffmpeg-binaries.js';
import { TsCueInjector } from '../test/support/ts-cue-injector.js';
import { abRun } from './ab-run.js';
import { freePort } from './free-port.js';
import { finishMachineInfo, startMachineInfo } from './machine-info.js';

const ab = abRun();
const at = ab.option;
const root = ab.root;
const BASELINE = ab.baseline;
const ROUNDS = Number(at('rounds') ?? 4);
const OUT = at('out') ?? join(root, 'bench/results/live-feed-startup.json');
const DATAGRAM = 7 * 188;

type Tree = 'baseline' | 'current';
type Feed = 'plain' | 'cuePid';

async function freeUdpPort(): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
  const { port } = s.address();
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

async function until<T>(fn: () => Promise<T | undefined>, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** One run: ms from the feed's start to the first part the channel lists. */
async function run(tree: Tree, feed: Feed): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'se-feed-startup-'));
  const checkout = tree === 'baseline' ? BASELINE : root;
  const [httpPort, udpPort] = [await freePort(), await freeUdpPort()];
  const origin = spawn(
    process.execPath,
    [
      join(checkout, 'bin/streamedge.js'),
      'origin',
      ...['--root', dir, '--host', '127.0.0.1', '--port', String(httpPort)],
      ...['--live', `feed=udp://127.0.0.1:${udpPort}`, '--log-level', 'warn'],
    ],
    { stdio: ['ignore', 'ignore', 'inherit'], cwd: checkout },
  );
  let sender: ChildProcess | undefined;
  const socket = createSocket('udp4');
  try {
    const base = `http://127.0.0.1:${httpPort}`;
    await until(async () => ((await fetch(`${base}/health`)).ok ? true : undefined), 30_000, 'the origin');
    const start = performance.now();
    sender = spawn(
      ffmpegPath(),
      [
        ...['-hide_banner', '-nostdin', '-v', 'error', '-re'],
        ...['-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=25'],
        ...['-re', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000'],
        ...['-map', '0:v', '-map', '1:a'],
        ...['-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-g', '25', '-pix_fmt', 'yuv420p'],
        ...['-c:a', 'aac', '-b:a', '64k', '-f', 'mpegts', 'pipe:1'],
      ],
      { stdio: ['ignore', 'pipe', 'ignore'] },
    );
    const ts = feed === 'cuePid' ? sender.stdout!.pipe(new TsCueInjector()) : sender.stdout!;
    let pending = Buffer.alloc(0);
    ts.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= DATAGRAM) {
        socket.send(pending.subarray(0, DATAGRAM), udpPort, '127.0.0.1');
        pending = pending.subarray(DATAGRAM);
      }
    });
    await until(
      async () => {
        const r = await fetch(`${base}/live/feed/360p/index.m3u8`);
        return r.ok && (await r.text()).includes('#EXT-X-PART:') ? true : undefined;
      },
      60_000,
      'the first part',
    );
    return Math.round(performance.now() - start);
  } finally {
    sender?.kill('SIGKILL');
    socket.close();
    origin.kill('SIGTERM');
    await new Promise((r) => (origin.exitCode !== null ? r(undefined) : origin.once('exit', r)));
    rmSync(dir, { recursive: true, force: true });
  }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

const machine = startMachineInfo();
const runs: Record<Feed, Record<Tree, number[]>> = {
  plain: { baseline: [], current: [] },
  cuePid: { baseline: [], current: [] },
};
for (let round = 0; round < ROUNDS; round++) {
  const order: Tree[] = round % 2 === 0 ? ['baseline', 'current'] : ['current', 'baseline'];
  for (const feed of ['plain', 'cuePid'] as Feed[])
    for (const tree of order) {
      const ms = await run(tree, feed);
      runs[feed][tree].push(ms);
      process.stdout.write(`round ${round + 1}/${ROUNDS} ${feed} ${tree}: first part after ${ms} ms\n`);
    }
}
const figures = Object.fromEntries(
  (['plain', 'cuePid'] as Feed[]).map((feed) => {
    const b = median(runs[feed].baseline);
    const c = median(runs[feed].current);
    return [
      feed,
      {
        firstPartMs: { baseline: runs[feed].baseline, current: runs[feed].current },
        medianMs: { baseline: b, current: c },
        ratios: { firstPartCurrentOverBaseline: Math.round((c / b) * 100) / 100 },
      },
    ];
  }),
);
const result = {
  bench: 'live-feed-startup',
  command: `node bin/run-ts.js bench/live-feed-startup.ts --baseline <baseline checkout> --rounds ${ROUNDS}`,
  setup: {
    ...ab.commits(),
    rounds: ROUNDS,
    order: 'ABBA (odd rounds reversed), both feeds each round',
  },
  figures,
  machine: finishMachineInfo(machine),
};
mkdirSync(dirname(OUT), { recursive: true });
writeFileSync(OUT, JSON.stringify(result, null, 2) + '\n');
for (const feed of ['plain', 'cuePid'] as Feed[]) {
  const f = figures[feed] as { medianMs: Record<Tree, number>; ratios: { firstPartCurrentOverBaseline: number } };
  process.stdout.write(
    `${feed}: first part ${f.medianMs.current} ms (baseline ${f.medianMs.baseline} ms): ${f.ratios.firstPartCurrentOverBaseline}× the baseline's\n`,
  );
}
