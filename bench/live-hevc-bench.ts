/**
 * What a live channel's HEVC rungs cost (`origin --live-video-codecs h264,hevc`), runs in ABBA
 * order:
 *
 *   node bin/run-ts.js bench/live-hevc-bench.ts [--rounds 2] [--seconds 20] [--ladder small] [--source lavfi] [--out <json>]
 *
 * A: the channel in H.264 alone (the baseline); B: the same channel in H.264 and HEVC. Each run
 * starts an origin in this process with one live channel (lavfi: testsrc2 1280x720 at 30 fps and
 * a sine, the `small` ladder: 360p and 240p), waits for its second segment, then for `--seconds`
 * measures the encoder's CPU (the ffmpeg process tree, from /proc) and samples every 250 ms how
 * far each rendition's newest part is behind real time (now − the PDT end of its newest part):
 * whether the encoder keeps up in real time, and whether the HEVC parts come out with the H.264
 * ones. The ratio B ÷ A of the encoder's CPU is what the HEVC rungs cost.
 * Writes bench/results/live-hevc.json (or `--out`).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { createOrigin } from '../packager/origin/server.js';
import type { LiveChannel } from '../packager/live/live-channel.js';
import type { VideoCodec } from '../packager/ladder.js';
import { finishMachineInfo, startMachineInfo } from './machine-info.js';
import { median, treeCpuSeconds } from './process-cpu.js';
import { arg } from './bench-args.js';

const machineStart = startMachineInfo();
const here = dirname(fileURLToPath(import.meta.url));

const rounds = Math.max(1, Number(arg('rounds', '2')));
const seconds = Math.max(5, Number(arg('seconds', '20')));
const ladder = arg('ladder', 'small');
const source = arg('source', 'lavfi');
const r3 = (x: number): number => Number(x.toFixed(3));

type Mode = 'h264' | 'h264+hevc';

interface Run {
  mode: Mode;
  /** Cores the encoder kept busy: its CPU-seconds ÷ the seconds measured. */
  encoderCores: number;
  /** Per rendition: how far behind real time its newest part was (ms), p50 and max of the samples. */
  behindMs: Record<string, { p50: number; max: number }>;
}

/** The PDT end (epoch ms) of a rendition's newest part, or undefined before its first. */
function newestPdtEnd(channel: LiveChannel, rid: string): number | undefined {
  const w = channel.windows.get(rid);
  const segs = w?.timelineSegments();
  const last = segs?.[segs.length - 1];
  if (!w?.rendition || !last || last.programDateTime === undefined) return undefined;
  const units = last.complete ? last.duration : last.parts.reduce((s, p) => s + p.duration, 0);
  return last.programDateTime + (units / w.rendition.timescale) * 1000;
}

function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
}

async function measure(mode: Mode, work: string): Promise<Run> {
  const root = mkdtempSync(join(work, 'root-'));
  const origin = await createOrigin({
    root,
    live: [
      {
        id: 'ch',
        source,
        ladder,
        segmentDuration: 2,
        partDuration: 0.5,
        dvrWindow: 30,
        ...(mode === 'h264+hevc' ? { videoCodecs: ['h264', 'hevc'] satisfies VideoCodec[] } : {}),
      },
    ],
    logger: false,
    processMetrics: false,
  });
  try {
    await origin.listen(0, '127.0.0.1');
    const channel = origin.channels.get('ch')!;
    const deadline = Date.now() + 60_000;
    while ((channel.status().lastSegment ?? -1) < 2 || !channel.status().pid) {
      if (Date.now() > deadline)
        throw new Error(`${mode}: no second segment within 60 s: ${JSON.stringify(channel.status())}`);
      await sleep(100);
    }
    const pid = channel.status().pid!;
    const rids = channel.status().renditions;
    const behind = new Map<string, number[]>(rids.map((r) => [r, []]));
    const cpu0 = treeCpuSeconds(pid);
    const t0 = performance.now();
    while (performance.now() - t0 < seconds * 1000) {
      await sleep(250);
      const now = Date.now();
      for (const rid of rids) {
        const end = newestPdtEnd(channel, rid);
        if (end !== undefined) behind.get(rid)!.push(now - end);
      }
    }
    const cpu = treeCpuSeconds(pid) - cpu0;
    const wall = (performance.now() - t0) / 1000;
    if (channel.status().pid !== pid) throw new Error(`${mode}: the encoder restarted while measured`);
    return {
      mode,
      encoderCores: r3(cpu / wall),
      behindMs: Object.fromEntries(
        [...behind].map(([rid, xs]) => [rid, { p50: Math.round(quantile(xs, 0.5)), max: Math.round(Math.max(...xs)) }]),
      ),
    };
  } finally {
    await origin.close();
  }
}

const work = mkdtempSync(join(tmpdir(), 'se-live-hevc-bench-'));
try {
  const runs: Run[] = [];
  const order: Mode[] = [];
  for (let r = 0; r < rounds; r++)
    order.push(...(r % 2 === 0 ? (['h264', 'h264+hevc'] as const) : (['h264+hevc', 'h264'] as const)));
  for (const [i, mode] of order.entries()) {
    process.stdout.write(`run ${i + 1}/${order.length}: ${mode}, ${seconds} s measured...\n`);
    const run = await measure(mode, work);
    runs.push(run);
    process.stdout.write(
      `  encoder ${run.encoderCores} cores; newest part behind real time (p50/max ms): ` +
        Object.entries(run.behindMs)
          .map(([rid, b]) => `${rid} ${b.p50}/${b.max}`)
          .join(', ') +
        '\n',
    );
  }
  const cores = (mode: Mode) => median(runs.filter((r) => r.mode === mode).map((r) => r.encoderCores));
  const a = r3(cores('h264'));
  const b = r3(cores('h264+hevc'));
  // in the B runs: how much later than its H.264 twin each HEVC rendition's newest part was (p50)
  const hevcRuns = runs.filter((r) => r.mode === 'h264+hevc');
  const hevcBehindTwinMs = Object.fromEntries(
    Object.keys(hevcRuns[0].behindMs)
      .filter((rid) => rid.endsWith('-hevc'))
      .map((rid) => [
        rid,
        median(hevcRuns.map((r) => r.behindMs[rid].p50 - r.behindMs[rid.replace(/-hevc$/, '')].p50)),
      ]),
  );
  const result = {
    bench: 'live-hevc',
    date: new Date().toISOString(),
    machine: finishMachineInfo(machineStart),
    command: `node bin/run-ts.js bench/live-hevc-bench.ts --rounds ${rounds} --seconds ${seconds} --ladder ${ladder} --source ${source}`,
    about:
      'one live channel (2 s segments, 0.5 s parts) in H.264 alone (A) and in H.264 + HEVC (B), ABBA; the encoder process tree CPU over the measured seconds; how far behind real time each rendition’s newest part was, sampled every 250 ms',
    ladder,
    source,
    rounds,
    /** Seconds measured per run. */
    seconds,
    runs,
    ratios: {
      encoderCpuHevcOverH264Only: r3(b / a),
    },
    encoderCores: { h264: a, 'h264+hevc': b },
    hevcNewestPartBehindItsH264TwinMs: hevcBehindTwinMs,
  };
  writeFileSync(arg('out', join(here, 'results', 'live-hevc.json')), JSON.stringify(result, null, 2) + '\n');
  process.stdout.write(
    `the HEVC rungs cost ${result.ratios.encoderCpuHevcOverH264Only}× the encoder CPU of H.264 alone ` +
      `(${a} → ${b} cores); HEVC newest parts behind their H.264 twins (ms, p50): ${JSON.stringify(hevcBehindTwinMs)}\n`,
  );
} finally {
  rmSync(work, { recursive: true, force: true });
}
