/**
 * Live LL-HLS through the edge: 500 viewers poll a live playlist with blocking-reload requests
 * (_HLS_msn/_HLS_part) for several rounds. The origin must see at most one request per
 * distinct blocking URL and at most one plain playlist request per playlist version; an
 * expired playlist asked for by many viewers at once costs one upstream request.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { get, startEdge, startUpstream, type TestEdge, type Upstream } from './helpers.js';

const PARTS_PER_SEGMENT = 4;
const PART_MS = 150;
const VIEWERS = 500;
const ROUNDS = 6;

let up: Upstream;
let e: TestEdge;
let skew = 0;
/** While set, the edge's clock stands still (a burst then sees one consistent cache state). */
let frozenAt: number | undefined;
let msn = 10;
let part = 0;
const waiting: Array<{ msn: number; part: number; done: () => void }> = [];
const plainVersions = new Map<number, number>();
let timer: NodeJS.Timeout;

const version = () => msn * PARTS_PER_SEGMENT + part;
function playlist(): string {
  const lines = [
    '#EXTM3U',
    '#EXT-X-VERSION:9',
    '#EXT-X-TARGETDURATION:1',
    `#EXT-X-MEDIA-SEQUENCE:${msn - 3}`,
    `#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=0.5`,
    `#EXT-X-PART-INF:PART-TARGET=${PART_MS / 1000}`,
  ];
  for (let m = msn - 3; m < msn; m++) lines.push('#EXTINF:0.6,', `seg-${m}.m4s`);
  for (let p = 0; p <= part; p++) lines.push(`#EXT-X-PART:DURATION=${PART_MS / 1000},URI="seg-${msn}.${p}.m4s"`);
  lines.push(`#EXT-X-PRELOAD-HINT:TYPE=PART,URI="seg-${msn}.${part + 1}.m4s"`, `#version ${version()}`);
  return `${lines.join('\n')}\n`;
}

/** Last (msn, part) a playlist lists. */
function lastPart(text: string): { msn: number; part: number } {
  const parts = [...text.matchAll(/URI="seg-(\d+)\.(\d+)\.m4s"/g)].filter(
    (m) => !text.includes(`PRELOAD-HINT:TYPE=PART,URI="${m[0].slice(5, -1)}"`),
  );
  const last = parts[parts.length - 1];
  return { msn: Number(last[1]), part: Number(last[2]) };
}

beforeAll(async () => {
  up = await startUpstream((req, res) => {
    const u = new URL(req.url!, 'http://x');
    const send = (maxAge: number) => {
      res.writeHead(200, {
        'content-type': 'application/vnd.apple.mpegurl',
        'cache-control': `max-age=${maxAge}`,
        date: new Date(Date.now() + skew).toUTCString(),
      });
      res.end(playlist());
    };
    if (u.pathname !== '/live/c/v/index.m3u8') {
      res.writeHead(404);
      res.end();
      return;
    }
    const wantMsn = u.searchParams.get('_HLS_msn');
    if (wantMsn === null) {
      plainVersions.set(version(), (plainVersions.get(version()) ?? 0) + 1);
      send(1);
      return;
    }
    const want = { msn: Number(wantMsn), part: Number(u.searchParams.get('_HLS_part') ?? '0') };
    const ready = () => msn > want.msn || (msn === want.msn && part >= want.part);
    if (ready()) send(60);
    else waiting.push({ ...want, done: () => send(60) });
  });
  timer = setInterval(() => {
    part++;
    if (part === PARTS_PER_SEGMENT) {
      part = 0;
      msn++;
    }
    for (let i = waiting.length - 1; i >= 0; i--) {
      const w = waiting[i];
      if (msn > w.msn || (msn === w.msn && part >= w.part)) {
        waiting.splice(i, 1);
        w.done();
      }
    }
  }, PART_MS);
  e = await startEdge({ upstream: up.url, now: () => (frozenAt ?? Date.now()) + skew });
});

afterAll(async () => {
  clearInterval(timer);
  await e?.close();
  await up?.close();
});

describe('LL-HLS through the edge', () => {
  it(`${VIEWERS} viewers × ${ROUNDS} blocking reloads: one upstream request per distinct URL`, async () => {
    const url = `${e.url}/live/c/v/index.m3u8`;
    const viewer = async () => {
      let r = await get(url);
      expect(r.status).toBe(200);
      let pos = lastPart(r.body.toString());
      for (let round = 0; round < ROUNDS; round++) {
        let next = { msn: pos.msn, part: pos.part + 1 };
        if (next.part === PARTS_PER_SEGMENT) next = { msn: pos.msn + 1, part: 0 };
        r = await get(`${url}?_HLS_msn=${next.msn}&_HLS_part=${next.part}&utm_source=player`);
        expect(r.status).toBe(200);
        const got = lastPart(r.body.toString());
        expect(got.msn * PARTS_PER_SEGMENT + got.part).toBeGreaterThanOrEqual(next.msn * PARTS_PER_SEGMENT + next.part);
        pos = next;
      }
    };
    await Promise.all(Array.from({ length: VIEWERS }, viewer));
    const blocking = [...up.counts].filter(([u]) => u.includes('_HLS_msn'));
    // blocking requests the newest stored copy already satisfies are answered from it (RFC 8216bis
    // §6.2.5.2; edge/live-playlists.ts), so viewers behind the live point cost no upstream request
    expect(blocking.length).toBeGreaterThanOrEqual(1);
    for (const [u, n] of blocking) expect(n, u).toBe(1);
    for (const [v, n] of plainVersions) expect(n, `version ${v}`).toBe(1);
    // the token-free, tracking-free URL is what went upstream
    expect(blocking.every(([u]) => !u.includes('utm_'))).toBe(true);
  });

  it('an expired playlist requested by many viewers at once costs one upstream request', async () => {
    const url = `${e.url}/live/c/v/index.m3u8`;
    frozenAt = Date.now();
    await get(url);
    await e.edge.whenIdle();
    for (let round = 0; round < 3; round++) {
      skew += 2000; // the cached playlist (max-age=1) is now expired
      const before = up.count('/live/c/v/index.m3u8');
      const rs = await Promise.all(Array.from({ length: 200 }, () => get(url)));
      expect(rs.every((r) => r.status === 200)).toBe(true);
      expect(up.count('/live/c/v/index.m3u8') - before).toBe(1);
      await e.edge.whenIdle();
    }
  });
});
