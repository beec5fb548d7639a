/**
 * `--live-dash-periods cues`: a Period of the live MPD keeps its id, its start and its
 * presentationTimeOffset for as long as it is listed (ISO/IEC 23009-1 §5.4: on an MPD update,
 * Period@id, Period@start and the offsets of a Period do not change; players track Periods by
 * id). The programme's Period after an ad break's return once became `id="0" start="PT0S"`
 * without its offset when the break's Periods left the DVR window. Real HTTP against an origin
 * whose encoder the test drives (1 s segments, a 4 s window).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { createOrigin, type Origin } from '../../../packager/origin/server.js';
import { splitPeriods } from '../../../src/dash/mpd-periods.js';
import { FakeEncoder } from '../origin/fake-encoder.js';
import { periodTimelines } from '../../support/multi-period-mpd.js';

let dir: string;
let origin: Origin | undefined;
let url: string;
const enc = new FakeEncoder();
enc.timedSegments = true;

async function mpd(): Promise<string> {
  const res = await request(`${url}/live/ch/manifest.mpd`);
  expect(res.statusCode).toBe(200);
  return res.body.text();
}

/** Each Period of the MPD: id → its start (s) and the presentationTimeOffset of each of its SegmentTemplates. */
function periodsOf(xml: string): Map<string, { start: number; offsets: string[]; numbers: number[] }> {
  return new Map(
    splitPeriods(xml).map((p) => {
      const own = p.text.slice(p.text.indexOf(`<Period id="${p.key}"`));
      const body = own.slice(0, own.indexOf('</Period>'));
      const offsets = [...body.matchAll(/<SegmentTemplate\b[^>]*>/g)].map(
        (m) => /presentationTimeOffset="(\d+)"/.exec(m[0])?.[1] ?? '-',
      );
      const numbers = [...body.matchAll(/startNumber="(\d+)"/g)].map((m) => Number(m[1]));
      return [p.key, { start: p.startSec, offsets, numbers }];
    }),
  );
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'se-live-period-id-'));
  origin = await createOrigin({
    processMetrics: false,
    root: dir,
    live: [{ id: 'ch', source: 'fake', segmentDuration: 1, partDuration: 0.5, dvrWindow: 4, dashPeriods: 'cues' }],
    channelOptions: { stallTimeoutMs: 60_000 },
    startRun: enc.start,
  });
  url = await origin.listen(0, '127.0.0.1');
  await enc.runStarted(1);
  enc.init();
  enc.segments(0, 1);
});

afterAll(async () => {
  await origin?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('a live MPD split at an ad break whose Periods leave the DVR window', () => {
  it('keeps every Period’s id, start and presentationTimeOffset while it is listed', async () => {
    const channel = origin!.channels.get('ch')!;
    // the break: segments 3 and 4 (media 3 s to 5 s); the programme returns with segment 5
    channel.cueAdBreak(2, { segment: 3 });
    const seen = new Map<string, { start: number; offsets: string[] }>();
    const history: string[][] = [];
    const gone = new Set<string>();
    for (let n = 2; n <= 14; n++) {
      enc.segments(n, n);
      const periods = periodsOf(await mpd());
      // a Period that left the MPD never comes back (under its id, with other media)
      for (const id of history.at(-1) ?? []) if (!periods.has(id)) gone.add(id);
      expect([...periods.keys()].filter((id) => gone.has(id))).toEqual([]);
      history.push([...periods.keys()]);
      for (const [id, p] of periods) {
        const before = seen.get(id);
        if (before) expect({ id, start: p.start, offsets: p.offsets }).toEqual({ id, ...before });
        else seen.set(id, { start: p.start, offsets: p.offsets });
      }
    }
    // the break's Periods came and went; the programme's after the return stayed, named by its start
    expect(history.flat()).toContain('p3000');
    expect(history.at(-1)).toEqual(['p5000']);
    // (its video and its audio SegmentTemplate)
    expect(seen.get('p5000')).toEqual({ start: 5, offsets: ['5000', '5000'] });
    // and, once alone, it still lists the newest segments of the window
    const last = periodsOf(await mpd()).get('p5000')!;
    expect(last.numbers[0]).toBeGreaterThan(5);
  });

  it('a break’s first segment still in production (its end known) opens its Period as the MPD lists it', async () => {
    const channel = origin!.channels.get('ch')!;
    channel.cueAdBreak(2, { segment: 17 });
    enc.segments(15, 16);
    enc.plannedSegmentMs = 1000;
    enc.part(17, 0);
    const periods = periodTimelines(await mpd());
    // segment 17 (17 s to 18 s) is listed in the break's Period, at its planned length, and only there
    expect(periods.at(-1)!.id).toBe('p17000');
    expect(periods.at(-1)!.timelines[0]).toEqual([[17000, 18000]]);
    for (const p of periods.slice(0, -1)) expect(p.timelines.flat().some(([t]) => t >= 17000)).toBe(false);
  });
});
