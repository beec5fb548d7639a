/**
 * Requests held on one fill answered as a group (edge/group-answer.ts): a small answer of known
 * length reaches every waiter whole, with the leader's and the collapsed waiters' Cache-Status and
 * an X-Request-ID each; a larger body still streams to waiters before the upstream finishes it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GROUP_ANSWER_MAX_BYTES } from '../../../edge/group-answer.js';
import { get, startEdge, startUpstream, type TestEdge, type Upstream } from './helpers.js';
import { request } from 'undici';

let up: Upstream;
let e: TestEdge;
const held: Array<() => void> = [];
const arrivals: Array<() => void> = [];
const small = Buffer.alloc(2048, 'a');
const big = Buffer.alloc(GROUP_ANSWER_MAX_BYTES * 3, 'b');
let releaseSecondHalf!: () => void;
const secondHalf = new Promise<void>((r) => (releaseSecondHalf = r));

function waitForHeld(n: number): Promise<void> {
  return new Promise((resolve) => {
    const check = (): void => {
      if (held.length >= n) resolve();
      else arrivals.push(check);
    };
    check();
  });
}

beforeAll(async () => {
  up = await startUpstream((req, res) => {
    const body = req.url!.startsWith('/held/big') ? big : small;
    held.push(() => {
      res.writeHead(200, { 'cache-control': 'public, max-age=60', 'content-length': String(body.length) });
      if (body === small) return void res.end(body);
      res.write(body.subarray(0, body.length / 2));
      void secondHalf.then(() => res.end(body.subarray(body.length / 2)));
    });
    for (const cb of arrivals.splice(0)) cb();
  });
  e = await startEdge({ upstream: up.url, name: 'grp' });
});

afterAll(async () => {
  await e.close();
  await up.close();
});

describe('group answers of held requests', () => {
  it('sends a small answer whole to every waiter of one fill, Cache-Status and X-Request-ID per waiter', async () => {
    const n = 30;
    const all = Promise.all(
      Array.from({ length: n }, (_, i) => get(`${e.url}/held/small.m3u8`, { 'x-request-id': `w-${i}` })),
    );
    await waitForHeld(1);
    // every waiter is attached once the edge counts them as held (one leader + n-1 collapsed)
    await expect
      .poll(async () => Number(/^edge_held_requests (\d+)/m.exec(await e.edge.metrics.registry.metrics())?.[1]))
      .toBe(n);
    held.shift()!();
    const out = await all;
    expect(up.count('/held/small.m3u8')).toBe(1);
    expect(out.every((r) => r.status === 200 && r.body.equals(small))).toBe(true);
    expect(out.every((r) => r.headers['content-length'] === String(small.length))).toBe(true);
    expect(out.map((r) => r.headers['x-request-id'])).toEqual(Array.from({ length: n }, (_, i) => `w-${i}`));
    const statuses = out.map((r) => r.headers['cache-status'] ?? '');
    // ttl: whole seconds left when the head arrived (60 or 59)
    expect(statuses.filter((s) => /^grp; fwd=uri-miss; ttl=(59|60)$/.test(s))).toHaveLength(1);
    expect(statuses.filter((s) => /^grp; fwd=uri-miss; ttl=(59|60); collapsed$/.test(s))).toHaveLength(n - 1);
  });

  it(`streams a body over ${GROUP_ANSWER_MAX_BYTES} bytes to waiters before the upstream has finished it`, async () => {
    const n = 5;
    const firstBytes: Array<Promise<void>> = [];
    const all = Array.from({ length: n }, () => {
      let gotFirst!: () => void;
      firstBytes.push(new Promise<void>((r) => (gotFirst = r)));
      return (async () => {
        const r = await request(`${e.url}/held/big.m4s`);
        let bytes = 0;
        for await (const c of r.body as AsyncIterable<Buffer>) {
          if (bytes === 0) gotFirst();
          bytes += c.length;
        }
        return bytes;
      })();
    });
    await waitForHeld(1);
    held.shift()!();
    // every waiter has bytes while the upstream still holds back the second half
    await Promise.all(firstBytes);
    releaseSecondHalf();
    expect(await Promise.all(all)).toEqual(Array.from({ length: n }, () => big.length));
    expect(up.count('/held/big.m4s')).toBe(1);
  });
});
