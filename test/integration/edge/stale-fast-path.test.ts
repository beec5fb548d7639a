/**
 * Stale-while-revalidate answers on the one-write hit path (edge/hit-path.ts): once a worker's
 * revalidation of an expired entry is under way, the next requests for it are answered stale
 * without node:http objects, with the same fields the full lookup gives, and counted as stale.
 * A real edge (fake clock) in front of a real origin whose revalidation is held until released.
 */
import { connect } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  get,
  recordNodeRequests,
  startEdge,
  startUpstream,
  type Got,
  type TestEdge,
  type Upstream,
} from './helpers.js';

let up: Upstream;
let e: TestEdge;
let port: number;
// the edge's clock, moved by the test (it starts at the origin's, which dates its answers)
let clock = Date.now();
let version = 0;
let release: () => void = () => undefined;
/** Targets of node:http 'request' events on the edge's port (the fast path makes none). */
const nodeRequests: string[] = [];
let stopRecording: () => void = () => undefined;

beforeAll(async () => {
  up = await startUpstream((_req, res) => {
    const v = ++version;
    const send = () => {
      res.writeHead(200, {
        'content-type': 'application/vnd.apple.mpegurl',
        'cache-control': 'max-age=2, stale-while-revalidate=30',
        'content-length': String(`#EXTM3U\n#v${v}\n`.length),
      });
      res.end(`#EXTM3U\n#v${v}\n`);
    };
    // the first answer at once; the revalidation held until the test releases it
    if (v === 1) send();
    else release = send;
  });
  e = await startEdge({ upstream: up.url, name: 'swr', now: () => clock });
  port = Number(new URL(e.url).port);
  stopRecording = recordNodeRequests(port, nodeRequests);
});

afterAll(async () => {
  stopRecording();
  await e.close();
  await up.close();
});

/**
 * One keep-alive GET on a raw socket of its own (as a player's connection sends it: no
 * Connection: close), read by Content-Length; the answer's fields lower-cased.
 */
function rawGet(path: string): Promise<Got> {
  return new Promise((resolve, reject) => {
    const sock = connect(port, '127.0.0.1');
    let buf = Buffer.alloc(0);
    sock.on('error', reject);
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      const end = buf.indexOf('\r\n\r\n');
      if (end === -1) return;
      const lines = buf.toString('latin1', 0, end).split('\r\n');
      const headers: Record<string, string> = {};
      for (const l of lines.slice(1))
        headers[l.slice(0, l.indexOf(':')).toLowerCase()] = l.slice(l.indexOf(':') + 1).trim();
      const length = Number(headers['content-length']);
      if (buf.length < end + 4 + length) return;
      sock.destroy();
      resolve({ status: Number(lines[0].slice(9, 12)), headers, body: buf.subarray(end + 4, end + 4 + length) });
    });
    sock.write(`GET ${path} HTTP/1.1\r\nHost: edge\r\n\r\n`);
  });
}

const shared = (g: Got) => {
  const { date: _d, 'x-request-id': _id, ...rest } = g.headers;
  return rest;
};

async function metric(name: string): Promise<number> {
  const text = (await get(`${e.url}/_edge/metrics`)).body.toString();
  const line = text.split('\n').find((l) => l.startsWith(name + ' '));
  return line === undefined ? 0 : Number(line.slice(name.length + 1));
}

it('answers stale on the one-write path while the revalidation is under way, as the lookup does', async () => {
  const url = `${e.url}/live/a.m3u8`;
  expect((await get(url)).body.toString()).toBe('#EXTM3U\n#v1\n');
  // the first hit brings the stored copy into the RAM tier; the next is a one-write hit
  expect((await get(url)).headers['cache-status']).toContain('hit');
  nodeRequests.length = 0;
  const fresh = await rawGet('/live/a.m3u8');
  expect(fresh.headers['cache-status']).toContain('hit');
  expect(nodeRequests, 'a fresh hit on the one-write path').toEqual([]);
  // expired, within stale-while-revalidate: the first request takes the lookup, which serves the
  // stale copy and starts the revalidation (held at the origin)
  clock += 3_000;
  nodeRequests.length = 0;
  const first = await rawGet('/live/a.m3u8');
  expect(nodeRequests).toEqual(['/live/a.m3u8']);
  expect(first.body.toString()).toBe('#EXTM3U\n#v1\n');
  expect(first.headers['cache-status']).toMatch(/^swr; hit; ttl=-\d+; detail=stale-while-revalidate$/);
  // the revalidation reaches the origin (in the background) and is held there
  for (let i = 0; i < 2000 && up.count('/live/a.m3u8') < 2; i++) await new Promise((r) => setImmediate(r));
  expect(up.count('/live/a.m3u8')).toBe(2);
  // the next ones: the same answer, with no node:http request (the one-write path), no new fetch
  const staleBefore = await metric('edge_requests_total{result="stale"}');
  nodeRequests.length = 0;
  const next = await Promise.all([rawGet('/live/a.m3u8'), rawGet('/live/a.m3u8'), rawGet('/live/a.m3u8')]);
  expect(nodeRequests).toEqual([]);
  expect(first.headers['cache-status']).toBe('swr; hit; ttl=-1; detail=stale-while-revalidate');
  for (const n of next) {
    expect(n.body.toString()).toBe('#EXTM3U\n#v1\n');
    expect(shared(n)).toEqual(shared(first));
  }
  expect(up.count('/live/a.m3u8')).toBe(2);
  expect((await metric('edge_requests_total{result="stale"}')) - staleBefore).toBe(3);
  expect(await metric('edge_stale_served_total{reason="stale-while-revalidate"}')).toBe(4);
  // the revalidation lands: the new version is served
  release();
  let now: Got | undefined;
  for (let i = 0; i < 200 && !now?.body.toString().includes('#v2'); i++) now = await rawGet('/live/a.m3u8');
  expect(now?.body.toString()).toBe('#EXTM3U\n#v2\n');
});

it('past stale-while-revalidate nothing is answered on the one-write path', async () => {
  clock += 60_000;
  const before = up.count('/live/a.m3u8');
  nodeRequests.length = 0;
  const late = rawGet('/live/a.m3u8');
  // beyond the window the lookup fetches (held by the origin) and the request waits for it
  for (let i = 0; i < 2000 && up.count('/live/a.m3u8') === before; i++) await new Promise((r) => setImmediate(r));
  expect(nodeRequests).toEqual(['/live/a.m3u8']);
  release();
  const a = await late;
  // a version after v2 (the fetch this request started or joined)
  expect(a.body.toString()).toMatch(/^#EXTM3U\n#v([3-9]|\d\d+)\n$/);
  expect(a.headers['cache-status']).not.toContain('stale-while-revalidate');
});
