/**
 * GET /_edge/cmcd/sessions on a single-process edge over HTTP: the CMCD sessions the edge saw, fed
 * by misses, the full lookup and the one-write hit path alike (query and headers), with their
 * latest CMCD values; the admin token required (the ids are viewers' data); a malformed query
 * answered 400. The multi-worker case is in test/integration/cluster/edge-workers.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { get, startEdge, startUpstream, type TestEdge, type Upstream } from './helpers.js';

const ADMIN = 'cmcd-sessions-admin-token-0123456789';
const auth = { authorization: `Bearer ${ADMIN}` };
let up: Upstream;
let e: TestEdge;

beforeAll(async () => {
  up = await startUpstream((_req, res) => {
    res.writeHead(200, { 'content-type': 'video/mp4', 'cache-control': 'max-age=3600' });
    res.end(Buffer.alloc(1000, 7));
  });
  e = await startEdge({ upstream: up.url, adminToken: ADMIN });
});

afterAll(async () => {
  await e?.close();
  await up?.close();
});

interface View {
  windowSec: number;
  sessions: number;
  starvedSessions: number;
  list: { sid: string; cid?: string; requests: number; starvations: number; br?: number; bl?: number; st?: string }[];
}

async function view(query = ''): Promise<View> {
  const r = await get(`${e.url}/_edge/cmcd/sessions${query}`, auth);
  expect(r.status).toBe(200);
  expect(r.headers['cache-control']).toBe('no-store');
  return JSON.parse(r.body.toString()) as View;
}

const cmcd = (payload: string): string => `CMCD=${encodeURIComponent(payload)}`;

describe('/_edge/cmcd/sessions', () => {
  it('lists each session with its requests, starvation signals and latest values, worst first', async () => {
    // "calm": a miss, then hits (the hit path answers those), by query
    for (let i = 0; i < 3; i++) {
      const r = await get(`${e.url}/s/seg-1.m4s?${cmcd(`ot=v,sid="calm",cid="news",st=l,br=${3000 + i}`)}`);
      expect(r.status).toBe(200);
    }
    // "rough": by headers, two starvation signals, its bitrate dropping
    await get(`${e.url}/s/seg-1.m4s`, { 'cmcd-session': 'sid="rough",cid="news"', 'cmcd-object': 'ot=v,br=3000' });
    await get(`${e.url}/s/seg-2.m4s`, {
      'cmcd-session': 'sid="rough"',
      'cmcd-status': 'bs',
      'cmcd-object': 'ot=v,br=990',
      'cmcd-request': 'bl=0',
    });
    await get(`${e.url}/s/seg-3.m4s?${cmcd('bs,ot=v,sid="rough",br=550,bl=200')}`);
    expect(up.count('/s/seg-1.m4s')).toBe(1); // not keyed on CMCD

    const v = await view();
    expect(v).toMatchObject({ windowSec: 60, sessions: 2, starvedSessions: 1 });
    expect(v.list.map((s) => s.sid)).toEqual(['rough', 'calm']);
    expect(v.list[0]).toMatchObject({ sid: 'rough', cid: 'news', requests: 3, starvations: 2, br: 550, bl: 200 });
    expect(v.list[1]).toMatchObject({ sid: 'calm', cid: 'news', requests: 3, starvations: 0, br: 3002, st: 'l' });
    expect((await view('?starved=1')).list.map((s) => s.sid)).toEqual(['rough']);
    expect((await view('?limit=1')).list.map((s) => s.sid)).toEqual(['rough']);
    expect((await view('?sid=calm')).list.map((s) => s.sid)).toEqual(['calm']);
  });

  it('needs the admin token, and says what is wrong with a bad query', async () => {
    const none = await get(`${e.url}/_edge/cmcd/sessions`);
    expect(none.status).toBe(401);
    expect(none.headers['www-authenticate']).toContain('Bearer');
    expect(none.body.toString()).not.toContain('calm');
    expect((await get(`${e.url}/_edge/cmcd/sessions`, { authorization: 'Bearer wrong' })).status).toBe(401);
    for (const q of ['?limit=0', '?limit=5000', '?limit=ten', '?starved=yes']) {
      const r = await get(`${e.url}/_edge/cmcd/sessions${q}`, auth);
      expect(r.status, q).toBe(400);
      expect(r.body.toString()).toMatch(/limit|starved/);
    }
    expect((await get(`${e.url}/_edge/cmcd/sessions`, auth, 'POST')).status).toBe(405);
    // an edge started without an admin token says how to enable it
    const open = await startEdge({ upstream: up.url });
    try {
      const r = await get(`${open.url}/_edge/cmcd/sessions`, auth);
      expect(r.status).toBe(403);
      expect(r.body.toString()).toMatch(/disabled: start the edge with --admin-token/);
    } finally {
      await open.close();
    }
  });
});
