import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { authorizeRequest, createVerifier } from '../../../src/signing/verify.js';
import { asymmetricPair, hmacPair } from '../../unit/signing/test-keys.js';

const run = promisify(execFile);
const root = join(import.meta.dirname, '../../..');
const dir = mkdtempSync(join(tmpdir(), 'signing-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function cli(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const cleanEnv = { ...process.env, ...env };
  if (!('STREAMEDGE_SIGNING_SECRET' in env)) delete cleanEnv.STREAMEDGE_SIGNING_SECRET;
  try {
    const { stdout, stderr } = await run(process.execPath, ['bin/streamedge.js', 'sign', ...args], {
      cwd: root,
      env: cleanEnv,
    });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

describe('streamedge sign', () => {
  it('HS256 from the environment: prints only the signed URL, and it verifies', async () => {
    const hs = await hmacPair();
    const r = await cli(
      ['/vod/asset1/master.m3u8', '--ttl', '2h', '--base', 'https://edge.example', '--viewer', 'v-9'],
      {
        STREAMEDGE_SIGNING_SECRET: hs.secret,
      },
    );
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^https:\/\/edge\.example\/t\/[\w-]+\.[\w-]+\.[\w-]+\/vod\/asset1\/master\.m3u8\n$/);
    const url = r.stdout.trim();
    expect(r.stdout).not.toContain(hs.secret);
    const v = createVerifier({ keys: [hs.verification] });
    const ok = await authorizeRequest(v, url, '127.0.0.1');
    expect(ok).toMatchObject({
      ok: true,
      strippedUrl: 'https://edge.example/vod/asset1/master.m3u8',
      claims: { pfx: '/vod/asset1/', sub: 'v-9' },
    });
    if (ok.ok) expect(ok.claims.exp - ok.claims.iat!).toBe(7200);
    // the scope is the asset directory: a rendition segment is allowed, another asset is not
    const token = url.split('/')[4];
    expect((await authorizeRequest(v, `/t/${token}/vod/asset1/720p/seg-1.m4s`, '127.0.0.1')).ok).toBe(true);
    expect(await authorizeRequest(v, `/t/${token}/vod/asset2/master.m3u8`, '127.0.0.1')).toMatchObject({
      ok: false,
      reason: 'wrong_scope',
    });
  });

  it('ES256 from a private JWK file with --kid, query placement and IP binding', async () => {
    const es = await asymmetricPair('ES256', 'ignored');
    const { kid: _kid, ...priv } = es.privateJwk;
    const keyFile = join(dir, 'es.jwk');
    writeFileSync(keyFile, JSON.stringify(priv));
    const r = await cli([
      '/live/ch1/master.m3u8',
      '--key-file',
      keyFile,
      '--kid',
      'ignored',
      '--placement',
      'query',
      '--ip',
      '198.51.100.4',
      '--scope',
      '/live/',
    ]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^\/live\/ch1\/master\.m3u8\?token=[\w.-]+\n$/);
    const v = createVerifier({ keys: [es.verification] });
    expect(await authorizeRequest(v, r.stdout.trim(), '198.51.100.4')).toMatchObject({
      ok: true,
      placement: 'query',
      claims: { pfx: '/live/', ip: '198.51.100.4' },
    });
    expect(await authorizeRequest(v, r.stdout.trim(), '198.51.100.5')).toMatchObject({ ok: false, reason: 'wrong_ip' });
  });

  it('fails with one clear line on stderr and nothing on stdout', async () => {
    const secretFile = join(dir, 'secret');
    writeFileSync(secretFile, `${'k'.repeat(40)}\n`);
    const cases: Array<[string[], RegExp]> = [
      [['/vod/a/x'], /no signing secret: pass --secret-file <file> or set STREAMEDGE_SIGNING_SECRET/],
      [['/vod/a/x', '--secret-file', secretFile, '--placement', 'header'], /--placement must be "path" or "query"/],
      [['/vod/a/x', '--secret-file', secretFile, '--scope', '/vod/b/'], /outside the scope/],
      [['/vod/a/x', '--secret-file', secretFile, '--ttl', 'forever'], /not a duration/],
      [['/vod/a/x', '--secret-file', secretFile, '--base', 'notaurl'], /--base notaurl: not a URL/],
      [
        ['/vod/a/x', '--secret-file', secretFile, '--base', 'ftp://h'],
        /--base ftp:\/\/h: expected an http or https URL/,
      ],
      [
        ['/vod/a/x', '--secret-file', secretFile, '--base', 'http://h:8080/x?a=1', '--placement', 'query'],
        /no query or fragment/,
      ],
    ];
    for (const [args, re] of cases) {
      const r = await cli(args);
      expect(r.code, args.join(' ')).not.toBe(0);
      expect(r.stdout).toBe('');
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(re);
    }
  });
});
