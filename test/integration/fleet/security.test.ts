import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FleetConnection, natsCredentialFrom, redactNatsUrl } from '../../../src/fleet/nats-connection.js';

import { openKeysBucket } from '../../../src/fleet/keys-bucket.js';
import { PurgeStream } from '../../../edge/fleet/purge-stream.js';
import { startNatsServer, type NatsServer } from './nats-server.js';

const PASSWORD = 'fleet-password-7f3a9c1e2b';
let nats: NatsServer;
let dir: string;
beforeAll(async () => {
  nats = await startNatsServer({ auth: { user: 'edge', password: PASSWORD }, tls: true });
  dir = mkdtempSync(join(tmpdir(), 'fleet-sec-'));
});
afterAll(async () => {
  await nats.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('the fleet authenticates to NATS over TLS (real nats-server)', () => {
  it('without the credential a process can neither purge nor read keys; with it (from a file) it can', async () => {
    const tls = { caFile: nats.caFile! };
    // no credential: refused at connect, so no purge and no key bucket
    const noCred = FleetConnection.open({ url: nats.url, tls });
    await expect(noCred).rejects.toThrow(/cannot connect to NATS at tls:\/\/127\.0\.0\.1:\d+: .*(auth|Authorization)/i);
    // a wrong password: refused too, and the message never carries the password
    const wrong = await FleetConnection.open({
      url: nats.url,
      tls,
      credential: { kind: 'user', user: 'edge', password: 'wrong-password-123456' },
    }).catch((e: unknown) => e as Error);
    expect(wrong).toBeInstanceOf(Error);
    expect((wrong as Error).message).not.toContain('wrong-password');
    // TLS is required by the server config: a client that does not trust the certificate fails
    await expect(
      FleetConnection.open({ url: nats.url, credential: { kind: 'user', user: 'edge', password: PASSWORD } }),
    ).rejects.toThrow(/cannot connect/);

    const pwFile = join(dir, 'nats-password');
    writeFileSync(pwFile, `${PASSWORD}\n`);
    const credential = natsCredentialFrom({ user: 'edge', passwordFile: pwFile }, {});
    const conn = await FleetConnection.open({ url: nats.url, tls, ...(credential ? { credential } : {}) });
    try {
      const kv = await openKeysBucket(conn);
      expect(await kv.get('jwks')).toBeNull();
      const p = await PurgeStream.open(
        conn,
        { member: 'm', consumer: 'sec_m' },
        {
          apply: async () => 0,
          cacheIsEmpty: async () => true,
          loadPosition: async () => undefined,
          savePosition: async () => undefined,
          markAllStale: async () => undefined,
        },
      );
      await p.ready;
      const out = await p.publish([{ kind: 'tag', value: 't', mode: 'hard' }], () => ['m'], 5000);
      expect(out.missing).toEqual([]);
      await p.close();
    } finally {
      await conn.close();
    }
  });

  it('credentials come from files or the environment, never from a URL', async () => {
    expect(natsCredentialFrom({}, { STREAMEDGE_NATS_TOKEN: 'tok-abc' })).toEqual({ kind: 'token', token: 'tok-abc' });
    expect(() => natsCredentialFrom({ user: 'edge' }, {})).toThrow(
      /--nats-password-file or \$STREAMEDGE_NATS_PASSWORD/,
    );
    expect(natsCredentialFrom({}, {})).toBeUndefined();
    await expect(FleetConnection.open({ url: 'nats://u:secret@127.0.0.1:1' })).rejects.toThrow(
      /no credential in the URL/,
    );
    expect(redactNatsUrl('nats://u:secret@h:4222,tls://x@h2:1')).toBe('nats://h:4222,tls://h2:1');
  });
});
