/**
 * Byte-range HLS in our player: one file holding many segments (EXT-X-BYTERANGE, EXT-X-MAP
 * BYTERANGE, LL-HLS parts with BYTERANGE=, their offsets left out where they follow on). The HLS
 * source gives each chunk and init segment its range (player-demo/player/hls-source.ts), and
 * the fetcher asks for exactly those bytes (player-demo/player/fetcher.ts): a 206 must carry them,
 * a server that ignores Range is read whole and the range cut out, a short answer is a body that
 * broke off. Real sockets on loopback.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchBytes, NetworkError } from '../../../player-demo/player/fetcher.js';
import { HlsSource } from '../../../player-demo/player/hls-source.js';
import { loopbackServer, type LoopbackServer } from '../../support/loopback-server.js';

const FILE = Buffer.from(Array.from({ length: 1000 }, (_, i) => i % 251));
const MASTER = '#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=800000,CODECS="avc1.64001f"\nv/index.m3u8\n';
let media = '';
let server: LoopbackServer;
let base = '';
const ranges: (string | undefined)[] = [];

beforeAll(async () => {
  server = await loopbackServer((req, res) => {
    const path = req.url ?? '/';
    if (path.endsWith('master.m3u8')) return void res.end(MASTER);
    if (path.endsWith('index.m3u8')) return void res.end(media);
    ranges.push(req.headers.range);
    const m = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '');
    // /ignores-range: a server that answers 200 with the whole file; /short: a 206 one byte short
    if (!m || path.startsWith('/ignores-range')) return void res.writeHead(200).end(FILE);
    const [start, end] = [Number(m[1]), Number(m[2]) - (path.startsWith('/short') ? 1 : 0)];
    res.writeHead(206, { 'content-range': `bytes ${start}-${end}/${FILE.length}` }).end(FILE.subarray(start, end + 1));
  });
  base = server.base;
});

afterAll(() => server.close());

const signal = new AbortController().signal;

describe('the fetcher asks for a byte range', () => {
  it('a 206: exactly the bytes asked for, with the Range header sent', async () => {
    const r = await fetchBytes(`${base}/all.mp4`, { signal, range: { offset: 100, length: 50 } });
    expect(r.status).toBe(206);
    expect(Buffer.from(r.bytes)).toEqual(FILE.subarray(100, 150));
    expect(ranges.at(-1)).toBe('bytes=100-149');
  });

  it('a server that ignores Range (200): the range is cut out of the whole body, and streamed once cut', async () => {
    const seen: Uint8Array[] = [];
    const r = await fetchBytes(`${base}/ignores-range/all.mp4`, {
      signal,
      range: { offset: 10, length: 20 },
      onChunk: (c) => seen.push(c),
    });
    expect(r.status).toBe(200);
    expect(Buffer.from(r.bytes)).toEqual(FILE.subarray(10, 30));
    expect(seen.map((c) => Buffer.from(c))).toEqual([FILE.subarray(10, 30)]);
  });

  it('a 206 shorter than the range is a body that broke off (retried like one)', async () => {
    const e = await fetchBytes(`${base}/short/all.mp4`, { signal, range: { offset: 0, length: 40 } }).catch((x) => x);
    expect(e).toBeInstanceOf(NetworkError);
    expect((e as NetworkError).bytesLoaded).toBe(39);
  });
});

/** Our HLS source on the test's master playlist, its media playlist made of `lines`. */
async function openWith(lines: string[]): Promise<HlsSource> {
  media = lines.join('\n');
  const source = new HlsSource(`${base}/master.m3u8`, {});
  await source.open(signal);
  return source;
}

describe('the HLS source reads byte ranges', () => {
  it('VOD in one file: the init segment and each segment are ranges of it, offsets following on', async () => {
    const source = await openWith([
      '#EXTM3U',
      '#EXT-X-VERSION:7',
      '#EXT-X-TARGETDURATION:2',
      '#EXT-X-PLAYLIST-TYPE:VOD',
      '#EXT-X-MAP:URI="all.mp4",BYTERANGE="100@0"',
      '#EXTINF:2.0,',
      '#EXT-X-BYTERANGE:300@100',
      'all.mp4',
      '#EXTINF:2.0,',
      '#EXT-X-BYTERANGE:250',
      'all.mp4',
      '#EXT-X-ENDLIST',
      '',
    ]);
    const v = source.video[0];
    expect(v.initUrl).toBe(`${base}/v/all.mp4`);
    expect(v.initByteRange).toEqual({ offset: 0, length: 100 });
    const first = await source.chunkAt(v.id, { msn: 0, part: 0 }, signal);
    expect(first).toMatchObject({ url: `${base}/v/all.mp4`, byteRange: { offset: 100, length: 300 } });
    const second = await source.chunkAt(v.id, first!.next, signal);
    expect(second?.byteRange).toEqual({ offset: 400, length: 250 });
  });

  it('LL-HLS parts in one file per segment: each part follows the one before it', async () => {
    const source = await openWith([
      '#EXTM3U',
      '#EXT-X-VERSION:9',
      '#EXT-X-TARGETDURATION:2',
      '#EXT-X-PART-INF:PART-TARGET=0.5',
      '#EXT-X-SERVER-CONTROL:PART-HOLD-BACK=1.5',
      '#EXT-X-MAP:URI="init.mp4"',
      '#EXT-X-PROGRAM-DATE-TIME:2026-12-04T12:00:00.000Z',
      '#EXT-X-PART:DURATION=0.5,URI="s0.mp4",BYTERANGE="120@0",INDEPENDENT=YES',
      '#EXT-X-PART:DURATION=0.5,URI="s0.mp4",BYTERANGE="80"',
      '#EXT-X-PART:DURATION=0.5,URI="s0.mp4",BYTERANGE="90"',
      '#EXT-X-PART:DURATION=0.5,URI="s0.mp4",BYTERANGE="70"',
      '#EXTINF:2.0,',
      's0.mp4',
      '#EXT-X-PART:DURATION=0.5,URI="s1.mp4",BYTERANGE="110@0",INDEPENDENT=YES',
      '',
    ]);
    const v = source.video[0];
    expect(v.initByteRange).toBeUndefined();
    const whole = await source.chunkAt(v.id, { msn: 0, part: 0 }, signal);
    expect(whole?.byteRange).toBeUndefined(); // the complete segment: the whole file
    const parts = [];
    for (let part = 1; part < 4; part++) parts.push((await source.chunkAt(v.id, { msn: 0, part }, signal))?.byteRange);
    expect(parts).toEqual([
      { offset: 120, length: 80 },
      { offset: 200, length: 90 },
      { offset: 290, length: 70 },
    ]);
    const producing = await source.chunkAt(v.id, { msn: 1, part: 0 }, signal);
    expect(producing).toMatchObject({ url: `${base}/v/s1.mp4`, part: 0, byteRange: { offset: 0, length: 110 } });
  });
});
