/**
 * A purge is never undone by a lower tier: an edge that applied a purge refetches through a shield
 * that has not applied it yet, and still gets the new object (the purge floor makes the shield wait,
 * or bypass its cache when the wait runs out). And keys rotated through KV reach every running edge.
 */
import { generateKeyPairSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { request } from 'undici';
import { startFleetEdge, type FleetEdge } from './fleet-edge.js';
import { runEdge, type EdgeCliOptions } from '../../../edge/edge-cli.js';
import { FleetConnection } from '../../../src/fleet/nats-connection.js';
import { openKeysBucket } from '../../../src/fleet/keys-bucket.js';
import {
  addFleetKey,
  setFleetCredential,
  verificationJwkFromKeyFile,
  withdrawFleetKey,
} from '../../../edge/fleet/fleet-keys.js';
import { issueToken, signedUrl } from '../../../src/signing/issue.js';
import { signingKeyFromJwk } from '../../../src/signing/keys.js';
import { get } from '../edge/helpers.js';
import { useFleetFixture } from './fleet-fixture.js';
import { waitFor } from './wait.js';

const TOKEN = 'fleet-admin-token-0123456789';
const fx = useFleetFixture('fleet-tiers-');

/** An in-process fleet edge; `gate` (when set) holds its purge applications until released. */
async function fleetEdge(
  upstream: string,
  pop: string,
  name: string,
  gate?: { wait: () => Promise<void> },
): Promise<FleetEdge> {
  const e = await startFleetEdge({
    nats: fx.nats.url,
    upstream,
    pop,
    name,
    dir: fx.dir,
    adminToken: TOKEN,
    ...(gate ? { gate } : {}),
  });
  fx.onCleanup(() => e.close());
  await e.fleet.whenReady();
  return e;
}

function purge(url: string, body: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  return request(`${url}/_edge/purge`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
    body: JSON.stringify(body),
  }).then(async (r) => ({ status: r.statusCode, json: (await r.body.json()) as Record<string, unknown> }));
}

describe('a purge is never undone by a lower tier (edge → shield → origin, both in the fleet)', () => {
  it('the edge refetches through a shield that applies the purge late: it gets the new object, not the purged one', async () => {
    let open: () => void = () => undefined;
    let held = new Promise<void>((r) => (open = r));
    let holding = true;
    const gate = { wait: () => (holding ? held : Promise.resolve()) };
    const shield = await fleetEdge(fx.origin.url, 'shield', 'shield1', gate);
    const edge = await fleetEdge(shield.url, 'p1', 'edge1');
    const path = '/vod/tier/seg-1.m4s';
    expect((await get(`${edge.url}${path}`)).body.toString()).toBe(`v1 ${path}`);
    expect(fx.origin.count(path)).toBe(1);

    fx.version = 2;
    const floorBefore = edge.fleet.purgeFloor();
    const answer = purge(edge.url, { url: path });
    await waitFor('the edge to apply the purge', () => edge.fleet.purgeFloor() > floorBefore);
    expect(shield.fleet.purgeFloor()).toBeLessThan(edge.fleet.purgeFloor()); // the shield has not
    // the edge refetches now: the shield must not answer from its stale copy
    const refetch = get(`${edge.url}${path}`);
    let settled = false;
    void refetch.finally(() => (settled = true));
    await waitFor('the refetch to reach the shield', () => fx.origin.count(path) === 1 && !settled);
    open();
    const r = await refetch;
    expect(r.body.toString()).toBe(`v2 ${path}`);
    expect(fx.origin.count(path)).toBe(2);
    const a = await answer;
    expect(a.status).toBe(200);
    expect((a.json['applied'] as string[]).sort()).toEqual([edge.url, shield.url].sort());

    // the shield never applies in time (its wait runs out): it bypasses its cache instead
    holding = true;
    held = new Promise<void>((res) => (open = res));
    fx.version = 3;
    const floor2 = edge.fleet.purgeFloor();
    const answer2 = purge(edge.url, { url: path });
    await waitFor('the edge to apply purge 2', () => edge.fleet.purgeFloor() > floor2);
    const r2 = await get(`${edge.url}${path}`);
    expect(r2.body.toString()).toBe(`v3 ${path}`);
    holding = false;
    open();
    expect((await answer2).status).toBeLessThan(300);
  });
});

describe('keys rotated through KV reach every running edge without a restart', () => {
  it('a new kid is accepted fleet-wide; a withdrawn kid is refused fleet-wide', async () => {
    const keyFile = (kid: string): { file: string; jwk: Record<string, unknown> } => {
      const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const jwk = { ...privateKey.export({ format: 'jwk' }), kid, alg: 'ES256' };
      const file = join(fx.dir, `${kid}.jwk`);
      writeFileSync(file, JSON.stringify(jwk));
      return { file, jwk };
    };
    const base: EdgeCliOptions = {
      upstream: fx.origin.url,
      port: '0',
      host: '127.0.0.1',
      storeSize: '64MB',
      ramSize: '8MB',
      name: 'k',
      negativeTtl: '5s',
      logLevel: 'silent',
      maxUpstream: '64',
      headersTimeout: '10s',
      bodyTimeout: '10s',
      nats: fx.nats.url,
      pop: 'keys',
      requireSigned: true,
      fleetKeys: true,
      fleetCredential: true, // peers of the PoP trust each other with the fleet's upstream credential
    };
    const admin = await FleetConnection.open({ url: fx.nats.url });
    fx.onCleanup(() => admin.close());
    const kv = await openKeysBucket(admin);
    await setFleetCredential(kv, 'fleet-upstream-credential-0123456789');
    const edges = [await runEdge({ ...base, name: 'k1' }), await runEdge({ ...base, name: 'k2' })];
    for (const e of edges) fx.onCleanup(() => e.close());
    const a = keyFile('kid-a');
    const b = keyFile('kid-b');
    const url = async (edge: string, k: { jwk: Record<string, unknown> }) =>
      signedUrl(
        edge,
        '/vod/keys/seg-1.m4s',
        await issueToken({ scope: '/vod/keys/', ttlSec: 600, key: await signingKeyFromJwk(k.jwk) }),
      );
    for (const e of edges) expect((await get(await url(e.url, a))).status).toBe(403); // nothing published

    await addFleetKey(kv, await verificationJwkFromKeyFile(a.file));
    for (const e of edges) await waitFor('kid-a accepted', async () => (await get(await url(e.url, a))).status === 200);
    await addFleetKey(kv, await verificationJwkFromKeyFile(b.file));
    for (const e of edges) await waitFor('kid-b accepted', async () => (await get(await url(e.url, b))).status === 200);
    for (const e of edges) expect((await get(await url(e.url, a))).status).toBe(200); // both during the overlap

    await withdrawFleetKey(kv, 'kid-a');
    for (const e of edges) await waitFor('kid-a refused', async () => (await get(await url(e.url, a))).status === 403);
    for (const e of edges) expect((await get(await url(e.url, b))).status).toBe(200);
    // health lists the kids, never key material
    const h = (
      await (
        await request(`${edges[0].url}/_edge/health`, { headers: { authorization: `Bearer ${TOKEN}` } })
      ).body.text()
    ).toString();
    expect(h).toContain('kid-b');
    expect(h).not.toContain(String(b.jwk['x']));
    expect(h).not.toContain('fleet-upstream-credential');
  });
});
