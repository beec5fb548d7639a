/**
 * An edge that missed purges serves nothing until it has replayed them: content requests wait,
 * health answers 503, and the first answer after the replay is the refetched object.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { freePort } from '../../../bench/free-port.js';
import { get, startUpstream, type Upstream } from '../edge/helpers.js';
import { startFleetEdge } from './fleet-edge.js';
import { runEdge } from '../../../edge/edge-cli.js';
import { startNatsServer, type NatsServer } from './nats-server.js';
import { waitFor } from './wait.js';

const TOKEN = 'fleet-admin-token-0123456789';
let nats: NatsServer;
let origin: Upstream;
let dir: string;
let version = 1;

beforeAll(async () => {
  nats = await startNatsServer();
  origin = await startUpstream((req: IncomingMessage, res: ServerResponse) => {
    res.writeHead(200, { 'cache-control': 'public, max-age=600' });
    res.end(`v${version} ${req.url}`);
  });
  dir = mkdtempSync(join(tmpdir(), 'fleet-replay-'));
});
afterAll(async () => {
  await origin.close();
  await nats.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('replay before serving', () => {
  it('holds content requests and answers 503 on health until the missed purges are applied', async () => {
    const common = { nats: nats.url, upstream: origin.url, pop: 'r1', dir, adminToken: TOKEN };
    const port = await freePort();
    let a = await startFleetEdge({ ...common, name: 'a', port });
    const b = await startFleetEdge({ ...common, name: 'b' });
    try {
      await a.fleet.whenReady();
      const path = '/vod/r/seg-1.m4s';
      expect((await get(`${a.url}${path}`)).body.toString()).toBe(`v1 ${path}`);
      await a.close();
      version = 2;
      const p = await request(`${b.url}/_edge/purge`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
        body: JSON.stringify({ url: path }),
      });
      expect(p.statusCode).toBe(200);
      await p.body.text();

      // a comes back on the same URL and store; its purge applications are held
      let release!: () => void;
      const held = new Promise<void>((r) => (release = r));
      let asked = 0;
      a = await startFleetEdge({
        ...common,
        name: 'a',
        port,
        gate: {
          wait: () => {
            asked++;
            return held;
          },
        },
      });
      await waitFor('the replay to reach the held purge', () => asked === 1);
      const h = await request(`${a.url}/_edge/health`);
      expect(h.statusCode).toBe(503);
      expect(((await h.body.json()) as { reasons: string[] }).reasons).toContain('replaying missed purges');
      let answered = false;
      const pending = get(`${a.url}${path}`).finally(() => (answered = true));
      // the request is held while the replay is held: without the gate it would be a hit on the stale v1
      await waitFor('a round trip to the edge after the content request was sent', async () => {
        const m = await (await request(`${a.url}/_edge/metrics`)).body.text();
        return /edge_requests_total\{result="admin"\} \d+/.test(m);
      });
      expect(answered).toBe(false);
      release();
      const r = await pending;
      expect(r.body.toString()).toBe(`v2 ${path}`);
      expect((await request(`${a.url}/_edge/health`)).statusCode).toBe(200);
    } finally {
      await a.close();
      await b.close();
    }
  });
});

describe('an edge started while NATS is down', () => {
  it('serves after the bounded wait (cache marked stale), refuses purge with a reason, and joins when NATS is back', async () => {
    await nats.stop();
    const e = await runEdge({
      upstream: origin.url,
      port: '0',
      host: '127.0.0.1',
      storeSize: '64MB',
      ramSize: '8MB',
      name: 'late',
      negativeTtl: '5s',
      logLevel: 'silent',
      maxUpstream: '64',
      headersTimeout: '10s',
      bodyTimeout: '10s',
      nats: nats.url,
      pop: 'late',
      fleetJoinWait: '500ms',
      adminToken: TOKEN,
    });
    try {
      const h0 = await request(`${e.url}/_edge/health`);
      const b0 = (await h0.body.json()) as { fleet: { state: string } };
      expect(b0.fleet.state).toMatch(/joining|not joined/);
      // held until the bounded wait ends, then served
      const r = await get(`${e.url}/vod/late/seg-1.m4s`);
      expect(r.status).toBe(200);
      const h1 = await request(`${e.url}/_edge/health`);
      expect(h1.statusCode).toBe(200);
      expect(((await h1.body.json()) as { fleet: { state: string } }).fleet.state).toMatch(
        /not joined: NATS unreachable/,
      );
      const p = await request(`${e.url}/_edge/purge`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
        body: JSON.stringify({ url: '/vod/late/seg-1.m4s' }),
      });
      expect(p.statusCode).toBe(503);
      expect(((await p.body.json()) as { error: string }).error).toMatch(/has not joined the fleet yet/);

      await nats.start();
      await waitFor(
        'the edge to join the fleet',
        async () => {
          const h = (await (
            await request(`${e.url}/_edge/health`, { headers: { authorization: `Bearer ${TOKEN}` } })
          ).body.json()) as {
            fleet: { members?: { url: string }[] };
          };
          return (h.fleet.members ?? []).some((m) => m.url === e.url);
        },
        20_000,
        100,
      );
      const p2 = await request(`${e.url}/_edge/purge`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
        body: JSON.stringify({ url: '/vod/late/seg-1.m4s' }),
      });
      expect(p2.statusCode).toBe(200);
      await p2.body.text();
    } finally {
      await e.close();
    }
  });
});
