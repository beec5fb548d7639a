/**
 * Preload hints that come true, for five minutes: a real live channel (ffmpeg lavfi 180p video +
 * AAC audio, 2 s segments of 0.5 s parts) on a real origin, its video and audio renditions each
 * followed by an LL-HLS client that requests every hinted part with the blocking reload that waits
 * for it (test/integration/live/hint-audit.ts, the same check the one-minute test runs).
 *
 * Same-run baseline: for every playlist the clients received, the hint the previous rule (a
 * duration guess: part 0 of the next segment once the segment in progress is within half a part
 * of its target) would have written, judged against the parts each segment really ended with.
 * Writes bench/results/preload-hint.json.
 *
 *   node bin/run-ts.js bench/preload-hint-bench.ts [--seconds 300]
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createOrigin } from '../packager/origin/server.js';
import { auditHints, type HintAudit } from '../test/integration/live/hint-audit.js';
import { finishMachineInfo, startMachineInfo } from './machine-info.js';
import { arg } from './bench-args.js';

const machineStart = startMachineInfo();
const here = dirname(fileURLToPath(import.meta.url));
const SEGMENT = 2;
const PART = 0.5;

/** Hints the duration guess would have broken: it named part k of a segment that ended with k parts. */
function guessBroken(a: HintAudit): { hints: number; broken: number } {
  let hints = 0;
  let broken = 0;
  for (const cur of a.inProgress) {
    const final = a.finalParts.get(cur.msn);
    if (final === undefined) continue; // the run ended before this segment was seen complete
    hints++;
    const nextSegment = cur.seconds >= SEGMENT - PART / 2 - 1e-9;
    if (!nextSegment && final === cur.parts) broken++;
  }
  return { hints, broken };
}

async function main(): Promise<void> {
  const seconds = Number(arg('seconds', '300'));
  const dir = mkdtempSync(join(tmpdir(), 'se-hint-bench-'));
  const root = join(dir, 'root');
  mkdirSync(root);
  const ladder = join(dir, 'ladder.json');
  writeFileSync(
    ladder,
    JSON.stringify({ video: [{ height: 180, bitrate: '200k', id: '180p' }], audio: { bitrate: '64k' } }),
  );
  const origin = await createOrigin({
    root,
    logger: false,
    processMetrics: false,
    live: [
      {
        id: 'ch',
        source: 'lavfi:testsrc2=size=320x180:rate=30',
        segmentDuration: SEGMENT,
        partDuration: PART,
        dvrWindow: 60,
        ladder,
      },
    ],
  });
  try {
    const base = await origin.listen(0, '127.0.0.1');
    const channel = origin.channels.get('ch')!;
    // Wait (bounded) for the first complete segment of both renditions.
    const deadline = Date.now() + 60_000;
    while ((channel.presentation()?.timelines.filter((t) => t.segments.some((s) => s.complete)).length ?? 0) < 2) {
      if (Date.now() > deadline) throw new Error('the channel produced no complete segment in 60 s');
      await new Promise((r) => setTimeout(r, 100));
    }
    process.stdout.write(`following hints on 180p and audio for ${seconds} s …\n`);
    const audits = await Promise.all(['180p', 'audio'].map((r) => auditHints(base, 'ch', r, seconds * 1000)));
    const renditions = audits.map((a) => {
      const guess = guessBroken(a);
      return {
        rendition: a.rendition,
        hints: a.hints,
        kept: a.kept,
        notFound: a.notFound.length,
        notFoundUris: a.notFound,
        otherFailures: a.otherFailures,
        nextSegmentHints: a.nextSegmentHints,
        nextPartHints: a.nextPartHints,
        baselineDurationGuess: { hintsJudged: guess.hints, wouldHave404ed: guess.broken },
      };
    });
    const notFound = renditions.reduce((n, r) => n + r.notFound, 0);
    const baselineBroken = renditions.reduce((n, r) => n + r.baselineDurationGuess.wouldHave404ed, 0);
    const result = {
      bench: 'preload-hint',
      what: 'hinted parts that 404 on a live LL-HLS channel, video and audio, followed like a client',
      workload: {
        durationSeconds: seconds,
        segmentSeconds: SEGMENT,
        partSeconds: PART,
        source: 'lavfi 320x180@30 + AAC 48 kHz',
      },
      renditions,
      totals: {
        hints: renditions.reduce((n, r) => n + r.hints, 0),
        notFound,
        baselineWouldHave404ed: baselineBroken,
      },
      // Broken hints of the current rule per broken hint of the duration guess (0 = none of them left).
      ratios: { brokenHintsVsBaseline: baselineBroken > 0 ? notFound / baselineBroken : notFound === 0 ? 1 : Infinity },
      machine: finishMachineInfo(machineStart),
    };
    const out = join(here, 'results', 'preload-hint.json');
    writeFileSync(out, JSON.stringify(result, null, 2) + '\n');
    process.stdout.write(`${JSON.stringify(result.totals)}\nwrote ${out}\n`);
  } finally {
    await origin.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
