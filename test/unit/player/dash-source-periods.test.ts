/**
 * Our player's DASH source on MPDs of several Periods (src/dash/mpd-periods.ts): the ladder is the
 * programme's; each rung plays, in each Period, the Representation that fits it; every chunk
 * carries its Period's init segment, the timestampOffset that puts its media at its place in the
 * presentation (the Period's start less its presentationTimeOffset) and its Period's bounds as an
 * append window; VOD seeking and the presentation's length count the Periods; on live, Periods
 * that reloads add are played into. Run in Node against a loopback server; the same presentation
 * played in Chromium: test/browser/player-ad-insertion.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DashSource } from '../../../player-demo/player/dash-source.js';
import type { ChunkRef, Cursor } from '../../../player-demo/player/source-model.js';
import { loopbackServer, type LoopbackServer } from '../../support/loopback-server.js';
import { liveMultiPeriodMpd, livePeriod, MULTI_PERIOD_MPD } from '../../support/multi-period-mpd.js';

let versions: string[] = [];
let asked = 0;
let server: LoopbackServer;
let base = '';
const signal = new AbortController().signal;

beforeAll(async () => {
  server = await loopbackServer((req, res) => {
    if (!req.url?.startsWith('/a/manifest.mpd')) return void res.writeHead(404).end();
    res
      .writeHead(200, { 'content-type': 'application/dash+xml' })
      .end(versions[Math.min(asked++, versions.length - 1)]);
  });
  base = `${server.base}/a/`;
});

afterAll(() => server.close());

async function open(...texts: string[]): Promise<DashSource> {
  versions = texts;
  asked = 0;
  const source = new DashSource(`${base}manifest.mpd`, {});
  await source.open(signal);
  return source;
}

async function walk(source: DashSource, id: string, count = 50): Promise<ChunkRef[]> {
  const out: ChunkRef[] = [];
  let cursor: Cursor = await source.startCursor(id, signal);
  for (let i = 0; i < count; i++) {
    const c = await source.chunkAt(id, cursor, signal);
    if (!c) break;
    out.push(c);
    cursor = c.next;
  }
  return out;
}

const rel = (u: string | undefined) => u?.replace(base, '');

describe("our player's DASH source on an MPD of several Periods (VOD)", () => {
  it("offers the programme's ladder and audio, not the ad break's Representations", async () => {
    const source = await open(MULTI_PERIOD_MPD);
    expect(source.video.map((v) => v.id)).toEqual(['360p', '720p']);
    expect(source.audioTracks.map((t) => t.id)).toEqual(['audio']);
    expect(source.vodDurationSec('720p')).toBe(14);
  });

  it("plays each Period's segments after its init segment, placed by a timestampOffset, within its bounds", async () => {
    const source = await open(MULTI_PERIOD_MPD);
    const chunks = await walk(source, '720p');
    expect(chunks.map((c) => [rel(c.url), rel(c.init?.url), c.timestampOffset ?? 0, c.appendWindow])).toEqual([
      ...[0, 1, 2].map((n) => [`main/720p/seg-${n}.m4s`, 'main/720p/init.mp4', 0, { start: 0, end: 6 }]),
      // the ad break's media starts at 0: moved to 6 s
      ...[1, 2].map((n) => [`ad/ad-video/seg-${n}.m4s`, 'ad/ad-video/init.mp4', 6, { start: 6, end: 10 }]),
      // the programme resumes at media time 6 s (its presentationTimeOffset) at 10 s
      ...[3, 4].map((n) => [`main/720p/seg-${n}.m4s`, 'main/720p/init.mp4', 4, { start: 10, end: 14 }]),
    ]);
    const audio = await walk(source, 'audio');
    expect(audio.map((c) => [rel(c.url), c.timestampOffset ?? 0])).toEqual([
      ['main/audio/seg-0.m4s', 0],
      ['main/audio/seg-1.m4s', 0],
      ['main/audio/seg-2.m4s', 0],
      ['ad/audio/seg-1.m4s', 6],
      ['ad/audio/seg-2.m4s', 6],
      ['main/audio/seg-3.m4s', 4],
      ['main/audio/seg-4.m4s', 4],
    ]);
  });

  it('seeks by presentation time across Periods, and matches the audio segment of a video one by time', async () => {
    const source = await open(MULTI_PERIOD_MPD);
    const at = async (t: number) => rel((await source.chunkAt('360p', source.cursorForTime('360p', t), signal))?.url);
    expect(await at(1)).toBe('main/360p/seg-0.m4s');
    expect(await at(7)).toBe('ad/ad-video/seg-1.m4s');
    expect(await at(12.5)).toBe('main/360p/seg-4.m4s');
    const adVideo = source.cursorForTime('360p', 9);
    const audio = await source.alignedCursor('audio', '360p', adVideo);
    expect(rel((await source.chunkAt('audio', audio, signal))?.url)).toBe('ad/audio/seg-2.m4s');
  });
});

describe("our player's DASH source on a live MPD whose Periods change", () => {
  it('plays past the end of a Period into the ad break and back, as reloads list them, each with its PDT', async () => {
    const source = await open(
      liveMultiPeriodMpd(livePeriod('p0', 0, 'main', 'v', 0, 0, 3), 1),
      liveMultiPeriodMpd(livePeriod('p0', 0, 'main', 'v', 0, 0, 3) + livePeriod('ad', 6, 'ad', 'adv', 1, 0, 2), 1),
      liveMultiPeriodMpd(
        livePeriod('p0', 0, 'main', 'v', 0, 0, 3) +
          livePeriod('ad', 6, 'ad', 'adv', 1, 0, 2) +
          livePeriod('p1', 10, 'main', 'v', 3, 6000, 2),
        1,
      ),
    );
    expect(source.live).toBe(true);
    // no ServiceDescription: the MPD's suggestedPresentationDelay (4 s) is the latency to hold
    expect(source.targetLatency).toBe(4);
    let cursor: Cursor = { msn: 0, part: 0 };
    const played: [string | undefined, string | undefined, number, number | undefined][] = [];
    for (let i = 0; i < 7; i++) {
      const c = (await source.chunkAt('v', cursor, signal))!;
      played.push([rel(c.url), rel(c.init?.url), c.timestampOffset ?? 0, c.programDateTime]);
      cursor = c.next;
    }
    expect(played).toEqual([
      ['main/v/0.m4s', 'main/v/init.mp4', 0, 0],
      ['main/v/1.m4s', 'main/v/init.mp4', 0, 2000],
      ['main/v/2.m4s', 'main/v/init.mp4', 0, 4000],
      ['ad/adv/1.m4s', 'ad/adv/init.mp4', 6, 6000],
      ['ad/adv/2.m4s', 'ad/adv/init.mp4', 6, 8000],
      // the programme resumes at media time 6 s at 10 s
      ['main/v/3.m4s', 'main/v/init.mp4', 4, 10_000],
      ['main/v/4.m4s', 'main/v/init.mp4', 4, 12_000],
    ]);
  }, 20_000);
});

describe("our player's DASH source on a live LL-DASH MPD as a new Period begins", () => {
  /** The LL shape: availabilityTimeOffset on each template; its clock long past every segment. */
  const ll = (periods: string) =>
    liveMultiPeriodMpd(periods, 1).replace(/<SegmentTemplate /g, '<SegmentTemplate availabilityTimeOffset="1.5" ');

  it('a cursor of the Period before, once the MPD names a new Period with nothing listed yet, waits for its listing instead of naming a segment by the new template', async () => {
    const before = livePeriod('p0', 0, 'main', 'v', 0, 0, 3);
    // the new Period's template, its timeline still empty (its first segment not out)
    const opened = livePeriod('p1', 6, 'main', 'v', 3, 6000, 1).replace(/<S [^>]*\/>/, '');
    const listed = livePeriod('p1', 6, 'main', 'v', 3, 6000, 2);
    for (const msn of [3, 4]) {
      const source = await open(ll(before + opened), ll(before + listed));
      expect(source.lowLatency).toBe(true);
      // segments 0-2 are listed in p0; 3 is one past them, 4 two (what the player names from the
      // template while the MPD catches up): both in p0's numbering, but the template is p1's now
      const c = (await source.chunkAt('v', { msn, part: 0 }, signal))!;
      expect(rel(c.url), `cursor ${msn}`).toMatch(/^main\/v\/\d+\.m4s$/);
      // p1's first segment, as the next MPD lists it (it used to be asked for as $Number$ -4294967293)
      expect(rel(c.url), `cursor ${msn}`).toBe('main/v/3.m4s');
      expect(c.programDateTime).toBe(6000);
    }
  }, 20_000);
});
