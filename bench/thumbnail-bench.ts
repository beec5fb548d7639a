/**
 * What thumbnails cost, each figure from runs in ABBA order:
 *
 *  1. VOD: `packageVod` of a fixture with and without `--thumbnails` (the sheets are one more
 *     branch of the ladder's own ffmpeg run), CPU of the whole run; against the peer a user
 *     would stitch in: a second ffmpeg pass over the source making the same sheets
 *     (`fps,scale,tile` to JPEG), whose CPU is what our branch saves.
 *  2. Live: CPU per picture of `--live-thumbnails` (each segment's first part through one
 *     long-lived ffmpeg; and, as before, an ffmpeg per picture), against what the channel's
 *     encoder spends on the same segment: packaging the live ladder ('small') per segment.
 * Writes bench/results/thumbnails.json.
 *
 *   node bin/run-ts.js bench/thumbnail-bench.ts [--rounds 2] [--fixture demo]
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fixture, type FixtureName } from '../media-fixtures/generate.js';
import { readBoxes } from '../src/cmaf/box.js';
import { ffmpegPath } from '../src/media/ffmpeg-binaries.js';
import { packageVod } from '../packager/vod-job.js';
import { openFfmpegPictureStream } from '../packager/live/picture-stream.js';
import { finishMachineInfo, startMachineInfo } from './machine-info.js';
import { childrenCpuSec, median, selfCpuSec } from './process-cpu.js';
import { arg } from './bench-args.js';

const machineStart = startMachineInfo();
const here = dirname(fileURLToPath(import.meta.url));

const rounds = Math.max(1, Number(arg('rounds', '2')));
const fixtureName = arg('fixture', 'demo') as FixtureName;
const SEGMENT = 4;
const r3 = (x: number): number => Number(x.toFixed(3));
const cpuNow = (): number => selfCpuSec() + childrenCpuSec();

/** CPU seconds of packaging `input` (the default ladder, 4 s segments), with or without thumbnails. */
async function packageCpu(
  input: string,
  work: string,
  tag: string,
  thumbnails: boolean,
  ladder?: string,
): Promise<number> {
  const outDir = join(work, tag);
  const t0 = cpuNow();
  await packageVod({
    input,
    outDir,
    assetId: 'a',
    segmentDuration: ladder ? 2 : SEGMENT,
    partDuration: ladder ? 0.5 : 1,
    ...(ladder ? { ladder } : {}),
    ...(thumbnails ? { thumbnails: {} } : {}),
  });
  const cpu = cpuNow() - t0;
  if (!ladder) rmSync(outDir, { recursive: true, force: true });
  return cpu;
}

/** The peer: a separate ffmpeg pass making the same sheets (240 wide, 3×3, one per segment). */
function separatePassCpu(input: string, work: string): number {
  const t0 = childrenCpuSec();
  const r = spawnSync(ffmpegPath(), [
    ...['-v', 'error', '-y', '-i', input, '-map', '0:v:0'],
    ...['-vf', `fps=fps=1/${SEGMENT}:round=up,scale=w=240:h=-2,tile=3x3`, '-q:v', '5'],
    join(work, 'peer-%d.jpg'),
  ]);
  if (r.status !== 0) throw new Error(`ffmpeg failed: ${r.stderr.toString()}`);
  return childrenCpuSec() - t0;
}

/** The first part (moof + mdat) of each segment of a packaged rendition. */
function firstParts(dir: string): Buffer[] {
  return readdirSync(dir)
    .filter((f) => /^seg-\d+\.m4s$/.test(f))
    .sort((a, b) => Number(/\d+/.exec(a)![0]) - Number(/\d+/.exec(b)![0]))
    .map((f) => {
      const bytes = readFileSync(join(dir, f));
      const boxes = readBoxes(bytes);
      const moof = boxes.findIndex((b) => b.type === 'moof');
      const mdat = boxes[moof + 1];
      return bytes.subarray(boxes[moof].start, mdat.start + mdat.size);
    });
}

/**
 * CPU seconds per live picture of every segment's first part of a rendition: through one
 * long-lived ffmpeg (what `--live-thumbnails` runs), or an ffmpeg per picture (its first design).
 */
async function liveCpuPerPicture(dir: string, perPicture: boolean): Promise<{ cpu: number; pictures: number }> {
  const parts = firstParts(dir);
  const init = readFileSync(join(dir, 'init.mp4'));
  const t0 = childrenCpuSec();
  if (perPicture) {
    for (const p of parts) {
      const stream = openFfmpegPictureStream(init, 240, 136);
      await Promise.all([stream.take(p), stream.close()]);
    }
  } else {
    const stream = openFfmpegPictureStream(init, 240, 136);
    const pictures = Promise.all(parts.map((p) => stream.take(p)));
    await Promise.all([stream.close(), pictures]);
  }
  return { cpu: (childrenCpuSec() - t0) / parts.length, pictures: parts.length };
}

const work = mkdtempSync(join(tmpdir(), 'streamedge-thumbs-bench-'));
try {
  const input = await fixture(fixtureName);
  const vod = { plain: [] as number[], thumbnails: [] as number[], peer: [] as number[] };
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? ['plain', 'thumbnails', 'peer'] : ['peer', 'thumbnails', 'plain'];
    for (const what of order) {
      if (what === 'peer') vod.peer.push(separatePassCpu(input, work));
      else
        vod[what as 'plain' | 'thumbnails'].push(
          await packageCpu(input, work, `${what}-${round}`, what === 'thumbnails'),
        );
    }
    process.stdout.write(`vod round ${round + 1}/${rounds} done\n`);
  }

  // live: the live ladder packaged once (2 s segments, 0.5 s parts) gives the encoder's CPU per
  // segment and the parts to picture; pictures and encodes alternate ABBA
  const live = {
    encodeCpuPerSegment: [] as number[],
    pictureCpu: [] as number[],
    perPictureProcessCpu: [] as number[],
  };
  let pictures = 0;
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? ['encode', 'stream', 'process'] : ['process', 'stream', 'encode'];
    for (const what of order) {
      const tag = `live-${round}`;
      if (what === 'encode') {
        const cpu = await packageCpu(input, work, tag, false, 'small');
        const segments = readdirSync(join(work, tag, 'a', 'v1', '240p')).filter((f) => f.endsWith('.m4s')).length;
        live.encodeCpuPerSegment.push(cpu / segments);
      } else {
        const from = round % 2 === 0 ? `live-${round}` : `live-${round - 1}`;
        const r = await liveCpuPerPicture(join(work, from, 'a', 'v1', '240p'), what === 'process');
        (what === 'process' ? live.perPictureProcessCpu : live.pictureCpu).push(r.cpu);
        pictures = r.pictures;
      }
    }
    process.stdout.write(`live round ${round + 1}/${rounds} done\n`);
  }

  const plain = median(vod.plain);
  const withThumbs = median(vod.thumbnails);
  const peer = median(vod.peer);
  const picture = median(live.pictureCpu);
  const encode = median(live.encodeCpuPerSegment);
  const result = {
    bench: 'thumbnails',
    command: `node bin/run-ts.js bench/thumbnail-bench.ts --rounds ${rounds} --fixture ${fixtureName}`,
    machine: finishMachineInfo(machineStart),
    ffmpeg: spawnSync(ffmpegPath(), ['-version']).stdout.toString().split('\n')[0],
    fixture: fixtureName,
    rounds,
    ratios: {
      vodPackagingWithThumbnailsOverWithout: r3(withThumbs / plain),
      vodSeparateFfmpegPassOverPackaging: r3(peer / plain),
      livePictureOverEncoderPerSegment: r3(picture / encode),
      liveStreamOverProcessPerPicture: r3(picture / median(live.perPictureProcessCpu)),
    },
    vod: {
      about: `packageVod, default ladder, ${SEGMENT} s segments; thumbnails 240 wide, 3x3, one per segment`,
      plainCpuSec: vod.plain.map(r3),
      thumbnailsCpuSec: vod.thumbnails.map(r3),
      separateFfmpegPassCpuSec: vod.peer.map(r3),
      thumbnailsOverPlain: r3(withThumbs / plain),
      // below the noise of whole packaging runs (it came out negative in two of three runs)
      branchCpuSec: r3(withThumbs - plain),
    },
    live: {
      about:
        'one picture per 2 s segment, 240 wide, from the 240p rendition, through one long-lived ffmpeg (what --live-thumbnails runs; before: an ffmpeg per picture); the encoder: the small ladder packaged',
      pictures,
      pictureCpuMs: live.pictureCpu.map((s) => r3(s * 1000)),
      processPerPictureCpuMs: live.perPictureProcessCpu.map((s) => r3(s * 1000)),
      streamOverProcessPerPicture: r3(picture / median(live.perPictureProcessCpu)),
      encoderCpuMsPerSegment: live.encodeCpuPerSegment.map((s) => r3(s * 1000)),
      pictureOverEncoderPerSegment: r3(picture / encode),
      coreShareAt2sSegments: r3(picture / 2),
    },
  };
  writeFileSync(join(here, 'results', 'thumbnails.json'), JSON.stringify(result, null, 2) + '\n');
  process.stdout.write(
    `VOD: packaging with thumbnails ${result.vod.thumbnailsOverPlain}× the CPU of without; a separate ffmpeg ` +
      `pass would add ${result.ratios.vodSeparateFfmpegPassOverPackaging}× the packaging's CPU\n` +
      `live: ${r3(picture * 1000)} ms of CPU a picture (${result.live.streamOverProcessPerPicture}× an ffmpeg per picture), ` +
      `${result.live.pictureOverEncoderPerSegment}× the encoder's CPU per segment\n`,
  );
} finally {
  rmSync(work, { recursive: true, force: true });
}
