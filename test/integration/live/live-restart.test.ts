/**
 * Continuity across an origin restart (lmdb-persisted sequence) and across a source that dies
 * and comes back (stalled → restarted with a discontinuity); a source that never starts fails
 * alone while the rest keeps serving. DASH: each restart starts a Period (the new run's media
 * start later than the old ones end, which one SegmentTimeline cannot show without a gap), its id
 * and start from the run's first segment and the same in later updates; the fragments' mfhd
 * sequence numbers count on across it (ISO/IEC 14496-12 §8.8.5).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readBoxes } from '../../../src/cmaf/box.js';
import { parseFragment } from '../../../src/cmaf/fragment.js';
import { periodTimelines, type PeriodTimelines } from '../../support/multi-period-mpd.js';
import {
  TEST_SOURCE,
  completeSegments,
  parseM3u8,
  pidAlive,
  startLiveOrigin,
  until,
  writeTinyLadder,
  type LiveOrigin,
  type M3u8Manifest,
} from './live-helpers.js';

let dir: string;
let root: string;
let ladder: string;
let o: LiveOrigin | undefined;
const pids: number[] = [];

const channels = () => [
  { id: 'ch', source: TEST_SOURCE, segmentDuration: 1, partDuration: 0.5, dvrWindow: 30, ladder },
  { id: 'bad', source: join(dir, 'missing-source.mp4'), segmentDuration: 1, partDuration: 0.5, ladder },
];

/** One channel in the origin's /health body. */
interface ChannelHealth {
  id: string;
  state: string;
  pid: number;
  restarts: number;
  lastError?: string;
}

async function health(x: LiveOrigin): Promise<Record<string, ChannelHealth>> {
  const h = JSON.parse((await x.get('/health')).text) as { channels: ChannelHealth[] };
  return Object.fromEntries(h.channels.map((c) => [c.id, c]));
}

async function mpdPeriods(x: LiveOrigin): Promise<PeriodTimelines[]> {
  return periodTimelines((await x.get('/live/ch/manifest.mpd')).text);
}

/** No SegmentTimeline of any Period leaves a gap between two of its segments (DASH-IF timing model §9.2). */
function expectNoGapInsideAPeriod(periods: PeriodTimelines[]): void {
  for (const p of periods) {
    for (const list of p.timelines) {
      expect(list.length, `Period ${p.id}`).toBeGreaterThan(0);
      list.forEach(([start], i) => i > 0 && expect(start, `Period ${p.id}`).toBe(list[i - 1][1]));
    }
  }
}

/** The mfhd sequence numbers of a segment's fragments, in order. */
async function fragmentSequences(x: LiveOrigin, path: string): Promise<number[]> {
  const r = await x.get(path);
  expect(r.status, path).toBe(200);
  return readBoxes(r.body)
    .filter((b) => b.type === 'moof')
    .map((b) => parseFragment(r.body.subarray(b.start, b.start + b.size)).sequenceNumber);
}

/**
 * The restart before `firstNew` (its first segment number): a Period starts there, named by its
 * start, the Period before ending with its media no later; and the fragments count on across it.
 */
async function expectRestartPeriod(x: LiveOrigin, firstNew: number): Promise<PeriodTimelines> {
  const periods = await mpdPeriods(x);
  expectNoGapInsideAPeriod(periods);
  const at = periods.findIndex((p) => p.startNumber === firstNew);
  expect(at, JSON.stringify(periods.map((p) => [p.id, p.start, p.startNumber]))).toBeGreaterThan(0);
  const p = periods[at];
  expect(p.id).toBe(`p${Math.round(p.start * 1000)}`);
  const before = periods[at - 1];
  expect(before.duration).toBeDefined();
  expect(before.start + before.duration!).toBeLessThanOrEqual(p.start + 0.001);
  // the Period's first video segment starts at its start
  expect(Math.abs(p.timelines[0][0][0] / p.timescale - p.start)).toBeLessThan(0.002);
  const last = await fragmentSequences(x, `/live/ch/180p/seg-${firstNew - 1}.m4s`);
  const first = await fragmentSequences(x, `/live/ch/180p/seg-${firstNew}.m4s`);
  expect(first[0], `mfhd ${last.join(',')} then ${first.join(',')}`).toBeGreaterThan(last.at(-1)!);
  for (const seq of [last, first]) seq.forEach((n, i) => i > 0 && expect(n).toBe(seq[i - 1] + 1));
  return p;
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'se-live-restart-'));
  root = join(dir, 'root');
  mkdirSync(root);
  ladder = writeTinyLadder(dir);
});

afterAll(async () => {
  await o?.close();
  for (const pid of pids) if (pidAlive(pid)) process.kill(pid, 'SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

describe('live continuity', () => {
  let before: M3u8Manifest;

  it('first origin: produces segments; a source that never starts fails alone', async () => {
    o = await startLiveOrigin(root, channels(), { backoffInitialMs: 300 });
    await until(async () => (await completeSegments(o!, 'ch', '180p')) >= 3, 30_000, 'three segments');
    const h = await until(
      async () => {
        const x = await health(o!);
        return x.bad.state === 'failed' ? x : undefined;
      },
      15_000,
      'the bad channel to fail',
    );
    expect(h.bad.lastError).toContain('missing-source.mp4');
    expect(h.ch.state).toBe('running');
    pids.push(h.ch.pid);
    before = parseM3u8((await o.get('/live/ch/180p/index.m3u8')).text);
    const bad = await o.get('/live/bad/180p/index.m3u8');
    expect(bad.status).toBe(503);
    expect(bad.text).toContain('missing-source.mp4');
  });

  it('an origin restart continues the media sequence after a discontinuity', async () => {
    await o!.close();
    expect(pidAlive(pids[0])).toBe(false);
    o = await startLiveOrigin(root, channels(), { backoffInitialMs: 300 });
    const lastBefore = before.segments.length - 1; // numbers start at 0
    const after = await until(
      async () => {
        const r = await o!.get('/live/ch/180p/index.m3u8');
        if (r.status !== 200) return undefined;
        const m = parseM3u8(r.text);
        return m.segments.some((s) => s.discontinuity) && m.segments.length >= before.segments.length + 2
          ? m
          : undefined;
      },
      30_000,
      'new segments after the restart',
    );
    expect(after.mediaSequence).toBe(before.mediaSequence);
    const uris: string[] = after.segments.map((s) => s.uri);
    // the old window is still listed, then the new run continues the numbering
    expect(uris.slice(0, before.segments.length)).toEqual(before.segments.map((s) => s.uri));
    const numbers = uris.map((u) => Number(/seg-(\d+)/.exec(u)![1]));
    numbers.forEach((n, i) => expect(n).toBe(after.mediaSequence + i));
    const firstNew = after.segments.findIndex((s) => s.discontinuity);
    expect(firstNew).toBeGreaterThan(lastBefore);
    // PDT keeps going forward across the discontinuity
    expect(after.segments[firstNew].programDateTime).toBeGreaterThan(after.segments[firstNew - 1].programDateTime!);
    // DASH: a Period from the new run's first segment, no gap inside any Period, the fragments
    // numbered on; numbers run on across the Periods
    const firstNewNumber = after.mediaSequence + firstNew;
    const restart = await expectRestartPeriod(o, firstNewNumber);
    const periods = await mpdPeriods(o);
    periods.forEach(
      (p, i) => i > 0 && expect(p.startNumber).toBe(periods[i - 1].startNumber + periods[i - 1].timelines[0].length),
    );
    // a later update lists the Period with the same id and start
    const newest = periods.at(-1)!;
    await until(
      async () => (await mpdPeriods(o!)).at(-1)!.timelines[0].length > newest.timelines[0].length,
      30_000,
      'one more segment',
    );
    const later = (await mpdPeriods(o)).find((p) => p.id === restart.id);
    expect(later?.start).toBe(restart.start);
    expect(later?.startNumber).toBe(restart.startNumber);
  });

  it('a source that dies is reported stalled, the window stays served, and its return continues after a discontinuity', async () => {
    const h = await health(o!);
    const pid = h.ch.pid;
    pids.push(pid);
    const m0 = parseM3u8((await o!.get('/live/ch/180p/index.m3u8')).text);
    const discontinuities0 = m0.segments.filter((s) => s.discontinuity).length;
    process.kill(pid, 'SIGKILL');
    await until(async () => (await health(o!)).ch.state === 'stalled', 10_000, 'stalled');
    const during = await o!.get('/live/ch/180p/index.m3u8');
    expect(during.status).toBe(200);
    expect((await o!.get('/metrics')).text).toContain('streamedge_live_channel_state{channel="ch",state="stalled"} 1');
    const back = await until(
      async () => {
        const x = await health(o!);
        return x.ch.state === 'running' ? x : undefined;
      },
      20_000,
      'running again',
    );
    expect(back.ch.restarts).toBeGreaterThanOrEqual(1);
    expect(back.ch.lastError).toBeTruthy();
    pids.push(back.ch.pid);
    const m1 = await until(
      async () => {
        const m = parseM3u8((await o!.get('/live/ch/180p/index.m3u8')).text);
        return m.segments.filter((s) => s.discontinuity).length > discontinuities0 ? m : undefined;
      },
      20_000,
      'a segment after the source came back',
    );
    const numbers = m1.segments.map((s) => Number(/seg-(\d+)/.exec(s.uri)![1]));
    numbers.forEach((n, i) => expect(n).toBe(m1.mediaSequence + i));
    // DASH: the kill starts a Period too, once the new run's first segment is complete
    const firstNew = m1.mediaSequence + m1.segments.findLastIndex((s) => s.discontinuity);
    await until(
      async () => (await mpdPeriods(o!)).some((p) => p.startNumber === firstNew),
      30_000,
      'a Period at the new run',
    );
    await expectRestartPeriod(o!, firstNew);
  });

  it('disk holds only the window (plus retention) and close leaves no ffmpeg behind', async () => {
    const files = readdirSync(join(root, '.live', 'ch', '180p')).filter((f) => f.endsWith('.m4s'));
    const m = parseM3u8((await o!.get('/live/ch/180p/index.m3u8')).text);
    expect(files.length).toBeLessThanOrEqual(m.segments.length + 2);
    await o!.close();
    o = undefined;
    for (const pid of pids) expect(pidAlive(pid), `ffmpeg ${pid}`).toBe(false);
  });
});
