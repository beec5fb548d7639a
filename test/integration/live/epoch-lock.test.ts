/**
 * Redundant live origins (`--epoch`): two origins fed the same source with the same epoch, the
 * second started later, number segments and parts alike and give them the same
 * PROGRAM-DATE-TIME and DASH availabilityStartTime/$Number$; a restarted origin continues
 * forward on the same grid (real ffmpeg lavfi channels, real origins on loopback).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseMpd } from 'mpd-parser';
import {
  TEST_SOURCE,
  completeSegments,
  parseM3u8,
  startLiveOrigin,
  until,
  writeTinyLadder,
  type LiveOrigin,
  type M3u8Manifest,
  type MpdManifest,
} from './live-helpers.js';

const SEGMENT = 1;
const PART = 0.5;
// an hour ago, on a whole second: any instant in the past works
const EPOCH = Math.floor(Date.now() / 1000) * 1000 - 3_600_000;

let dir: string;
let ladder: string;
let a: LiveOrigin | undefined;
let b: LiveOrigin | undefined;

const CUE = 'cue-credential-epoch-lock-tests';

const channel = () => [
  { id: 'ch', source: TEST_SOURCE, segmentDuration: SEGMENT, partDuration: PART, dvrWindow: 20, ladder, epoch: EPOCH },
];

function numberOf(uri: string): number {
  return Number(/seg-(\d+)/.exec(uri)![1]);
}

async function playlist(o: LiveOrigin): Promise<M3u8Manifest> {
  const r = await o.get('/live/ch/180p/index.m3u8');
  expect(r.status).toBe(200);
  return parseM3u8(r.text);
}

/** Newest (msn, part count) a playlist lists: the preload segment's parts, else the last segment. */
function newest(m: M3u8Manifest): { msn: number; parts: number } {
  const last = m.mediaSequence + m.segments.length - 1;
  const pre = m.preloadSegment?.parts?.length ?? 0;
  return pre > 0 ? { msn: last + 1, parts: pre } : { msn: last, parts: 0 };
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'se-epoch-'));
  ladder = writeTinyLadder(dir);
  for (const r of ['a', 'b']) mkdirSync(join(dir, r));
});

afterAll(async () => {
  await a?.close();
  await b?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('two origins with the same epoch', () => {
  it('number segments and parts by wall-clock time since the epoch, whenever each started', async () => {
    a = await startLiveOrigin(join(dir, 'a'), channel(), {}, { cueCredential: CUE });
    await until(async () => (await completeSegments(a!, 'ch', '180p')) >= 2, 30_000, 'origin A segments');
    b = await startLiveOrigin(join(dir, 'b'), channel(), {}, { cueCredential: CUE });
    await until(async () => (await completeSegments(b!, 'ch', '180p')) >= 3, 30_000, 'origin B segments');
    const [ma, mb] = await Promise.all([playlist(a), playlist(b)]);
    // the segment numbers are (now − epoch) / segment: both are near it
    const expected = Math.floor((Date.now() - EPOCH) / 1000 / SEGMENT);
    for (const m of [ma, mb]) {
      const msn = newest(m).msn;
      expect(Math.abs(msn - expected)).toBeLessThanOrEqual(3);
    }
    const na = newest(ma);
    const nb = newest(mb);
    const partsPerSegment = SEGMENT / PART;
    // read a moment apart, the two live edges are close (a loaded box may delay one encoder a little)
    const pos = (n: { msn: number; parts: number }) => n.msn * partsPerSegment + n.parts;
    expect(Math.abs(pos(na) - pos(nb))).toBeLessThanOrEqual(partsPerSegment);
    // every segment both list has the same number ↔ PDT and the same parts
    const byNumber = (m: M3u8Manifest) => new Map(m.segments.map((s, i) => [m.mediaSequence + i, s] as const));
    const sa = byNumber(ma);
    const sb = byNumber(mb);
    const common = [...sa.keys()].filter((n) => sb.has(n));
    expect(common.length).toBeGreaterThanOrEqual(2);
    for (const n of common) {
      expect(numberOf(sa.get(n)!.uri)).toBe(n);
      expect(numberOf(sb.get(n)!.uri)).toBe(n);
      expect(sa.get(n)!.programDateTime).toBe(EPOCH + n * SEGMENT * 1000);
      expect(sb.get(n)!.programDateTime).toBe(EPOCH + n * SEGMENT * 1000);
      expect(sa.get(n)!.duration).toBeCloseTo(sb.get(n)!.duration, 3);
    }
    // the same position asked of both (a blocking reload for the part after the newer edge): each
    // answers once it has that part, and both list the same part names and PDT for that segment
    const ahead = pos(na) >= pos(nb) ? na : nb;
    const want =
      ahead.parts > 0 && ahead.parts < partsPerSegment
        ? { msn: ahead.msn, part: ahead.parts }
        : { msn: ahead.msn + 1, part: 0 };
    const [ra, rb] = await Promise.all(
      [a, b].map(async (o) => {
        const r = await o.get(`/live/ch/180p/index.m3u8?_HLS_msn=${want.msn}&_HLS_part=${want.part}`);
        expect(r.status).toBe(200);
        return parseM3u8(r.text);
      }),
    );
    const partsOf = (m: M3u8Manifest, msn: number): string[] => {
      const i = msn - m.mediaSequence;
      const seg = i < m.segments.length ? m.segments[i] : m.preloadSegment;
      return (seg?.parts ?? []).map((p) => p.uri).slice(0, want.part + 1);
    };
    const wantedA = partsOf(ra, want.msn);
    expect(wantedA).toHaveLength(want.part + 1);
    expect(wantedA.at(-1)).toBe(`seg-${want.msn}.${want.part}.m4s`);
    expect(partsOf(rb, want.msn)).toEqual(wantedA);
    // DASH: one availabilityStartTime (the epoch) and the same $Number$ at the same time
    const mpds = await Promise.all(
      [a, b].map(async (o) => {
        const text = (await o.get('/live/ch/manifest.mpd')).text;
        const ast = /availabilityStartTime="([^"]+)"/.exec(text)![1];
        const mpd = parseMpd(text, { manifestUri: `${o.base}/live/ch/manifest.mpd`, NOW: Date.now() }) as MpdManifest;
        return { ast, segs: mpd.playlists[0].segments };
      }),
    );
    expect(Date.parse(mpds[0].ast)).toBe(EPOCH);
    expect(mpds[1].ast).toBe(mpds[0].ast);
    // ($Number$ is in the URI: mpd-parser's own `number` counts from 0 in the list)
    const dashB = new Map(mpds[1].segs.map((s) => [numberOf(s.uri), s.presentationTime] as const));
    let matched = 0;
    for (const s of mpds[0].segs) {
      const n = numberOf(s.uri);
      expect(s.presentationTime).toBeCloseTo(n * SEGMENT, 3);
      const t = dashB.get(n);
      if (t === undefined) continue;
      matched++;
      expect(t).toBeCloseTo(s.presentationTime, 3);
    }
    expect(matched).toBeGreaterThanOrEqual(2);
    // each origin's /health names the epoch its channel is locked to
    for (const o of [a, b]) {
      const h = JSON.parse((await o.get('/health')).text) as { channels: { id: string; epoch?: string }[] };
      expect(h.channels.find((c) => c.id === 'ch')?.epoch).toBe(new Date(EPOCH).toISOString());
    }
  });

  it('the same ad-break cue (segment and splice_event_id) sent to both: the same tags on both, start and return', async () => {
    const edge = Math.max(newest(await playlist(a!)).msn, newest(await playlist(b!)).msn);
    const ask = { duration: 2, segment: edge + 3, eventId: 77 };
    for (const o of [a!, b!]) {
      const res = await fetch(`${o.base}/_live/ch/ad-breaks`, {
        method: 'POST',
        headers: { authorization: `Bearer ${CUE}`, 'content-type': 'application/json' },
        body: JSON.stringify(ask),
      });
      expect(res.status).toBe(201);
    }
    // once both list the segment the break returns at, every DATERANGE and the MPD's EventStream agree
    const tags = await Promise.all(
      [a!, b!].map((o) =>
        until(
          async () => {
            const r = await o.get('/live/ch/180p/index.m3u8');
            return (
              r.text.includes(`\nseg-${ask.segment + 2}.m4s`) &&
              r.text.split('\n').filter((l) => l.startsWith('#EXT-X-DATERANGE'))
            );
          },
          30_000,
          'the return listed',
        ),
      ),
    );
    expect(tags[0]).toHaveLength(2);
    expect(tags[0][0]).toContain(`START-DATE="${new Date(EPOCH + ask.segment * SEGMENT * 1000).toISOString()}"`);
    expect(tags[1]).toEqual(tags[0]);
    const streams = await Promise.all(
      [a!, b!].map(
        async (o) => /<EventStream[\s\S]*?<\/EventStream>/.exec((await o.get('/live/ch/manifest.mpd')).text)?.[0],
      ),
    );
    expect(streams[0]).toContain('id="154"'); // 2 × 77: the break's start
    expect(streams[1]).toBe(streams[0]);
  }, 60_000);

  it('a restarted origin continues forward on the same grid (never backwards)', async () => {
    const before = newest(await playlist(b!));
    await b!.close();
    b = undefined;
    b = await startLiveOrigin(join(dir, 'b'), channel());
    const after = await until(
      async () => {
        const r = await b!.get('/live/ch/180p/index.m3u8');
        if (r.status !== 200) return undefined;
        const m = parseM3u8(r.text);
        return newest(m).msn > before.msn ? m : undefined;
      },
      30_000,
      'origin B producing again',
    );
    expect(after.mediaSequence).toBeGreaterThanOrEqual(0);
    // every segment listed is where the epoch puts it, and the same as origin A's
    const ma = await playlist(a!);
    const pdtA = new Map(ma.segments.map((s, i) => [ma.mediaSequence + i, s.programDateTime] as const));
    after.segments.forEach((s, i) => {
      const n = after.mediaSequence + i;
      expect(numberOf(s.uri)).toBe(n);
      expect(s.programDateTime).toBe(EPOCH + n * SEGMENT * 1000);
      const onA = pdtA.get(n);
      if (onA !== undefined) expect(s.programDateTime).toBe(onA);
    });
  });
});
