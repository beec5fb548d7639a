/**
 * A fill's bulk rounds run in slices (edge/fill.ts BULK_SLICE_MS): with many waiters and an
 * upstream that sends as fast as it can, each round (more bytes and catch-ups to every waiter) is
 * far longer than a slice, so it is split over several event-loop turns while clients keep
 * reading and some go away. Every waiter that stays gets the whole body, byte for byte, exactly
 * once (a reader run twice in a round or skipped would corrupt or stall it); the ones that leave
 * mid-body cost the others nothing; still one upstream request, and the object is stored whole.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { parseCacheStatus } from '../../../src/http/cache-status.js';
import { client, startEdge, startUpstream, type TestEdge, type Upstream } from './helpers.js';

const CHUNK = 512 * 1024;
const CHUNKS = 8;
const SIZE = CHUNK * CHUNKS;
const WAITERS = 150;
/** Waiters that go away once they have this many bytes (mid-body, while rounds are in progress). */
const LEAVERS = 50;
const LEAVE_AFTER = CHUNK + CHUNK / 3;
const body = Buffer.alloc(SIZE);
for (let i = 0; i < SIZE; i++) body[i] = (i * 2654435761) >>> 24;

let up: Upstream;
let e: TestEdge;
let release!: () => void;
const released = new Promise<void>((r) => (release = r));

beforeAll(async () => {
  up = await startUpstream((req, res) => {
    res.writeHead(200, { 'content-type': 'video/mp4', 'cache-control': 'public, max-age=60' }); // chunked
    // the first chunk at once; the rest once every waiter has its response (all of them are
    // collapsed on this fill), then as fast as the edge takes it
    res.write(body.subarray(0, CHUNK));
    void released.then(async () => {
      for (let i = 1; i < CHUNKS; i++) {
        if (!res.write(body.subarray(i * CHUNK, (i + 1) * CHUNK))) {
          await new Promise<void>((r) => res.once('drain', () => r()));
        }
      }
      res.end();
    });
  });
  e = await startEdge({ upstream: up.url });
});

afterAll(async () => {
  await e?.close();
  await up?.close();
});

describe('bulk rounds in slices', () => {
  it('every staying waiter gets the whole body once; leavers mid-body cost nothing; one upstream request', async () => {
    const url = `${e.url}/vod/a/seg-1.m4s`;
    let heads = 0;
    const results = await Promise.all(
      Array.from({ length: WAITERS }, async (_, i) => {
        const res = await request(url, { dispatcher: client });
        if (++heads === WAITERS) release();
        const leaves = i < LEAVERS;
        const parts: Buffer[] = [];
        let got = 0;
        try {
          for await (const chunk of res.body as AsyncIterable<Buffer>) {
            parts.push(chunk);
            got += chunk.length;
            if (leaves && got >= LEAVE_AFTER) {
              res.body.destroy();
              break;
            }
          }
        } catch {
          // a leaver's own destroy
        }
        return {
          leaves,
          status: res.statusCode,
          cs: parseCacheStatus(String(res.headers['cache-status']))[0],
          body: Buffer.concat(parts),
        };
      }),
    );
    expect(up.total()).toBe(1);
    expect(results.every((r) => r.status === 200)).toBe(true);
    expect(results.filter((r) => r.cs.collapsed).length).toBe(WAITERS - 1);
    const stayed = results.filter((r) => !r.leaves);
    expect(stayed.filter((r) => !r.body.equals(body)).length).toBe(0);
    // a leaver's bytes up to where it left are the body's (nothing repeated or skipped)
    for (const r of results.filter((x) => x.leaves)) {
      expect(r.body.length).toBeGreaterThanOrEqual(LEAVE_AFTER);
      expect(r.body.equals(body.subarray(0, r.body.length))).toBe(true);
    }

    await e.edge.whenIdle();
    const again = await request(url, { dispatcher: client });
    expect(Buffer.from(await again.body.arrayBuffer()).equals(body)).toBe(true);
    expect(parseCacheStatus(String(again.headers['cache-status']))[0].hit).toBe(true);
    expect(up.total()).toBe(1);
  });
});
