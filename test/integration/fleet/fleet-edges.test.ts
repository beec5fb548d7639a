/**
 * The fleet tests: three edges (two of them with two workers each) and one nats-server on
 * loopback. A key is filled once in the PoP; SIGKILL of an edge moves its keys within seconds while requests keep succeeding;
 * a purge reaches an edge that was stopped (it replays before its health turns green); NATS down:
 * cached content is served and purge answers 503 with a reason; NATS back: the fleet recovers.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { ownerOf } from '../../../edge/tiering/rendezvous.js';
import { freePort } from '../../../bench/free-port.js';
import { get, startUpstream, storedKey, type Upstream } from '../edge/helpers.js';
import { edgeProcess, type EdgeProcess } from './edge-process.js';
import { startNatsServer, type NatsServer } from './nats-server.js';
import { waitFor } from './wait.js';

const TOKEN = 'fleet-admin-token-0123456789';
let nats: NatsServer;
let origin: Upstream;
let dir: string;
const edges: EdgeProcess[] = [];
let version = 1;

function originHandler(req: IncomingMessage, res: ServerResponse): void {
  res.writeHead(200, { 'cache-control': 'public, max-age=600', 'content-type': 'video/mp4' });
  res.end(`v${version} ${req.url}`);
}

interface Health {
  status: string;
  reasons: string[];
  fleet?: {
    members: { url: string }[];
    nats: { connected: boolean; reason?: string };
    purge: { state: string; appliedSeq: number };
  };
}

async function health(url: string): Promise<{ status: number; body: Health }> {
  // the member list is for the admin token only
  const r = await request(`${url}/_edge/health`, { headers: { authorization: `Bearer ${TOKEN}` } });
  return { status: r.statusCode, body: (await r.body.json()) as Health };
}

async function purge(url: string, body: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const r = await request(`${url}/_edge/purge`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
    body: JSON.stringify(body),
  });
  return { status: r.statusCode, json: (await r.body.json()) as Record<string, unknown> };
}

const membersOf = async (url: string): Promise<string[]> =>
  ((await health(url)).body.fleet?.members ?? []).map((m) => m.url);

beforeAll(async () => {
  nats = await startNatsServer();
  origin = await startUpstream(originHandler);
  dir = mkdtempSync(join(tmpdir(), 'fleet-edges-'));
  for (let i = 0; i < 3; i++) {
    const port = await freePort();
    edges.push(
      edgeProcess(
        [
          '--upstream',
          origin.url,
          '--nats',
          nats.url,
          '--pop',
          'p1',
          '--name',
          `e${i}`,
          '--store',
          join(dir, `e${i}`),
          '--store-size',
          '64MB',
          '--ram-size',
          '8MB',
          // a mixed PoP: e1 one process, e0 and e2 a supervisor with two workers (one member each)
          '--workers',
          i === 1 ? '1' : '2',
        ],
        port,
        { STREAMEDGE_ADMIN_TOKEN: TOKEN },
      ),
    );
  }
  await Promise.all(edges.map((e) => e.start()));
  const all = edges.map((e) => e.url).sort();
  for (const e of edges) await waitFor('three members', async () => (await membersOf(e.url)).join() === all.join());
}, 120_000);

afterAll(async () => {
  for (const e of edges) await e.stop('SIGTERM');
  await origin?.close();
  await nats?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('an edge fleet on NATS JetStream (three edge processes, one nats-server)', () => {
  it('fills a key once in the PoP: requests to any edge reach its owner', async () => {
    const path = '/vod/once/seg-1.m4s';
    for (const e of edges) {
      const r = await get(`${e.url}${path}`);
      expect(r.status).toBe(200);
      expect(r.body.toString()).toBe(`v1 ${path}`);
    }
    expect(origin.count(path)).toBe(1);
    const h = await health(edges[0].url);
    expect(h.status).toBe(200);
    expect(h.body.fleet!.members.length).toBe(3);
  });

  it('SIGKILL of an edge: its keys get a new owner within seconds and requests keep succeeding', async () => {
    const urls = edges.map((e) => e.url).sort();
    const paths = Array.from({ length: 40 }, (_, i) => `/vod/kill/seg-${i}.m4s`);
    const victim = edges[1];
    const owned = paths.filter((p) => ownerOf(urls, storedKey(p)) === victim.url);
    expect(owned.length).toBeGreaterThan(0);
    const survivors = edges.filter((e) => e !== victim);
    for (const p of paths) expect((await get(`${survivors[0].url}${p}`)).status).toBe(200);

    await victim.stop('SIGKILL');
    // keep requesting through the survivors while membership converges: every answer succeeds
    let rounds = 0;
    let failures = 0;
    // "within a few seconds": the wait is bounded (member TTL 3 s + a heartbeat, with slack for a loaded machine)
    const left = waitFor(
      'the killed edge to leave every survivor',
      async () => {
        for (const s of survivors) if ((await membersOf(s.url)).includes(victim.url)) return false;
        return true;
      },
      10_000,
    );
    let done = false;
    void left.finally(() => (done = true));
    while (!done || rounds < 2) {
      for (const s of survivors)
        for (const p of owned) {
          const r = await get(`${s.url}${p}`);
          if (r.status !== 200 || r.body.toString() !== `v1 ${p}`) failures++;
        }
      rounds++;
    }
    await left;
    expect(failures).toBe(0);
    // the new owner fills each orphaned key once, then serves it to the whole PoP
    const before = origin.total();
    const newOwners = survivors.map((s) => s.url).sort();
    for (const p of owned) {
      const owner = ownerOf(newOwners, storedKey(p));
      expect(newOwners).toContain(owner);
      for (const s of survivors) expect((await get(`${s.url}${p}`)).status).toBe(200);
    }
    expect(origin.total() - before).toBeLessThanOrEqual(owned.length);
    const again = origin.total();
    for (const p of owned) for (const s of survivors) await get(`${s.url}${p}`);
    expect(origin.total()).toBe(again);

    // the killed edge comes back and rejoins
    await victim.start();
    for (const e of edges)
      await waitFor('three members again', async () => (await membersOf(e.url)).length === 3, 10_000);
  });

  it('a purge while an edge is stopped: on restart it replays before its health turns green and refetches', async () => {
    const urls = edges.map((e) => e.url).sort();
    const stopped = edges[2];
    const path = Array.from({ length: 50 }, (_, i) => `/vod/purged/seg-${i}.m4s`).find(
      (p) => ownerOf(urls, storedKey(p)) === stopped.url,
    )!;
    expect((await get(`${stopped.url}${path}`)).body.toString()).toBe(`v${version} ${path}`);
    const oldBody = `v${version} ${path}`;
    await stopped.stop('SIGTERM');
    for (const e of edges.filter((x) => x !== stopped))
      await waitFor('the stopped edge to leave', async () => !(await membersOf(e.url)).includes(stopped.url));

    version++;
    const p = await purge(edges[0].url, { url: path });
    expect(p.status).toBe(200); // every live member applied it
    expect(p.json['missing']).toEqual([]);
    const seq = p.json['seq'] as number;
    expect(seq).toBeGreaterThan(0);

    await stopped.start();
    const seen: Array<{ status: number; appliedSeq: number; state: string }> = [];
    await waitFor(
      'the restarted edge to turn green',
      async () => {
        const h = await health(stopped.url);
        seen.push({
          status: h.status,
          appliedSeq: h.body.fleet?.purge.appliedSeq ?? -1,
          state: h.body.fleet?.purge.state ?? 'joining',
        });
        return h.status === 200;
      },
      20_000,
      10,
    );
    // green only once the missed purge is applied; never green before
    for (const s of seen) if (s.status === 200) expect(s.appliedSeq).toBeGreaterThanOrEqual(seq);
    for (const s of seen) if (s.appliedSeq < seq) expect(s.status).toBe(503);
    expect(seen.at(-1)!.state).toBe('caught-up');
    const r = await get(`${stopped.url}${path}`);
    expect(r.body.toString()).not.toBe(oldBody);
    expect(r.body.toString()).toBe(`v${version} ${path}`);
  });

  it('NATS down: cached content is served and purge answers 503 with a reason; NATS back: the fleet recovers', async () => {
    const path = '/vod/outage/seg-1.m4s';
    for (const e of edges) expect((await get(`${e.url}${path}`)).status).toBe(200);
    const fetched = origin.count(path);
    await nats.stop();
    for (const e of edges)
      await waitFor(
        'the edge to see NATS down',
        async () => (await health(e.url)).body.fleet?.nats.connected === false,
      );
    for (const e of edges) {
      const r = await get(`${e.url}${path}`);
      expect(r.status).toBe(200);
      expect(r.body.toString()).toBe(`v${version} ${path}`);
    }
    expect(origin.count(path)).toBe(fetched); // from cache, not the origin
    // new content still comes from the origin
    expect((await get(`${edges[0].url}/vod/outage/new.m4s`)).status).toBe(200);
    const refused = await purge(edges[0].url, { url: path });
    expect(refused.status).toBe(503);
    expect(String(refused.json['error'])).toMatch(/purge not published: disconnected from NATS.*nothing was purged/);

    await nats.start();
    for (const e of edges)
      await waitFor('reconnect', async () => (await health(e.url)).body.fleet?.nats.connected === true, 20_000);
    const ok = await waitFor(
      'a purge to reach every member after the outage',
      async () => {
        const r = await purge(edges[0].url, { url: path });
        return r.status === 200 ? r : undefined;
      },
      20_000,
      200,
    );
    expect((ok.json['applied'] as string[]).sort()).toEqual(edges.map((e) => e.url).sort());
    version++;
    expect((await get(`${edges[1].url}${path}`)).body.toString()).toBe(`v${version} ${path}`);
  });
});
