/**
 * Requests collapsed onto another's fill are given its response only when a shared cache may
 * reuse it (RFC 9111 §4, §5.2.2.5, §5.2.2.7): a private, no-store or cookie-setting answer goes to
 * its own requester alone, and every waiter is fetched its own. And a response that sets two
 * cookies reaches the client with both (it used to be a 500).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServerResponse } from 'node:http';
import { get, startEdge, startUpstream, type TestEdge, type Upstream } from './helpers.js';

let up: Upstream;
let e: TestEdge;
/** Upstream responses held until the test lets them go. */
const held: Array<() => void> = [];
const arrivals: Array<() => void> = [];
let holding = true;

const HEADERS: Record<string, (cookie: string) => Record<string, string | string[]>> = {
  '/private': () => ({ 'cache-control': 'private, max-age=60' }),
  '/no-store': () => ({ 'cache-control': 'no-store' }),
  '/sets-cookie': (cookie) => ({ 'cache-control': 'max-age=60', 'set-cookie': `seen=${cookie}; Path=/` }),
  '/public': () => ({ 'cache-control': 'max-age=60' }),
  '/two-cookies': () => ({ 'cache-control': 'max-age=60', 'set-cookie': ['sid=1; Path=/', 'theme=dark; Path=/'] }),
};

function answer(res: ServerResponse, path: string, cookie: string): void {
  const body = `for ${cookie}`;
  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': String(body.length), ...HEADERS[path](cookie) });
  res.end(body);
}

beforeAll(async () => {
  up = await startUpstream((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const cookie = String(req.headers['cookie'] ?? 'nobody');
    if (!holding) return answer(res, path, cookie);
    held.push(() => answer(res, path, cookie));
    for (const cb of arrivals.splice(0)) cb();
  });
  e = await startEdge({ upstream: up.url, name: 'edge' });
});

afterAll(async () => {
  await e?.close();
  await up?.close();
});

function waitForUpstream(n: number): Promise<void> {
  return new Promise((resolve) => {
    const check = (): void => {
      if (held.length >= n) resolve();
      else arrivals.push(check);
    };
    check();
  });
}

const heldAtEdge = async () => Number(/^edge_held_requests (\d+)/m.exec(await e.edge.metrics.registry.metrics())?.[1]);

/** Three users ask for `path` at once; the first one's upstream answer is held until all three wait on it. */
async function threeUsers(path: string) {
  holding = true;
  const users = ['alice', 'bob', 'carol'];
  const first = get(`${e.url}${path}`, { cookie: users[0] });
  await waitForUpstream(1);
  const rest = users.slice(1).map((u) => get(`${e.url}${path}`, { cookie: u }));
  await expect.poll(heldAtEdge).toBe(3); // the two others are collapsed onto the first one's fill
  holding = false;
  for (const release of held.splice(0)) release();
  return Promise.all([first, ...rest]);
}

describe('responses collapsed waiters may not share', () => {
  for (const path of ['/private', '/no-store', '/sets-cookie']) {
    it(`${path}: each waiter is fetched its own answer`, async () => {
      const out = await threeUsers(path);
      expect(out.map((r) => r.status)).toEqual([200, 200, 200]);
      expect(out.map((r) => r.body.toString())).toEqual(['for alice', 'for bob', 'for carol']);
      expect(up.count(path)).toBe(3);
      if (path === '/sets-cookie')
        expect(out.map((r) => r.headers['set-cookie'])).toEqual([
          'seen=alice; Path=/',
          'seen=bob; Path=/',
          'seen=carol; Path=/',
        ]);
    });
  }

  it('a response a shared cache may keep is still collapsed: one upstream request, every waiter answered', async () => {
    const out = await threeUsers('/public');
    expect(out.map((r) => r.body.toString())).toEqual(['for alice', 'for alice', 'for alice']);
    expect(up.count('/public')).toBe(1);
    expect(out.filter((r) => /collapsed/.test(r.headers['cache-status'] ?? ''))).toHaveLength(2);
  });
});

describe('a response with two Set-Cookie fields', () => {
  it('reaches GET and HEAD with both cookies, never stored', async () => {
    holding = false;
    const got = await get(`${e.url}/two-cookies`);
    expect(got.status).toBe(200);
    expect(got.headers['set-cookie']).toBe('sid=1; Path=/, theme=dark; Path=/'); // the helper joins the two fields
    expect(got.body.toString()).toBe('for nobody');
    const head = await get(`${e.url}/two-cookies`, {}, 'HEAD');
    expect(head.status).toBe(200);
    expect(head.headers['set-cookie']).toBe('sid=1; Path=/, theme=dark; Path=/');
    expect(up.count('/two-cookies')).toBe(2);
  });
});
