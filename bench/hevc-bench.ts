/**
 * What HEVC renditions cost and give (`package --video-codecs h264,hevc`):
 *
 *   node bin/run-ts.js bench/hevc-bench.ts [--rounds 2] [--fixture sample] [--preset veryfast] [--out <json>]
 *
 * - Cost: the default ladder packaged in H.264 alone (A, the baseline) and in H.264 + HEVC (B),
 *   in ABBA order, each run's wall time and CPU seconds (this process and its ffmpeg/ffprobe
 *   children). The ratio B ÷ A of the CPU medians is what adding the HEVC ladder costs.
 * - Gain: every rendition of one B run decoded and compared with the source scaled to its size
 *   (ffmpeg's ssim filter, luma and chroma together, "All"), beside its media bytes: an HEVC rung
 *   at 70 % of the bytes should score about the H.264 rung's SSIM, which is the claim behind the
 *   70 % default. The fixture is ffmpeg's testsrc2 (synthetic: sharp edges, flat colours, a moving
 *   gradient), so the scores say how the two encoders compare on it, not what a film would score.
 *
 * Writes bench/results/hevc.json (or `--out`).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fixture, type FixtureName } from '../media-fixtures/generate.js';
import { ffmpegPath } from '../src/media/ffmpeg-binaries.js';
import { packageVod, type VodSummary } from '../packager/vod-job.js';
import { finishMachineInfo, startMachineInfo } from './machine-info.js';
import { childrenCpuSec, median, selfCpuSec } from './process-cpu.js';
import { arg } from './bench-args.js';

const machineStart = startMachineInfo();
const here = dirname(fileURLToPath(import.meta.url));

/** Runs ffmpeg, resolving with its stderr (where filters print their summaries). */
function ffmpeg(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(ffmpegPath(), args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve(err) : reject(new Error(`ffmpeg exited ${code}: ${err.slice(-1500)}`)),
    );
  });
}

const rounds = Math.max(1, Number(arg('rounds', '2')));
const fixtureName = arg('fixture', 'sample') as FixtureName;
const preset = arg('preset', 'veryfast');
const work = mkdtempSync(join(tmpdir(), 'se-hevc-bench-'));
process.stdout.write(`preparing fixture ${fixtureName} (generated once, cached)...\n`);
const input = await fixture(fixtureName);

interface Run {
  kind: 'h264' | 'h264+hevc';
  wallMs: number;
  cpuSec: number;
  summary: VodSummary;
}

async function packageOnce(kind: Run['kind'], n: number): Promise<Run> {
  const cpu0 = selfCpuSec() + childrenCpuSec();
  const t0 = performance.now();
  const summary = await packageVod({
    input,
    outDir: join(work, `${kind}-${n}`),
    assetId: 'bench',
    ladder: 'default',
    segmentDuration: 4,
    partDuration: 1,
    preset,
    videoCodecs: kind === 'h264' ? ['h264'] : ['h264', 'hevc'],
  });
  const run = { kind, wallMs: performance.now() - t0, cpuSec: selfCpuSec() + childrenCpuSec() - cpu0, summary };
  process.stdout.write(
    `  ${kind.padEnd(9)} ${(run.wallMs / 1000).toFixed(1)} s wall, ${run.cpuSec.toFixed(1)} CPU-s\n`,
  );
  return run;
}

const runs: Run[] = [];
for (let r = 0; r < rounds; r++) {
  // ABBA: A B in even rounds, B A in odd ones
  const order: Run['kind'][] = r % 2 === 0 ? ['h264', 'h264+hevc'] : ['h264+hevc', 'h264'];
  for (const kind of order) runs.push(await packageOnce(kind, r));
}
const of = (kind: Run['kind']) => runs.filter((x) => x.kind === kind);
const cpuA = median(of('h264').map((x) => x.cpuSec));
const cpuB = median(of('h264+hevc').map((x) => x.cpuSec));
const wallA = median(of('h264').map((x) => x.wallMs));
const wallB = median(of('h264+hevc').map((x) => x.wallMs));

// SSIM of every rendition of the last H.264 + HEVC run against the source at its size
const last = of('h264+hevc').at(-1)!;
const versionDir = last.summary.versionDir;
const quality: { id: string; codecs: string; width: number; height: number; bytes: number; ssim: number }[] = [];
for (const r of last.summary.renditions.filter((x) => x.width && x.height)) {
  const dir = join(versionDir, r.id);
  const whole = join(work, `${r.id}.mp4`);
  const segments = readdirSync(dir)
    .filter((f) => /^seg-\d+\.m4s$/.test(f))
    .sort((a, b) => Number(/\d+/.exec(a)![0]) - Number(/\d+/.exec(b)![0]));
  writeFileSync(
    whole,
    Buffer.concat([join(dir, 'init.mp4'), ...segments.map((s) => join(dir, s))].map((f) => readFileSync(f))),
  );
  const log = await ffmpeg([
    ...['-hide_banner', '-i', whole, '-i', input, '-lavfi'],
    `[0:v]setpts=PTS-STARTPTS,format=yuv420p[d];[1:v]setpts=PTS-STARTPTS,scale=w=${r.width}:h=${r.height}:flags=bicubic,format=yuv420p[ref];[d][ref]ssim`,
    ...['-f', 'null', '-'],
  ]);
  const ssim = Number(/SSIM .*All:([\d.]+)/.exec(log)?.[1]);
  quality.push({ id: r.id, codecs: r.codecs, width: r.width!, height: r.height!, bytes: r.bytes, ssim });
  process.stdout.write(
    `  ${r.id.padEnd(10)} ${r.codecs.padEnd(16)} ${(r.bytes / 1e3).toFixed(0).padStart(6)} kB  SSIM ${ssim.toFixed(4)}\n`,
  );
}
const pairs = quality
  .filter((q) => !q.id.endsWith('-hevc'))
  .map((h) => {
    const e = quality.find((q) => q.id === `${h.id}-hevc`)!;
    return {
      rung: h.id,
      h264: { bytes: h.bytes, ssim: h.ssim },
      hevc: { bytes: e.bytes, ssim: e.ssim },
      hevcBytesToH264: Math.round((e.bytes / h.bytes) * 1000) / 1000,
      hevcSsimMinusH264: Math.round((e.ssim - h.ssim) * 10000) / 10000,
    };
  });

const result = {
  bench: 'hevc',
  machine: finishMachineInfo(machineStart),
  date: new Date().toISOString(),
  command: `node bin/run-ts.js bench/hevc-bench.ts --rounds ${rounds} --fixture ${fixtureName} --preset ${preset}`,
  source: { fixture: fixtureName, what: 'ffmpeg testsrc2 (synthetic) + a sine tone' },
  ladder: 'default (on a 720p source: 720p, 540p, 360p, 240p), segments 4 s, parts 1 s',
  preset,
  rounds,
  order: 'ABBA (A: H.264 alone, the baseline; B: H.264 + HEVC)',
  runs: runs.map((x) => ({ kind: x.kind, wallMs: Math.round(x.wallMs), cpuSec: Math.round(x.cpuSec * 10) / 10 })),
  medians: { h264CpuSec: cpuA, bothCpuSec: cpuB, h264WallMs: Math.round(wallA), bothWallMs: Math.round(wallB) },
  ratios: {
    cpuWithHevcToH264Alone: Math.round((cpuB / cpuA) * 100) / 100,
    wallWithHevcToH264Alone: Math.round((wallB / wallA) * 100) / 100,
  },
  quality: pairs,
};
const outFile = arg('out', join(here, 'results', 'hevc.json'));
writeFileSync(outFile, JSON.stringify(result, null, 2) + '\n');
rmSync(work, { recursive: true, force: true });
process.stdout.write(
  `H.264 + HEVC costs ${result.ratios.cpuWithHevcToH264Alone}x the CPU of H.264 alone (wall ${result.ratios.wallWithHevcToH264Alone}x); ` +
    pairs
      .map(
        (p) =>
          `${p.rung}: HEVC ${p.hevcBytesToH264}x the bytes, SSIM ${p.hevcSsimMinusH264 >= 0 ? '+' : ''}${p.hevcSsimMinusH264}`,
      )
      .join('; ') +
    `\nwrote ${outFile}\n`,
);
