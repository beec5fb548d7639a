import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FleetConnection } from '../../../src/fleet/nats-connection.js';
import { openKeysBucket } from '../../../src/fleet/keys-bucket.js';
import {
  addFleetKey,
  listFleetKids,
  setFleetCredential,
  verificationJwkFromKeyFile,
  watchFleetCredential,
  withdrawFleetKey,
} from '../../../edge/fleet/fleet-keys.js';
import { KvKeySource } from '../../../src/signing/kv-key-source.js';
import { issueToken } from '../../../src/signing/issue.js';
import { signingKeyFromJwk } from '../../../src/signing/keys.js';
import { createVerifier } from '../../../src/signing/verify.js';
import { originSigningFromCli } from '../../../packager/origin/cli.js';
import { startNatsServer, type NatsServer } from './nats-server.js';
import { waitFor } from './wait.js';

let nats: NatsServer;
let dir: string;
beforeAll(async () => {
  nats = await startNatsServer();
  dir = mkdtempSync(join(tmpdir(), 'fleet-keys-'));
});
afterAll(async () => {
  await nats.close();
  rmSync(dir, { recursive: true, force: true });
});

function privateJwkFile(kid: string): { file: string; jwk: Record<string, unknown> } {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = { ...privateKey.export({ format: 'jwk' }), kid, alg: 'ES256' };
  const file = join(dir, `${kid}.jwk`);
  writeFileSync(file, JSON.stringify(jwk));
  return { file, jwk };
}

describe('fleet keys in a KV bucket (real nats-server)', () => {
  it('a kid rotated in reaches a running verifier without a restart; a withdrawn kid is refused', async () => {
    const admin = await FleetConnection.open({ url: nats.url });
    const edge = await FleetConnection.open({ url: nats.url });
    const kv = await openKeysBucket(edge);
    const logs: string[] = [];
    const keys = await KvKeySource.open(kv, {
      log: { info: (o) => logs.push(JSON.stringify(o)), warn: (o) => logs.push(JSON.stringify(o)) },
    });
    try {
      const verifier = createVerifier({ keys });
      const k1 = privateJwkFile('k1');
      const k2 = privateJwkFile('k2');
      const token = async (k: { jwk: Record<string, unknown> }) =>
        issueToken({ scope: '/vod/', ttlSec: 600, key: await signingKeyFromJwk(k.jwk) });
      const ctx = { path: '/vod/a/seg-1.m4s' };
      expect((await verifier.verify(await token(k1), ctx)).ok).toBe(false); // nothing published yet

      const adminKv = await openKeysBucket(admin);
      const pub1 = await verificationJwkFromKeyFile(k1.file);
      expect(pub1['d']).toBeUndefined(); // only the public part goes to the fleet
      expect(await addFleetKey(adminKv, pub1)).toEqual(['k1']);
      await waitFor('k1 to arrive', () => keys.kids().includes('k1'));
      expect(await verifier.verify(await token(k1), ctx)).toMatchObject({ ok: true });

      // rotate: k2 added beside k1, both accepted
      expect(await addFleetKey(adminKv, await verificationJwkFromKeyFile(k2.file))).toEqual(['k1', 'k2']);
      await waitFor('k2 to arrive', () => keys.kids().includes('k2'));
      expect((await verifier.verify(await token(k2), ctx)).ok).toBe(true);
      expect((await verifier.verify(await token(k1), ctx)).ok).toBe(true);

      // withdraw k1: refused from now on
      const oldToken = await token(k1);
      expect(await withdrawFleetKey(adminKv, 'k1')).toEqual(['k2']);
      await waitFor('k1 to leave', () => !keys.kids().includes('k1'));
      expect(await verifier.verify(oldToken, ctx)).toMatchObject({ ok: false, reason: 'unknown_kid' });
      expect((await verifier.verify(await token(k2), ctx)).ok).toBe(true);
      expect(await listFleetKids(adminKv)).toEqual(['k2']);

      // a broken value keeps the previous keys
      await adminKv.put('jwks', '{"keys": [{"kty": "EC"}]}');
      await waitFor('the bad value to be seen', () => logs.some((l) => l.includes('keeping') || l.includes('EC')));
      expect(keys.kids()).toEqual(['k2']);
      expect((await verifier.verify(await token(k2), ctx)).ok).toBe(true);
      // key material never reaches the log
      expect(logs.join('\n')).not.toContain(String(k2.jwk['d']));
      expect(logs.join('\n')).not.toContain(String(pub1['x']));
    } finally {
      await keys.close();
      await admin.close();
      await edge.close();
    }
  });

  it("the origin's verifier (origin --require-signed --nats … --fleet-keys) follows the fleet's keys", async () => {
    const signed = await originSigningFromCli(
      { requireSigned: true, nats: nats.url, fleetKeys: true, signPlacement: 'path', signMaxTtl: '1h' },
      {},
    );
    const admin = await FleetConnection.open({ url: nats.url });
    try {
      const kv = await openKeysBucket(admin);
      await kv.delete('jwks'); // the previous test left a broken value on purpose
      const k = privateJwkFile('origin-k');
      const token = await issueToken({ scope: '/vod/', ttlSec: 600, key: await signingKeyFromJwk(k.jwk) });
      const verifier = signed.signing.verifier!;
      expect((await verifier.verify(token, { path: '/vod/a/x.m4s' })).ok).toBe(false);
      await addFleetKey(kv, await verificationJwkFromKeyFile(k.file));
      await waitFor(
        'the origin to accept the new kid',
        async () => (await verifier.verify(token, { path: '/vod/a/x.m4s' })).ok,
      );
      await withdrawFleetKey(kv, 'origin-k');
      await waitFor(
        'the origin to refuse the withdrawn kid',
        async () => !(await verifier.verify(token, { path: '/vod/a/x.m4s' })).ok,
      );
    } finally {
      signed.close();
      await admin.close();
    }
  });

  it('the upstream credential follows the bucket; a too-short one is ignored', async () => {
    const conn = await FleetConnection.open({ url: nats.url });
    const kv = await openKeysBucket(conn);
    const seen: Array<string | undefined> = [];
    const warnings: string[] = [];
    const stop = await watchFleetCredential(kv, (c) => seen.push(c), { warn: (_o, m) => warnings.push(m) });
    try {
      await setFleetCredential(kv, 'credential-number-one-0123456789');
      await waitFor('credential 1', () => seen.includes('credential-number-one-0123456789'));
      await kv.put('upstream-credential', 'short');
      await waitFor('the short one refused', () => warnings.length === 1);
      await setFleetCredential(kv, 'credential-number-two-0123456789');
      await waitFor('credential 2', () => seen.at(-1) === 'credential-number-two-0123456789');
      expect(seen).not.toContain('short');
      await expect(setFleetCredential(kv, 'short')).rejects.toThrow(/at least 16/);
    } finally {
      await stop();
      await conn.close();
    }
  });
});
