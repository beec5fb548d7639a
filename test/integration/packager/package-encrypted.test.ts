/**
 * `package --encrypt` through the real CLI and ffmpeg, served by a real origin with
 * `--content-keys`: the manifests signal the scheme and key id (HLS EXT-X-KEY / EXT-X-SESSION-KEY,
 * DASH ContentProtection, schema-valid), the origin hands the key out only for assets encrypted
 * with it (raw for HLS, a W3C Clear Key license for DASH), never cached, and bad options are
 * refused before anything is published.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixture } from '../../../media-fixtures/generate.js';
import { createOrigin, type Origin } from '../../../packager/origin/server.js';
import { CLEARKEY_SYSTEM_ID, readContentKeys } from '../../../src/cenc/content-keys.js';
import { createVerifier, hmacKeys, issueToken, signedUrl } from '../../../src/signing/index.js';
import { randomBytes } from 'node:crypto';
import { parseCacheStatus } from '../../../src/http/cache-status.js';
import { startEdge } from '../edge/helpers.js';
import { validateMpd } from '../../support/xml-validate.js';
import { listing, oneLine, runCli } from './cli-run.js';

const KID = '0123456789abcdef0123456789abcdef';
const KEY = '00112233445566778899aabbccddeeff';
const OTHER_KID = 'fedcba9876543210fedcba9876543210';
let dir = '';
let keysFile = '';
let origin: Origin;
let base = '';

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'streamedge-encrypted-'));
  keysFile = join(dir, 'keys.json');
  writeFileSync(
    keysFile,
    JSON.stringify({
      keys: [
        { kid: KID, key: KEY },
        { kid: OTHER_KID, key: 'ffeeddccbbaa99887766554433221100' },
      ],
    }),
  );
  const input = await fixture('small');
  const common = ['--out', join(dir, 'root'), '--ladder', 'small', '--content-keys', keysFile];
  for (const [id, extra] of [
    ['a', ['--encrypt', 'cbcs']],
    ['c', ['--encrypt', 'cenc', '--key-id', OTHER_KID]],
  ] as const) {
    const r = await runCli(['package', input, '--id', id, ...common, ...extra]);
    expect(r.code, r.stderr).toBe(0);
  }
  const clear = await runCli(['package', input, '--id', 'b', '--out', join(dir, 'root'), '--ladder', 'small']);
  expect(clear.code, clear.stderr).toBe(0);
  origin = await createOrigin({
    root: join(dir, 'root'),
    logger: false,
    processMetrics: false,
    contentKeys: readContentKeys(keysFile),
  });
  base = await origin.listen(0, '127.0.0.1');
}, 180_000);

afterAll(async () => {
  await origin?.close();
  rmSync(dir, { recursive: true, force: true });
});

const text = async (path: string) => (await fetch(`${base}${path}`)).text();

describe('manifests', () => {
  it('HLS: the multivariant playlist has EXT-X-SESSION-KEY, every media playlist EXT-X-KEY before its map', async () => {
    const master = await text('/vod/a/master.m3u8');
    expect(master).toMatch(/^#EXT-X-VERSION:5$/m);
    expect(master).toContain(
      `#EXT-X-SESSION-KEY:METHOD=SAMPLE-AES,URI="v1/keys/${KID}",KEYFORMAT="identity",KEYFORMATVERSIONS="1"`,
    );
    for (const r of ['360p', '240p', 'audio']) {
      const media = await text(`/vod/a/v1/${r}/index.m3u8`);
      const key = media.indexOf(`#EXT-X-KEY:METHOD=SAMPLE-AES,URI="../keys/${KID}",KEYFORMAT="identity"`);
      expect(key, r).toBeGreaterThan(0);
      expect(key).toBeLessThan(media.indexOf('#EXT-X-MAP'));
    }
    expect(await text('/vod/a/v1/360p/iframes.m3u8')).toContain('#EXT-X-KEY:METHOD=SAMPLE-AES,');
    // cenc is SAMPLE-AES-CTR; a clear asset has no key tag at all
    expect(await text('/vod/c/v1/360p/index.m3u8')).toContain(
      `#EXT-X-KEY:METHOD=SAMPLE-AES-CTR,URI="../keys/${OTHER_KID}"`,
    );
    expect(await text('/vod/b/v1/360p/index.m3u8')).not.toContain('EXT-X-KEY');
    expect(await text('/vod/b/master.m3u8')).not.toContain('EXT-X-SESSION-KEY');
  });

  it('DASH: each AdaptationSet names the scheme, the default KID and the Clear Key license, and the MPD is schema-valid', async () => {
    for (const [id, scheme, kid] of [
      ['a', 'cbcs', KID],
      ['c', 'cenc', OTHER_KID],
    ]) {
      const mpd = await text(`/vod/${id}/manifest.mpd`);
      const v = await validateMpd(mpd);
      expect(v.errors).toBe('');
      const uuid = `${kid.slice(0, 8)}-${kid.slice(8, 12)}-${kid.slice(12, 16)}-${kid.slice(16, 20)}-${kid.slice(20)}`;
      const sets = [...mpd.matchAll(/<AdaptationSet[\s\S]*?<\/AdaptationSet>/g)].map((m) => m[0]);
      expect(sets).toHaveLength(2);
      for (const s of sets) {
        expect(s).toContain(
          `<ContentProtection schemeIdUri="urn:mpeg:dash:mp4protection:2011" value="${scheme}" cenc:default_KID="${uuid}"/>`,
        );
        expect(s).toContain('schemeIdUri="urn:uuid:e2719d58-a985-b3c9-781a-b030af78d30e"');
        expect(s).toContain('<dashif:Laurl Lic_type="EME-1.0">keys/clearkey</dashif:Laurl>');
        // the Clear Key pssh is in the init segments, not in the MPD (dash.js mistakes it there)
        expect(s).not.toContain('cenc:pssh');
        const init = Buffer.from(await (await fetch(`${base}/vod/${id}/v1/360p/init.mp4`)).arrayBuffer());
        const pssh = Buffer.concat([
          Buffer.from('pssh'),
          Buffer.from([1, 0, 0, 0]),
          Buffer.from(CLEARKEY_SYSTEM_ID, 'hex'),
        ]);
        expect(init.includes(Buffer.concat([pssh, Buffer.from([0, 0, 0, 1]), Buffer.from(kid, 'hex')]))).toBe(true);
      }
    }
    expect(await text('/vod/b/manifest.mpd')).not.toContain('ContentProtection');
  });
});

describe('keys', () => {
  it('the raw key (HLS identity) at any keys/ beside a manifest of the asset, never cached', async () => {
    for (const path of [`/vod/a/keys/${KID}`, `/vod/a/v1/keys/${KID}`]) {
      const r = await fetch(`${base}${path}`);
      expect(r.status, path).toBe(200);
      expect(r.headers.get('content-type')).toBe('application/octet-stream');
      expect(r.headers.get('cache-control')).toBe('private, no-store');
      expect(Buffer.from(await r.arrayBuffer()).toString('hex')).toBe(KEY);
    }
    const head = await fetch(`${base}/vod/a/keys/${KID}`, { method: 'HEAD' });
    expect(head.status).toBe(200);
  });

  it('a key only for the assets encrypted with it', async () => {
    // the clear asset, and the other encrypted asset, do not open this key
    for (const path of [
      `/vod/b/keys/${KID}`,
      `/vod/c/keys/${KID}`,
      `/vod/a/keys/${OTHER_KID}`,
      `/vod/nope/keys/${KID}`,
    ]) {
      const r = await fetch(`${base}${path}`);
      expect(r.status, path).toBe(404);
      expect(r.headers.get('cache-control')).toBe('no-store');
      expect((await r.json()) as unknown).toEqual({ error: expect.stringMatching(/no content key .* for this asset/) });
    }
    expect((await fetch(`${base}/vod/c/keys/${OTHER_KID}`)).status).toBe(200);
    expect((await fetch(`${base}/vod/a/keys/not-a-kid`)).status).toBe(400);
    // the record of which key a version uses is never served
    expect((await fetch(`${base}/vod/a/v1/.protection.json`)).status).toBe(404);
  });

  it('a W3C Clear Key license for the key ids a CDM asks for', async () => {
    const kid64 = Buffer.from(KID, 'hex').toString('base64url');
    const r = await fetch(`${base}/vod/a/keys/clearkey`, {
      method: 'POST',
      body: JSON.stringify({ kids: [kid64], type: 'temporary' }),
    });
    expect(r.status).toBe(200);
    expect(r.headers.get('cache-control')).toBe('private, no-store');
    expect(await r.json()).toEqual({
      keys: [{ kty: 'oct', kid: kid64, k: Buffer.from(KEY, 'hex').toString('base64url') }],
      type: 'temporary',
    });
    const other = Buffer.from(OTHER_KID, 'hex').toString('base64url');
    const wrong = await fetch(`${base}/vod/a/keys/clearkey`, {
      method: 'POST',
      body: JSON.stringify({ kids: [other] }),
    });
    expect(wrong.status).toBe(404);
    for (const body of ['', 'not json', '{"kids":[]}', '{"kids":[42]}', '{"kids":["short"]}']) {
      const bad = await fetch(`${base}/vod/a/keys/clearkey`, { method: 'POST', body });
      expect(bad.status, body).toBe(400);
      expect(((await bad.json()) as { error: string }).error).toMatch(/Clear Key license request|key id/);
    }
    const huge = await fetch(`${base}/vod/a/keys/clearkey`, { method: 'POST', body: 'x'.repeat(10_000) });
    expect(huge.status).toBe(413);
    // the key service's traffic and refusals are counted apart from the media's
    const metrics = await text('/metrics');
    expect(metrics).toMatch(/streamedge_origin_requests_total\{route="vod-license",status="200"\} [1-9]/);
    expect(metrics).toMatch(/streamedge_origin_requests_total\{route="vod-license",status="400"\} [5-9]/);
    expect(metrics).toMatch(/streamedge_origin_requests_total\{route="vod-key",status="200"\} [1-9]/);
  });

  it('through an edge: keys and licenses pass uncached, and the license preflight allows POST', async () => {
    const e = await startEdge({ upstream: base });
    try {
      for (const n of [1, 2]) {
        const r = await fetch(`${e.url}/vod/a/keys/${KID}`);
        expect(r.status, `request ${n}`).toBe(200);
        expect(Buffer.from(await r.arrayBuffer()).toString('hex')).toBe(KEY);
        const status = parseCacheStatus(r.headers.get('cache-status') ?? undefined);
        expect(status[0]?.hit, `request ${n}`).toBeFalsy();
        expect(status[0]?.stored, `request ${n}`).toBeFalsy();
      }
      const kid64 = Buffer.from(KID, 'hex').toString('base64url');
      const lic = await fetch(`${e.url}/vod/a/keys/clearkey`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ kids: [kid64] }),
      });
      expect(lic.status).toBe(200);
      const preflight = (path: string, method: string) =>
        fetch(`${e.url}${path}`, {
          method: 'OPTIONS',
          headers: {
            origin: 'https://player.example',
            'access-control-request-method': method,
            'access-control-request-headers': 'content-type',
          },
        });
      const pre = await preflight('/vod/a/keys/clearkey', 'POST');
      expect(pre.status).toBe(204);
      expect(pre.headers.get('access-control-allow-methods')).toBe('POST, OPTIONS');
      expect(pre.headers.get('access-control-allow-headers')).toBe('content-type');
      // the media paths still allow reads only
      const media = await preflight('/vod/a/master.m3u8', 'GET');
      expect(media.headers.get('access-control-allow-methods')).toBe('GET, HEAD, OPTIONS');
    } finally {
      await e.close();
    }
  });

  it('with signed URLs required, a key needs a token whose scope covers the asset', async () => {
    const { signing, verification } = await hmacKeys(randomBytes(48));
    const signed = await createOrigin({
      root: join(dir, 'root'),
      logger: false,
      processMetrics: false,
      contentKeys: readContentKeys(keysFile),
      signing: { verifier: createVerifier({ keys: [verification] }) },
    });
    try {
      const url = await signed.listen(0, '127.0.0.1');
      const forA = await issueToken({ scope: '/vod/a/', ttlSec: 600, key: signing });
      const forB = await issueToken({ scope: '/vod/b/', ttlSec: 600, key: signing });
      const path = `/vod/a/keys/${KID}`;
      expect((await fetch(`${url}${path}`)).status).toBe(403);
      expect((await fetch(signedUrl(url, path, forB, 'path'))).status).toBe(403);
      const ok = await fetch(signedUrl(url, path, forA, 'query'));
      expect(ok.status).toBe(200);
      expect(Buffer.from(await ok.arrayBuffer()).toString('hex')).toBe(KEY);
      const kid64 = Buffer.from(KID, 'hex').toString('base64url');
      const license = (token?: string) =>
        fetch(token ? signedUrl(url, '/vod/a/keys/clearkey', token, 'path') : `${url}/vod/a/keys/clearkey`, {
          method: 'POST',
          body: JSON.stringify({ kids: [kid64] }),
        });
      expect((await license()).status).toBe(403);
      expect((await license(forA)).status).toBe(200);
    } finally {
      await signed.close();
    }
  });

  it('an origin without --content-keys hands out nothing, and says why', async () => {
    const bare = await createOrigin({ root: join(dir, 'root'), logger: false, processMetrics: false });
    try {
      const url = await bare.listen(0, '127.0.0.1');
      const r = await fetch(`${url}/vod/a/keys/${KID}`);
      expect(r.status).toBe(404);
      expect(((await r.json()) as { error: string }).error).toMatch(/--content-keys/);
    } finally {
      await bare.close();
    }
  });
});

describe('refused options', () => {
  it('each bad encryption option fails with one line and publishes nothing', async () => {
    const input = await fixture('small');
    const badKeys = join(dir, 'bad-keys.json');
    writeFileSync(badKeys, JSON.stringify({ keys: [{ kid: KID, key: 'abc' }] }));
    const cases: [string[], RegExp][] = [
      [['--encrypt', 'cbcs'], /--encrypt needs --content-keys/],
      [['--encrypt', 'aes128', '--content-keys', keysFile], /--encrypt must be cbcs .* or cenc/],
      [['--content-keys', keysFile], /need --encrypt/],
      [
        ['--encrypt', 'cbcs', '--content-keys', keysFile, '--key-id', '99999999999999999999999999999999'],
        /not in the content key file/,
      ],
      [['--encrypt', 'cbcs', '--content-keys', badKeys], /32 hex digits/],
      [['--encrypt', 'cbcs', '--content-keys', join(dir, 'missing.json')], /cannot read the content key file/],
      [['--encrypt', 'cbcs', '--content-keys', keysFile, '--license-url', 'keys/x'], /absolute http/],
    ];
    for (const [args, message] of cases) {
      const out = join(dir, `refused-${listing(dir).length}`);
      const r = await runCli(['package', input, '--out', out, '--id', 'x', '--ladder', 'small', ...args]);
      expect(r.code, args.join(' ')).toBe(1);
      expect(oneLine(r.stderr)).toMatch(message);
      expect(listing(out)).toEqual([]);
    }
    expect(readFileSync(keysFile, 'utf8')).toContain(KID);
  }, 60_000);
});
