/**
 * A fleet member on every core (`--nats` with `--workers 2`): one membership per edge (the
 * supervisor's), fleet purges applied to the store and to every worker before they are
 * acknowledged, POST /_edge/purge and health from any worker, and fleet keys rotated on every
 * worker. Real nats-server, real processes (supervisor, store process, workers) on loopback.
 */
import { generateKeyPairSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runEdge, type EdgeCliOptions } from '../../../edge/edge-cli.js';
import { FleetConnection } from '../../../src/fleet/nats-connection.js';
import { openKeysBucket } from '../../../src/fleet/keys-bucket.js';
import { addFleetKey, setFleetCredential, verificationJwkFromKeyFile } from '../../../edge/fleet/fleet-keys.js';
import { UPSTREAM_CREDENTIAL_HEADER } from '../../../src/signing/upstream-credential.js';
import { issueToken, signedUrl } from '../../../src/signing/issue.js';
import { signingKeyFromJwk } from '../../../src/signing/keys.js';
import { ADMIN_TOKEN, type Answer, get, metricsText, series, startSupervisedEdge } from '../cluster/supervised-edge.js';
import { useFleetFixture } from './fleet-fixture.js';
import { startNatsServer } from './nats-server.js';
import { waitFor } from './wait.js';

const fx = useFleetFixture('fleet-workers-');

const auth = { authorization: `Bearer ${ADMIN_TOKEN}` };
/**
 * These tests reach each worker from outside with consecutive connections: node's round-robin
 * hand-over alternates them (the edge's default, SCHED_NONE, lets whichever worker runs first accept).
 */
const ROUND_ROBIN = { NODE_CLUSTER_SCHED_POLICY: 'rr' };
const isHit = (a: Answer): boolean => String(a.headers['cache-status']).includes('; hit');

/** Asks `path` until both workers answered it as a hit (each then holds it in its RAM tier). */
async function hitOnBothWorkers(base: string, path: string): Promise<void> {
  const hit = new Set<string>();
  await waitFor(
    `${path} to be a hit on both workers`,
    async () => {
      const a = await get(base, path);
      if (isHit(a) && a.worker !== undefined) hit.add(a.worker);
      return hit.size === 2;
    },
    20_000,
    1,
  );
}

async function purge(base: string, body: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const r = await get(base, '/_edge/purge', {
    method: 'POST',
    headers: { ...auth, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: r.status, json: JSON.parse(r.body.toString()) as Record<string, unknown> };
}

interface FleetHealth {
  fleet?: { self: string; members: { url: string }[]; purge: { state: string; appliedSeq: number } };
}

const edgeOptions = (name: string, extra: Partial<EdgeCliOptions> = {}): EdgeCliOptions => ({
  upstream: fx.origin.url,
  port: '0',
  host: '127.0.0.1',
  store: join(fx.dir, name),
  storeSize: '64MB',
  ramSize: '8MB',
  name,
  negativeTtl: '5s',
  logLevel: 'silent',
  maxUpstream: '64',
  headersTimeout: '10s',
  bodyTimeout: '10s',
  adminToken: ADMIN_TOKEN,
  nats: fx.nats.url,
  pop: 'p1',
  ...extra,
});

describe('a fleet member with --workers 2', () => {
  it('is one member; purges reach its store and both workers before they are acknowledged, whichever worker is asked', async () => {
    const a = await runEdge(edgeOptions('a'));
    fx.onCleanup(() => a.close());
    const b = await startSupervisedEdge(
      fx.origin.url,
      2,
      ['--nats', fx.nats.url, '--pop', 'p1', '--name', 'b'],
      ROUND_ROBIN,
    );
    fx.onCleanup(() => b.stop());

    // one member per edge, whatever its worker count; every worker of B reports the fleet
    await waitFor('A and B to see each other', async () => {
      const seen = new Set<string>();
      for (let i = 0; i < 8 && seen.size < 2; i++) {
        const h = await get(b.url, '/_edge/health', { headers: auth });
        const f = (JSON.parse(h.body.toString()) as FleetHealth).fleet;
        if (h.status === 200 && f?.members.length === 2 && f.purge.state === 'caught-up') seen.add(h.worker ?? '');
      }
      return seen.size === 2;
    });
    const members = (JSON.parse((await get(a.url, '/_edge/health', { headers: auth })).body.toString()) as FleetHealth)
      .fleet!.members.map((m) => m.url)
      .sort();
    expect(members).toEqual([a.url, b.url].sort());

    const paths = Array.from({ length: 6 }, (_, i) => `/vod/fw/seg-${i}.m4s`);
    for (const p of paths) await hitOnBothWorkers(b.url, p);

    // a purge sent to A: when it answers 200, B's store process and both workers applied it
    fx.version = 2;
    const viaA = await purge(a.url, { prefix: '/vod/fw/' });
    expect(viaA.status).toBe(200);
    expect((viaA.json['applied'] as string[]).sort()).toEqual([a.url, b.url].sort());
    const after: Answer[] = [];
    for (const p of paths) after.push(await get(b.url, p)); // one request per path, spread over the workers
    expect(new Set(after.map((x) => x.worker))).toEqual(new Set(['0', '1']));
    for (const [i, x] of after.entries()) {
      expect(isHit(x), `${paths[i]} on worker ${x.worker}`).toBe(false);
      expect(x.body.toString()).toBe(`v2 ${paths[i]}`);
    }

    // a purge sent to a worker of B goes through the fleet: A and both workers of B apply it
    for (const p of paths) await hitOnBothWorkers(b.url, p);
    expect((await get(a.url, paths[0])).body.toString()).toBe(`v2 ${paths[0]}`);
    fx.version = 3;
    const viaB = await purge(b.url, { prefix: '/vod/fw/' });
    expect(viaB.status).toBe(200);
    expect((viaB.json['applied'] as string[]).sort()).toEqual([a.url, b.url].sort());
    const again: Answer[] = [];
    for (const p of paths) again.push(await get(b.url, p));
    expect(new Set(again.map((x) => x.worker))).toEqual(new Set(['0', '1']));
    for (const [i, x] of again.entries()) {
      expect(isHit(x)).toBe(false);
      expect(x.body.toString()).toBe(`v3 ${paths[i]}`);
    }
    expect((await get(a.url, paths[0])).body.toString()).toBe(`v3 ${paths[0]}`);

    // the summed metrics count the fleet once, not once per worker
    await waitFor('both purges in B’s lag histogram', async () => {
      const m = await metricsText(b.url);
      return series(m, 'edge_fleet_purge_lag_seconds_count') === 2 && series(m, 'edge_fleet_members') === 2;
    });

    await b.stop();
    // B left the fleet when it stopped (a clean leave): A sees itself alone
    await waitFor('B to leave', async () => {
      const h = JSON.parse((await get(a.url, '/_edge/health', { headers: auth })).body.toString()) as FleetHealth;
      return h.fleet?.members.length === 1;
    });
  });

  it('NATS unreachable at start: every worker serves after the bounded wait, purge is refused with a reason, and the edge joins when NATS is back', async () => {
    const late = await startNatsServer();
    fx.onCleanup(() => late.close());
    await late.stop();
    const d = await startSupervisedEdge(
      fx.origin.url,
      2,
      ['--nats', late.url, '--pop', 'late', '--name', 'd', '--fleet-join-wait', '500ms'],
      ROUND_ROBIN,
    );
    fx.onCleanup(() => d.stop());
    const served = [await get(d.url, '/vod/late/seg-1.m4s'), await get(d.url, '/vod/late/seg-2.m4s')];
    expect(new Set(served.map((x) => x.worker))).toEqual(new Set(['0', '1']));
    for (const x of served) expect(x.status).toBe(200);
    const h = await get(d.url, '/_edge/health');
    expect(h.status).toBe(200);
    expect(h.body.toString()).toMatch(/not joined: NATS unreachable/);
    const p = await purge(d.url, { url: '/vod/late/seg-1.m4s' });
    expect(p.status).toBe(503);
    expect(String(p.json['error'])).toMatch(/has not joined the fleet yet/);

    await late.start();
    await waitFor(
      'the edge to join the fleet',
      async () => {
        const x = JSON.parse((await get(d.url, '/_edge/health', { headers: auth })).body.toString()) as FleetHealth;
        return x.fleet?.members.some((m) => m.url === d.url) === true && x.fleet.purge.state === 'caught-up';
      },
      20_000,
    );
    expect((await purge(d.url, { url: '/vod/late/seg-1.m4s' })).status).toBe(200);
  });

  it('keys rotated through KV, and the fleet credential, reach every worker', async () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const jwk = { ...privateKey.export({ format: 'jwk' }), kid: 'kid-w', alg: 'ES256' };
    const file = join(fx.dir, 'kid-w.jwk');
    writeFileSync(file, JSON.stringify(jwk));
    const c = await startSupervisedEdge(
      fx.origin.url,
      2,
      ['--nats', fx.nats.url, '--pop', 'keys', '--name', 'c', '--require-signed', '--fleet-keys', '--fleet-credential'],
      ROUND_ROBIN,
    );
    fx.onCleanup(() => c.stop());
    const url = new URL(
      signedUrl(
        c.url,
        '/vod/keys/seg-1.m4s',
        await issueToken({ scope: '/vod/keys/', ttlSec: 600, key: await signingKeyFromJwk(jwk) }),
      ),
    );
    const path = url.pathname + url.search;
    const refused = [await get(c.url, path), await get(c.url, path), await get(c.url, path)];
    expect(new Set(refused.map((x) => x.worker))).toEqual(new Set(['0', '1']));
    for (const x of refused) expect(x.status).toBe(403); // nothing published yet

    const admin = await FleetConnection.open({ url: fx.nats.url });
    fx.onCleanup(() => admin.close());
    await addFleetKey(await openKeysBucket(admin), await verificationJwkFromKeyFile(file));
    const accepted = new Set<string>();
    await waitFor('both workers to accept kid-w', async () => {
      const x = await get(c.url, path);
      if (x.status === 200 && x.worker !== undefined) accepted.add(x.worker);
      return accepted.size === 2;
    });
    // the kids health reports are the supervisor's: its report reaches the workers with its next
    // state push (checked every 250 ms), which may come after the workers' own key sources took kid-w
    await waitFor('health to list kid-w', async () => {
      const h = await get(c.url, '/_edge/health', { headers: auth });
      return h.body.toString().includes('kid-w');
    });

    // the fleet's upstream credential (what peers and lower tiers present) reaches every worker too
    const credential = 'fleet-upstream-credential-0123456789';
    const byCredential = () =>
      get(c.url, '/vod/keys/seg-2.m4s', { headers: { [UPSTREAM_CREDENTIAL_HEADER]: credential } });
    expect((await byCredential()).status).toBe(403);
    await setFleetCredential(await openKeysBucket(admin), credential);
    const trusted = new Set<string>();
    await waitFor('both workers to trust the fleet credential', async () => {
      const x = await byCredential();
      if (x.status === 200 && x.worker !== undefined) trusted.add(x.worker);
      return trusted.size === 2;
    });
  });
});
