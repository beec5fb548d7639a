/**
 * Our player's DASH source on an on-demand MPD of several Periods, each Representation one file
 * indexed by its sidx (SegmentBase): the ad break's file starts at media time 0, and the programme's
 * second file keeps the programme's timestamps (it starts at 6 s, and says so with
 * SegmentBase@presentationTimeOffset). Each chunk is placed at its Period's time: presentation
 * time = Period start + media time − presentationTimeOffset (ISO/IEC 23009-1 §5.3.9.2). Served
 * on loopback, the index ranges fetched with Range requests as in a browser.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sidx } from '../../../src/cmaf/writers.js';
import { DashSource } from '../../../player-demo/player/dash-source.js';
import type { ChunkRef, Cursor } from '../../../player-demo/player/source-model.js';
import { loopbackServer, type LoopbackServer } from '../../support/loopback-server.js';

const INIT = 100;
const SEGMENT_BYTES = 1000;

/** A one-file Representation: `INIT` bytes of init segment, its sidx, then its segments (2 s each). */
function oneFile(earliestSec: number, segments: number): { bytes: Buffer; indexLength: number } {
  const index = sidx({
    referenceId: 1,
    timescale: 90_000,
    earliestPresentationTime: earliestSec * 90_000,
    firstOffset: 0,
    references: Array.from({ length: segments }, () => ({
      size: SEGMENT_BYTES,
      duration: 180_000,
      startsWithSap: true,
    })),
  });
  return {
    bytes: Buffer.concat([Buffer.alloc(INIT), index, Buffer.alloc(SEGMENT_BYTES * segments)]),
    indexLength: index.length,
  };
}

const files = {
  'main-a.mp4': oneFile(0, 3),
  'ad.mp4': oneFile(0, 2),
  // the programme again, cut from it with its own timestamps: its first frame is at 6 s
  'main-b.mp4': oneFile(6, 2),
};

function representation(file: keyof typeof files, id: string, offset = ''): string {
  const f = files[file];
  return `<Representation id="${id}" bandwidth="900000" codecs="avc1.64001e" width="640" height="360">
        <BaseURL>${file}</BaseURL>
        <SegmentBase timescale="90000"${offset} indexRange="${INIT}-${INIT + f.indexLength - 1}">
          <Initialization range="0-${INIT - 1}"/>
        </SegmentBase>
      </Representation>`;
}

const MPD = `<?xml version="1.0" encoding="UTF-8"?>
<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static" mediaPresentationDuration="PT14S" minBufferTime="PT2S"
  profiles="urn:mpeg:dash:profile:isoff-on-demand:2011">
  <Period id="main-1" start="PT0S" duration="PT6S">
    <AdaptationSet contentType="video" mimeType="video/mp4">
      ${representation('main-a.mp4', 'v')}
    </AdaptationSet>
  </Period>
  <Period id="ad" duration="PT4S">
    <AdaptationSet contentType="video" mimeType="video/mp4">
      ${representation('ad.mp4', 'ad-v')}
    </AdaptationSet>
  </Period>
  <Period id="main-2" start="PT10S">
    <AdaptationSet contentType="video" mimeType="video/mp4">
      ${representation('main-b.mp4', 'v', ' presentationTimeOffset="540000"')}
    </AdaptationSet>
  </Period>
</MPD>
`;

let server: LoopbackServer;
let base = '';
const signal = new AbortController().signal;

beforeAll(async () => {
  server = await loopbackServer((req, res) => {
    const name = req.url?.replace(/^\/a\//, '') ?? '';
    if (name === 'manifest.mpd') return void res.writeHead(200, { 'content-type': 'application/dash+xml' }).end(MPD);
    const file = files[name as keyof typeof files];
    const range = /^bytes=(\d+)-(\d+)$/.exec(String(req.headers.range ?? ''));
    if (!file || !range) return void res.writeHead(file ? 416 : 404).end();
    const [from, to] = [Number(range[1]), Number(range[2])];
    res
      .writeHead(206, { 'content-range': `bytes ${from}-${to}/${file.bytes.length}` })
      .end(file.bytes.subarray(from, to + 1));
  });
  base = `${server.base}/a/`;
});

afterAll(() => server.close());

async function walk(source: DashSource, id: string): Promise<ChunkRef[]> {
  const out: ChunkRef[] = [];
  let cursor: Cursor = await source.startCursor(id, signal);
  for (let i = 0; i < 20; i++) {
    const c = await source.chunkAt(id, cursor, signal);
    if (!c) break;
    out.push(c);
    cursor = c.next;
  }
  return out;
}

describe("our player's DASH source on SegmentBase Periods", () => {
  it('places each indexed segment at its Period start plus its media time less the presentationTimeOffset', async () => {
    const source = new DashSource(`${base}manifest.mpd`, {});
    await source.open(signal);
    expect(source.vodDurationSec('v')).toBe(14);
    const chunks = await walk(source, 'v');
    const rel = (u: string | undefined) => u?.replace(base, '');
    const at = (file: keyof typeof files, n: number) => ({
      offset: INIT + files[file].indexLength + n * SEGMENT_BYTES,
      length: SEGMENT_BYTES,
    });
    expect(
      chunks.map((c) => [rel(c.url), c.byteRange, c.init?.byteRange, c.timestampOffset ?? 0, c.appendWindow]),
    ).toEqual([
      ...[0, 1, 2].map((n) => [
        'main-a.mp4',
        at('main-a.mp4', n),
        { offset: 0, length: INIT },
        0,
        { start: 0, end: 6 },
      ]),
      // the ad's media starts at 0: moved to 6 s
      ...[0, 1].map((n) => ['ad.mp4', at('ad.mp4', n), { offset: 0, length: INIT }, 6, { start: 6, end: 10 }]),
      // the programme's media resumes at 6 s (its presentationTimeOffset) at 10 s: moved by 4 s,
      // not by 10 (which would put it at 16 s, past the end, as when the offset was not read)
      ...[0, 1].map((n) => ['main-b.mp4', at('main-b.mp4', n), { offset: 0, length: INIT }, 4, { start: 10, end: 14 }]),
    ]);
    // and seeking finds it by presentation time
    const seg = async (t: number) => (await source.chunkAt('v', source.cursorForTime('v', t), signal))!;
    expect(rel((await seg(12.5)).url)).toBe('main-b.mp4');
    expect((await seg(12.5)).byteRange).toEqual(at('main-b.mp4', 1));
    expect((await seg(7)).byteRange).toEqual(at('ad.mp4', 0));
  });
});
