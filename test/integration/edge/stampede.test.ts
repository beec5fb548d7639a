/**
 * Stampede: 1,000 concurrent requests for one uncached 2 MiB segment that the upstream trickles
 * out over ~2 s with chunked encoding. Exactly one upstream request; all bodies byte-identical;
 * every waiter has its first bytes before the upstream writes its last chunk (the upstream holds
 * its last chunk until every waiter has bytes, or a generous deadline passes — if the edge did
 * not stream to waiters while filling, the count at that moment would be 0).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { parseCacheStatus } from '../../../src/http/cache-status.js';
import { client, startEdge, startUpstream, type TestEdge, type Upstream } from './helpers.js';

const SIZE = 2 * 1024 * 1024;
const CHUNKS = 32;
const CLIENTS = 1000;
const body = Buffer.alloc(SIZE);
for (let i = 0; i < SIZE; i++) body[i] = (i * 2654435761) >>> 24;

let up: Upstream;
let e: TestEdge;
let firstBytes = 0;
let firstBytesAtLastChunk = -1;
let allHaveBytes!: () => void;
const allHaveBytesP = new Promise<void>((r) => (allHaveBytes = r));

beforeAll(async () => {
  up = await startUpstream((req, res) => {
    if (!req.url?.startsWith('/live/c/v/seg-7.m4s')) {
      res.writeHead(404);
      res.end();
      return;
    }
    res.writeHead(200, { 'content-type': 'video/mp4', 'cache-control': 'public, max-age=60' }); // chunked: unknown length
    const step = SIZE / CHUNKS;
    let i = 0;
    const tick = async () => {
      if (i === CHUNKS - 1) {
        // the last chunk waits for every waiter to have bytes; the deadline is only a safety net
        // (generous: on a heavily shared machine 1,000 connections take a while to get going)
        await Promise.race([allHaveBytesP, new Promise((r) => setTimeout(r, 90_000))]);
        firstBytesAtLastChunk = firstBytes;
        res.end(body.subarray(i * step));
        return;
      }
      res.write(body.subarray(i * step, (i + 1) * step));
      i++;
      setTimeout(() => void tick(), 2000 / CHUNKS);
    };
    void tick();
  });
  // the upstream deliberately holds its last chunk until every waiter has bytes: on a busy machine
  // that can take a while, so the edge's body timeout must not cut it first
  e = await startEdge({ upstream: up.url, bodyTimeoutMs: 120_000 });
});

afterAll(async () => {
  await e?.close();
  await up?.close();
});

describe('stampede on one uncached segment', () => {
  it('1,000 waiters, one upstream request, identical bodies, first bytes before the upstream finishes', async () => {
    const url = `${e.url}/live/c/v/seg-7.m4s`;
    const results = await Promise.all(
      Array.from({ length: CLIENTS }, async () => {
        const res = await request(url, { dispatcher: client });
        let offset = 0;
        let identical = true;
        let first = true;
        for await (const chunk of res.body as AsyncIterable<Buffer>) {
          if (first) {
            first = false;
            if (++firstBytes === CLIENTS) allHaveBytes();
          }
          if (!body.subarray(offset, offset + chunk.length).equals(chunk)) identical = false;
          offset += chunk.length;
        }
        return {
          status: res.statusCode,
          identical: identical && offset === SIZE,
          cs: String(res.headers['cache-status']),
        };
      }),
    );
    expect(up.count('/live/c/v/seg-7.m4s')).toBe(1);
    expect(up.total()).toBe(1);
    expect(results.every((r) => r.status === 200)).toBe(true);
    expect(results.filter((r) => !r.identical).length).toBe(0);
    expect(firstBytesAtLastChunk).toBe(CLIENTS);
    const statuses = results.map((r) => parseCacheStatus(r.cs)[0]);
    expect(statuses.filter((s) => s.collapsed).length).toBe(CLIENTS - 1);
    // every waiter was answered while the fill streamed, before its put landed: none says `stored` (RFC 9211)
    expect(statuses.every((s) => s.fwd === 'uri-miss' && s.stored === undefined)).toBe(true);

    // stored once complete: the next request is a hit, still from that single upstream fetch
    await e.edge.whenIdle();
    const again = await request(url, { dispatcher: client });
    const buf = Buffer.from(await again.body.arrayBuffer());
    expect(buf.equals(body)).toBe(true);
    expect(parseCacheStatus(String(again.headers['cache-status']))[0].hit).toBe(true);
    expect(again.headers['content-length']).toBe(String(SIZE));
    expect(up.total()).toBe(1);
  });
});
