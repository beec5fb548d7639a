/**
 * Packaging benchmark: 60 s of 1080p30 (fixture long1080) into the default ladder.
 *
 *   baseline: ONE plain ffmpeg command encoding the same ladder (same filter graph, same encoder
 *             and muxer settings, built by the same buildEncodeArgs) straight to files;
 *   packager: packageVod (probe, the same ffmpeg run on pipes, our segmenter, manifests, atomic publish).
 *
 * Runs alternate (baseline, packager, baseline, packager, ...) so both see the same machine load;
 * the ratio of median wall times is the cost of everything that is ours (aim ≤ 1.05). On a shared
 * machine wall time is noisy, so CPU time is measured too (this process via process.cpuUsage(),
 * ffprobe/ffmpeg children via /proc/self/stat cutime+cstime): the CPU ratio is the load-independent
 * cost of our segmenter, manifests and publishing. Peak RSS is this process's (the packager runs
 * in it). Writes bench/results/package.json.
 *
 *   node bin/run-ts.js bench/package-bench.ts [--rounds 2] [--fixture long1080]
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fixture, type FixtureName } from '../media-fixtures/generate.js';
import { ffmpegPath } from '../src/media/ffmpeg-binaries.js';
import { buildEncodeArgs } from '../packager/encode-args.js';
import { planLadder } from '../packager/ladder.js';
import { probeSource } from '../packager/probe.js';
import { packageVod, type VodSummary } from '../packager/vod-job.js';
import { finishMachineInfo, startMachineInfo } from './machine-info.js';
import { childrenCpuSec, median, selfCpuSec } from './process-cpu.js';
import { arg } from './bench-args.js';

const machineStart = startMachineInfo();

const here = dirname(fileURLToPath(import.meta.url));

function runFfmpeg(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(ffmpegPath(), args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let tail = '';
    child.stderr.on('data', (d: Buffer) => (tail = (tail + d.toString()).slice(-2000)));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve() : reject(new Error(`baseline ffmpeg exited ${code}: ${tail}`)),
    );
  });
}

function ffmpegVersion(): Promise<string> {
  return new Promise((resolve) => {
    const child = spawn(ffmpegPath(), ['-version'], { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('close', () => resolve(out.split('\n')[0] ?? 'unknown'));
  });
}

function dirBytes(dir: string): number {
  let n = 0;
  for (const rel of readdirSync(dir, { recursive: true }).map(String)) {
    const st = statSync(join(dir, rel));
    if (st.isFile()) n += st.size;
  }
  return n;
}

const rounds = Math.max(1, Number(arg('rounds', '2')));
const fixtureName = arg('fixture', 'long1080') as FixtureName;
const SEGMENT = 4;
const PART = 1;

process.stdout.write(`preparing fixture ${fixtureName} (generated once, cached)...\n`);
const input = await fixture(fixtureName);
const source = await probeSource(input);
const plan = planLadder(source, 'default');
const work = mkdtempSync(join(tmpdir(), 'se-package-bench-'));

const baselineMs: number[] = [];
const packagerMs: number[] = [];
const baselineCpuSec: number[] = [];
const packagerFfmpegCpuSec: number[] = [];
const packagerSelfCpuSec: number[] = [];
let baselineBytes = 0;
let last: VodSummary | undefined;
try {
  for (let round = 1; round <= rounds; round++) {
    // Baseline: the same encode, outputs to files instead of pipes, no progress pipe.
    const outDir = join(work, `baseline-${round}`);
    mkdirSync(outDir);
    const { args, outputs } = buildEncodeArgs({ args: ['-i', input] }, plan, {
      segmentDuration: SEGMENT,
      partDuration: PART,
    });
    const fileArgs = args.map((a) => {
      const m = /^pipe:(\d+)$/.exec(a);
      if (!m || m[1] === '1') return a;
      const o = outputs.find((x) => x.fd === Number(m[1]))!;
      return join(outDir, `${o.renditionId}.mp4`);
    });
    const progressAt = fileArgs.indexOf('-progress');
    fileArgs.splice(progressAt, 2);
    let c0 = childrenCpuSec();
    let t0 = performance.now();
    await runFfmpeg(['-y', ...fileArgs]);
    baselineMs.push(performance.now() - t0);
    baselineCpuSec.push(childrenCpuSec() - c0);
    baselineBytes = dirBytes(outDir);
    rmSync(outDir, { recursive: true, force: true });
    process.stdout.write(`round ${round}: baseline ffmpeg ${(baselineMs.at(-1)! / 1000).toFixed(1)} s\n`);

    c0 = childrenCpuSec();
    const s0 = selfCpuSec();
    t0 = performance.now();
    last = await packageVod({
      input,
      outDir: join(work, `packaged-${round}`),
      assetId: 'bench',
      ladder: 'default',
      segmentDuration: SEGMENT,
      partDuration: PART,
    });
    packagerMs.push(performance.now() - t0);
    packagerFfmpegCpuSec.push(childrenCpuSec() - c0);
    packagerSelfCpuSec.push(selfCpuSec() - s0);
    rmSync(join(work, `packaged-${round}`), { recursive: true, force: true });
    process.stdout.write(`round ${round}: streamedge package ${(packagerMs.at(-1)! / 1000).toFixed(1)} s\n`);
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}

const peakRssBytes = process.resourceUsage().maxRSS * 1024;
const ratio = median(packagerMs) / median(baselineMs);
const packagerCpu = packagerFfmpegCpuSec.map((c, i) => c + packagerSelfCpuSec[i]);
const cpuRatio = median(packagerCpu) / median(baselineCpuSec);
const r1 = (xs: number[]): number[] => xs.map((x) => Number(x.toFixed(1)));
const result = {
  bench: 'package',
  date: new Date().toISOString(),
  machine: finishMachineInfo(machineStart),
  ffmpeg: await ffmpegVersion(),
  source: {
    fixture: fixtureName,
    width: source.video!.width,
    height: source.video!.height,
    frameRate: source.video!.frameRate,
    durationSec: source.durationSec,
  },
  ladder: plan.video.map((r) => ({ id: r.id, width: r.width, height: r.height, bitrate: r.bitrate })),
  segmentDuration: SEGMENT,
  partDuration: PART,
  rounds,
  baselineMs: baselineMs.map(Math.round),
  packagerMs: packagerMs.map(Math.round),
  baselineMedianMs: Math.round(median(baselineMs)),
  packagerMedianMs: Math.round(median(packagerMs)),
  ratio: Number(ratio.toFixed(3)),
  aim: 1.05,
  withinAim: ratio <= 1.05,
  cpu: {
    baselineSec: r1(baselineCpuSec),
    packagerFfmpegSec: r1(packagerFfmpegCpuSec),
    packagerSelfSec: r1(packagerSelfCpuSec),
    /** (ffmpeg + ffprobe + our process) / baseline ffmpeg, medians: the load-independent overhead. */
    ratio: Number(cpuRatio.toFixed(3)),
    /** Our process's own CPU as a share of the whole packaging CPU. */
    selfShare: Number((median(packagerSelfCpuSec) / median(packagerCpu)).toFixed(4)),
  },
  peakRssBytes,
  output: { segmentsPerRendition: last?.segmentCount, packagedBytes: last?.totalBytes, baselineBytes },
};
mkdirSync(join(here, 'results'), { recursive: true });
writeFileSync(join(here, 'results', 'package.json'), JSON.stringify(result, null, 2) + '\n');

const mb = (n: number): string => `${(n / 1e6).toFixed(1)} MB`;
process.stdout.write(
  [
    '',
    `package bench: ${fixtureName} ${source.video!.width}x${source.video!.height} ${(source.durationSec ?? 0).toFixed(0)} s → ${plan.video.map((r) => r.id).join('/')} + audio, ${rounds} round(s)`,
    `  plain ffmpeg (same ladder, to files): median ${(result.baselineMedianMs / 1000).toFixed(1)} s  [${result.baselineMs.map((m) => (m / 1000).toFixed(1)).join(', ')}]`,
    `  streamedge package:                   median ${(result.packagerMedianMs / 1000).toFixed(1)} s  [${result.packagerMs.map((m) => (m / 1000).toFixed(1)).join(', ')}]`,
    `  wall ratio ${result.ratio} (aim ≤ ${result.aim}: ${result.withinAim ? 'met' : 'NOT met'}), peak RSS of the packager process ${mb(peakRssBytes)}`,
    `  CPU: baseline ${result.cpu.baselineSec.join(', ')} s; packager ffmpeg ${result.cpu.packagerFfmpegSec.join(', ')} s + ours ${result.cpu.packagerSelfSec.join(', ')} s → CPU ratio ${result.cpu.ratio} (our process ${(result.cpu.selfShare * 100).toFixed(1)}% of it)`,
    `  output ${mb(result.output.packagedBytes ?? 0)} packaged vs ${mb(baselineBytes)} baseline files`,
    `  → bench/results/package.json`,
    '',
  ].join('\n'),
);
