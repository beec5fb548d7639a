/**
 * What reading CEA-608 captions costs where it runs on every part: the live origin (which
 * captions a channel carries, live-captions.ts) and our player (every video fragment appended,
 * inband-captions.ts) both run `CaptionChannelScan`/`fragmentCaptions` + the 608 decoder over
 * each part of one video rendition. Measured on the `captioned` fixture packaged as a live
 * channel's small ladder is (2 s segments, 0.5 s parts), its 360p rendition, in ABBA rounds of
 * CPU time:
 *  A. the caption scan of every part;
 *  B. what the origin already runs on every part: reading its tfdt (packager/live/decode-time.ts).
 * And against the encoder: the CPU of packaging the fixture (ffmpeg + segmenter) per segment.
 * Writes bench/results/captions.json.
 *
 *   node bin/run-ts.js bench/captions-bench.ts [--rounds 4] [--passes 400]
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fixture } from '../media-fixtures/generate.js';
import { readBoxes } from '../src/cmaf/box.js';
import { CaptionChannelScan } from '../src/captions/channel-scan.js';
import { packageVod } from '../packager/vod-job.js';
import { firstDecodeTime } from '../packager/live/decode-time.js';
import { finishMachineInfo, startMachineInfo } from './machine-info.js';
import { childrenCpuSec, median, selfCpuSec } from './process-cpu.js';
import { arg } from './bench-args.js';

const machineStart = startMachineInfo();
const here = dirname(fileURLToPath(import.meta.url));

const rounds = Math.max(1, Number(arg('rounds', '4')));
const passes = Math.max(1, Number(arg('passes', '400')));
const r3 = (x: number): number => Number(x.toFixed(3));

/** A segment file's parts: each moof with the mdat after it. */
function partsOf(segment: Buffer): Buffer[] {
  const boxes = readBoxes(segment);
  const parts: Buffer[] = [];
  let from: number | undefined;
  for (const b of boxes) {
    if (b.type === 'moof') from = b.start;
    if (b.type === 'mdat' && from !== undefined) {
      parts.push(segment.subarray(from, b.start + b.size));
      from = undefined;
    }
  }
  return parts;
}

/** CPU seconds of `passes` runs of `work` over all parts. */
function cpuOf(work: () => void): number {
  const t0 = selfCpuSec();
  for (let i = 0; i < passes; i++) work();
  return selfCpuSec() - t0;
}

const work = mkdtempSync(join(tmpdir(), 'se-captions-bench-'));
try {
  const input = await fixture('captioned');
  const cpu0 = selfCpuSec() + childrenCpuSec();
  const summary = await packageVod({
    input,
    outDir: join(work, 'out'),
    assetId: 'cc',
    ladder: 'small',
    segmentDuration: 2,
    partDuration: 0.5,
  });
  const packagingCpu = selfCpuSec() + childrenCpuSec() - cpu0;
  const dir = join(summary.versionDir, '360p');
  const init = readFileSync(join(dir, 'init.mp4'));
  const segments = readdirSync(dir)
    .filter((f) => /^seg-\d+\.m4s$/.test(f))
    .sort((a, b) => Number(/\d+/.exec(a)![0]) - Number(/\d+/.exec(b)![0]))
    .map((f) => readFileSync(join(dir, f)));
  const parts = segments.flatMap(partsOf);
  const mediaSec = summary.durationSec;

  // (each pass a fresh scan, as a new run of a channel starts one; its result is checked below)
  let lastScan: CaptionChannelScan | undefined;
  const scan = () => {
    const s = new CaptionChannelScan(init);
    for (const p of parts) s.push(p);
    lastScan = s;
  };
  let sink = 0;
  const decodeTimes = () => {
    for (const p of parts) sink += firstDecodeTime(p) ?? 0;
  };
  scan();
  decodeTimes(); // warm both
  const a: number[] = [];
  const b: number[] = [];
  for (let r = 0; r < rounds; r++) {
    // ABBA: A B B A, then B A A B, …
    if (r % 2 === 0) {
      a.push(cpuOf(scan));
      b.push(cpuOf(decodeTimes));
    } else {
      b.push(cpuOf(decodeTimes));
      a.push(cpuOf(scan));
    }
  }
  const found = (lastScan?.services ?? []).join(', ');
  if (found !== 'CC1') throw new Error(`the scan found channels [${found}], not CC1`);
  const scanPerSegment = median(a) / passes / segments.length;
  const decodeTimePerSegment = median(b) / passes / segments.length;
  const encoderPerSegment = packagingCpu / segments.length;
  const result = {
    bench: 'captions',
    command: `node bin/run-ts.js bench/captions-bench.ts --rounds ${rounds} --passes ${passes}`,
    machine: finishMachineInfo(machineStart),
    fixture: 'captioned',
    rounds,
    ratios: {
      captionScanOverPartDecodeTime: r3(scanPerSegment / decodeTimePerSegment),
    },
    scan: {
      about:
        "CaptionChannelScan over every part of the 360p rendition (what the live origin runs on a channel's first video rendition, and our player on every video fragment it appends), against reading each part's tfdt (what the origin already runs on every part) and the CPU of packaging the small ladder per segment",
      segments: segments.length,
      partsPerPass: parts.length,
      passes,
      mediaSeconds: mediaSec,
      scanCpuSec: a.map((x) => Number(x.toFixed(4))),
      decodeTimeCpuSec: b.map((x) => Number(x.toFixed(4))),
      scanUsPerSegment: r3(scanPerSegment * 1e6),
      decodeTimeUsPerSegment: r3(decodeTimePerSegment * 1e6),
      encoderMsPerSegment: r3(encoderPerSegment * 1000),
      scanCoreShareAtRealTime: Number((scanPerSegment / 2).toPrecision(3)),
      // (too small for the README's three decimals: here, not among the ratios)
      scanOverEncoderPerSegment: Number((scanPerSegment / encoderPerSegment).toPrecision(3)),
    },
    sink: sink > 0,
  };
  writeFileSync(join(here, 'results', 'captions.json'), JSON.stringify(result, null, 2) + '\n');
  process.stdout.write(
    `caption scan: ${result.scan.scanUsPerSegment} µs per 2 s segment of 360p ` +
      `(${result.ratios.captionScanOverPartDecodeTime}× reading its parts' tfdt; ` +
      `${result.scan.scanOverEncoderPerSegment}× the encoder's CPU per segment)\n`,
  );
} finally {
  rmSync(work, { recursive: true, force: true });
}
