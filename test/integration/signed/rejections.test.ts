/**
 * Every rejection case, through the origin and through the edge: 403, the reason code in a short
 * JSON body, no-store, a metric per reason; nothing reaches upstream for a refused request; the
 * token never goes upstream; the edge↔origin credential is what lets the edge in.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT } from 'jose';
import { createEdge } from '../../../edge/server.js';
import { edgeSigningFromCli } from '../../../edge/edge-cli.js';
import {
  UPSTREAM_CREDENTIAL,
  es256,
  get,
  hs256,
  metricValue,
  sign,
  startStack,
  url,
  writeFakeAsset,
  writeJwks,
  type KeyPairFiles,
  type Stack,
} from './signed-helpers.js';

let dir: string;
let stack: Stack;
let hs: KeyPairFiles;
let es: KeyPairFiles;
let segment: Buffer;
const SEG = '/vod/a/v/seg-1.m4s';

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'se-signed-rej-'));
  const root = join(dir, 'root');
  mkdirSync(root);
  ({ segment } = writeFakeAsset(root, 'a'));
  writeFakeAsset(root, 'b');
  hs = await hs256('hs1');
  es = await es256('es1');
  const jwksFile = join(dir, 'jwks.json');
  writeJwks(jwksFile, [hs, es]);
  stack = await startStack({ root, jwksFile, storeDir: join(dir, 'store') });
});

afterAll(async () => {
  await stack?.close();
  rmSync(dir, { recursive: true, force: true });
});

function b64(x: unknown): string {
  return Buffer.from(JSON.stringify(x)).toString('base64url');
}

/** name → a token that must be refused for exactly that reason on SEG. */
async function badTokens(): Promise<Array<[string, string]>> {
  const now = Math.floor(Date.now() / 1000);
  const otherHs = await hs256('hs1'); // same kid, another secret
  const stranger = await es256('nobody-knows-me');
  return [
    ['bad_signature', await sign(otherHs, '/vod/a/')],
    ['bad_signature', (await sign(es, '/vod/a/')).replace(/.{4}$/, 'AAAA')],
    ['expired', await sign(hs, '/vod/a/', { ttlSec: 60, now: new Date((now - 3600) * 1000) })],
    ['not_yet_valid', await sign(es, '/vod/a/', { notBeforeSec: 3600, ttlSec: 7200 })],
    ['wrong_scope', await sign(hs, '/vod/b/')],
    ['wrong_scope', await sign(hs, '/vod/a/v/other/')],
    ['wrong_ip', await sign(es, '/vod/a/', { clientIp: '203.0.113.7' })],
    ['unknown_kid', await sign(stranger, '/vod/a/')],
    ['alg_not_allowed', `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ pfx: '/vod/a/', exp: now + 600 })}.`],
    [
      'alg_not_allowed',
      await new SignJWT({ pfx: '/vod/a/' })
        .setProtectedHeader({ alg: 'HS512', kid: 'hs1' })
        .setExpirationTime(now + 600)
        .sign(new Uint8Array(64)),
    ],
    ['malformed', 'not-a-token'],
    ['malformed', `${b64({ alg: 'HS256', kid: 'hs1' })}.%%%.abc`],
    [
      'malformed',
      await new SignJWT({ exp: now + 600 })
        .setProtectedHeader({ alg: 'HS256', kid: 'hs1' })
        .sign(hs.signing.material()),
    ], // no scope claim
  ];
}

describe('signed URLs: every rejection case', () => {
  it('a valid token is accepted by origin and edge, path and query placement, bytes intact', async () => {
    const t = await sign(es, '/vod/a/');
    for (const base of [stack.originUrl, stack.edgeUrl]) {
      for (const placement of ['path', 'query'] as const) {
        const r = await get(url(base, SEG, t, placement));
        expect(r.status, `${base} ${placement}`).toBe(200);
        expect(r.body.equals(segment)).toBe(true);
      }
    }
    const h = await sign(hs, '/vod/a/', { clientIp: '127.0.0.1' });
    expect((await get(url(stack.edgeUrl, SEG, h))).status).toBe(200);
    expect((await get(url(stack.originUrl, SEG, h))).status).toBe(200);
  });

  it('the origin answers 403 with the reason for each bad token (and without a token), counted by reason', async () => {
    const cases: Array<[string, string | undefined]> = [...(await badTokens()), ['missing', undefined]];
    const before = new Map<string, number>();
    for (const [reason] of cases)
      before.set(
        reason,
        await metricValue(`${stack.originUrl}/metrics`, `origin_signed_rejections_total{reason="${reason}"}`),
      );
    for (const [reason, token] of cases) {
      for (const placement of ['path', 'query'] as const) {
        const r = await get(
          token === undefined ? `${stack.originUrl}${SEG}` : url(stack.originUrl, SEG, token, placement),
        );
        expect(r.status, `${reason} (${placement})`).toBe(403);
        expect(JSON.parse(r.text), `${reason} (${placement})`).toEqual({ error: 'forbidden', reason });
        expect(r.headers['cache-control']).toBe('no-store');
        expect(r.headers['access-control-allow-origin']).toBe('*'); // a browser player can read why
      }
    }
    for (const [reason] of cases) {
      const n = cases.filter(([r]) => r === reason).length * 2;
      expect(
        await metricValue(`${stack.originUrl}/metrics`, `origin_signed_rejections_total{reason="${reason}"}`),
        reason,
      ).toBe(before.get(reason)! + n);
    }
  });

  it('the edge answers 403 with the reason for each bad token, counts it, and sends nothing upstream', async () => {
    const cases: Array<[string, string | undefined]> = [...(await badTokens()), ['missing', undefined]];
    const upstreamBefore = stack.proxy.seen.length;
    const metrics = `${stack.edgeUrl}/_edge/metrics`;
    const before = new Map<string, number>();
    for (const [reason] of cases)
      before.set(reason, await metricValue(metrics, `edge_signed_rejections_total{reason="${reason}"}`));
    for (const [reason, token] of cases) {
      for (const placement of ['path', 'query'] as const) {
        // a segment and a manifest: the same gate before the cache, whatever the object
        for (const path of [SEG, '/vod/a/master.m3u8']) {
          const r = await get(
            token === undefined ? `${stack.edgeUrl}${path}` : url(stack.edgeUrl, path, token, placement),
          );
          expect(r.status, `${reason} (${placement}) ${path}`).toBe(403);
          expect(JSON.parse(r.text), `${reason} (${placement})`).toEqual({ error: 'forbidden', reason });
          expect(r.headers['cache-control']).toBe('no-store');
        }
      }
    }
    expect(stack.proxy.seen.length).toBe(upstreamBefore);
    for (const [reason] of cases) {
      const n = cases.filter(([r]) => r === reason).length * 4;
      expect(await metricValue(metrics, `edge_signed_rejections_total{reason="${reason}"}`), reason).toBe(
        before.get(reason)! + n,
      );
    }
  });

  it('garbage never makes a 500: odd tokens, odd paths, odd encodings', async () => {
    const t = await sign(hs, '/vod/a/');
    const odd = [
      `/t/${'A'.repeat(5000)}${SEG}`,
      `/t/%ZZ${SEG}`,
      `/t/${t}/vod/a/../b/v/seg-1.m4s`,
      `/t/${t}/vod/a/%2e%2e/b/v/seg-1.m4s`,
      `/t/${t}/vod/a/v%2fseg-1.m4s`,
      `/t/${t}`,
      `/t/`,
      `${SEG}?token=`,
      `${SEG}?token=${t}&token=x`,
      `${SEG}?token=%E0%A4%A`,
    ];
    for (const base of [stack.originUrl, stack.edgeUrl]) {
      for (const p of odd) {
        const r = await get(`${base}${p}`);
        expect(r.status, `${base}${p.slice(0, 80)}`).toBeLessThan(500);
        if (p.includes('/b/')) expect(r.status).toBe(403); // no escape from the scope
      }
    }
  });

  it('the token never goes upstream; the edge authenticates with the upstream credential instead', async () => {
    const t = await sign(hs, '/vod/a/', { viewerId: 'viewer-1' });
    const from = stack.proxy.seen.length;
    expect((await get(url(stack.edgeUrl, '/vod/a/v/init.mp4', t))).status).toBe(200);
    expect((await get(url(stack.edgeUrl, '/vod/a/v/index.m3u8', t, 'query'))).status).toBe(200);
    const sent = stack.proxy.seen.slice(from);
    expect(sent.map((s) => s.url).sort()).toEqual(['/vod/a/v/index.m3u8', '/vod/a/v/init.mp4']);
    for (const s of sent) {
      expect(s.url).not.toContain(t);
      expect(JSON.stringify(s.headers)).not.toContain(t);
      expect(s.headers['x-streamedge-upstream-credential']).toBe(UPSTREAM_CREDENTIAL);
    }
  });

  it('the origin accepts the upstream credential instead of a token, and refuses a wrong one', async () => {
    const ok = await get(`${stack.originUrl}${SEG}`, { 'x-streamedge-upstream-credential': UPSTREAM_CREDENTIAL });
    expect(ok.status).toBe(200);
    const wrong = await get(`${stack.originUrl}${SEG}`, {
      'x-streamedge-upstream-credential': `${UPSTREAM_CREDENTIAL}x`,
    });
    expect(wrong.status).toBe(403);
    expect(JSON.parse(wrong.text).reason).toBe('missing');
    // unsigned paths stay open
    expect((await get(`${stack.originUrl}/health`)).status).toBeLessThan(500);
    expect((await get(`${stack.originUrl}/time`)).status).toBe(200);
    expect((await get(`${stack.edgeUrl}/time`)).status).toBe(200);
    // the HLS Steering Manifest too (a signed playlist's relative SERVER-URI has no token): this
    // origin steers nothing, so its 404 comes through where a token check would answer 403
    const steering = await get(`${stack.edgeUrl}/steering?_HLS_pathway=.`);
    expect(steering.status).toBe(404);
    // and the DASH one (an MPD's ContentSteering URL has none either)
    expect((await get(`${stack.edgeUrl}/steering/dash?_DASH_pathway=%22a%22`)).status).toBe(404);
    // a path that only starts like it is not open
    expect((await get(`${stack.edgeUrl}/steering/dash/x`)).status).toBe(403);
  });

  it('an edge with the wrong upstream credential is refused by the origin (tiers must authenticate)', async () => {
    const e = (await edgeSigningFromCli(
      { requireSigned: true, jwksFile: [join(dir, 'jwks.json')], jwksUrl: [], publicKeyFile: [] },
      'a-different-credential-xyz',
      {},
    ))!;
    const edge = createEdge({
      upstream: stack.originUrl,
      logLevel: 'silent',
      signedAccess: e.access,
      upstreamCredential: 'a-different-credential-xyz',
    });
    const u = await edge.listen(0, '127.0.0.1');
    try {
      const r = await get(url(u, '/vod/a/v/init.mp4', await sign(hs, '/vod/a/')));
      expect(r.status).toBe(403);
      expect(JSON.parse(r.text).reason).toBe('missing'); // the origin's answer: the edge stripped the token
    } finally {
      await edge.close();
      e.close();
    }
  });
});
