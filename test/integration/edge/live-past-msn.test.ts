/**
 * A live playlist: a blocking request whose `_HLS_msn`/`_HLS_part` the newest stored copy already
 * satisfies is answered from that copy; past values never make new keys or origin requests.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { get, startEdge, startUpstream, type TestEdge, type Upstream } from './helpers.js';

let up: Upstream;
let e: TestEdge;
/** The origin's live position: segments 100..last complete, parts of last+1. */
let last = 104;
let parts = 2;

function playlist(): string {
  const lines = ['#EXTM3U', '#EXT-X-VERSION:9', '#EXT-X-TARGETDURATION:2', '#EXT-X-MEDIA-SEQUENCE:100'];
  for (let m = 100; m <= last; m++) lines.push('#EXTINF:2.0,', `seg-${m}.m4s`);
  for (let p = 0; p < parts; p++) lines.push(`#EXT-X-PART:DURATION=0.5,URI="seg-${last + 1}.${p}.m4s"`);
  return `${lines.join('\n')}\n#position ${last}.${parts}\n`;
}

beforeAll(async () => {
  up = await startUpstream((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/vnd.apple.mpegurl', 'cache-control': 'max-age=60' });
    res.end(playlist());
  });
  e = await startEdge({ upstream: up.url });
});

afterAll(async () => {
  await e?.close();
  await up?.close();
});

describe('past _HLS_msn on a live playlist', () => {
  it('is answered from the newest copy: no new key, no origin request', async () => {
    const url = `${e.url}/live/x/index.m3u8`;
    const newest = await get(`${url}?_HLS_msn=105&_HLS_part=1`);
    expect(newest.body.toString()).toContain('#position 104.2');
    await e.edge.whenIdle();
    const keysBefore = e.edge.store!.keys('/live/x/').length;
    last = 110; // the origin moved on: a request that reached it would show it
    parts = 0;
    for (const q of ['_HLS_msn=100', '_HLS_msn=104', '_HLS_msn=104&_HLS_part=3', '_HLS_msn=105&_HLS_part=0']) {
      const r = await get(`${url}?${q}`);
      expect(r.status, q).toBe(200);
      expect(r.body.toString(), q).toContain('#position 104.2');
    }
    expect(up.total()).toBe(1);
    expect(e.edge.store!.keys('/live/x/').length).toBe(keysBefore);
    // a value the newest copy does not hold yet goes upstream as usual
    const future = await get(`${url}?_HLS_msn=106`);
    expect(future.body.toString()).toContain('#position 110.0');
    expect(up.total()).toBe(2);
  });
});
