/**
 * Continuity across an origin restart (lmdb-persisted sequence) and across a source that dies
 * and comes back (stalled → restarted with a discontinuity); a source that never starts fails
 * alone while the rest keeps serving.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseMpd } from 'mpd-parser';
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
  type MpdManifest,
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
    // DASH: one consistent timeline, consecutive numbers, the restart as a gap in time
    const mpdText = (await o.get('/live/ch/manifest.mpd')).text;
    const mpd = parseMpd(mpdText, { manifestUri: `${o.base}/live/ch/manifest.mpd`, NOW: Date.now() }) as MpdManifest;
    const segs = mpd.playlists[0].segments;
    segs.forEach((s, i) => i > 0 && expect(s.number).toBe(segs[i - 1].number + 1));
    segs.forEach(
      (s, i) =>
        i > 0 &&
        expect(s.presentationTime).toBeGreaterThanOrEqual(segs[i - 1].presentationTime + segs[i - 1].duration - 0.01),
    );
    for (const s of [segs[0], segs[firstNew], segs[segs.length - 1]]) {
      expect((await o.get(new URL(s.resolvedUri).pathname)).status).toBe(200);
    }
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
