/**
 * The real CLIs: `streamedge origin --require-signed` with POST /_sign behind its own credential,
 * `streamedge edge --require-signed` in front of it with the upstream credential; a URL issued
 * by /_sign plays through the edge; keys, credentials and tokens never appear in any log line.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { request } from 'undici';
import { get, writeFakeAsset } from './signed-helpers.js';

let dir: string;
const children: ChildProcess[] = [];
const output: string[] = [];
const secret = randomBytes(48).toString('base64');
const signCredential = randomBytes(24).toString('base64url');
const upstreamCredential = randomBytes(24).toString('base64url');
let originUrl: string;
let edgeUrl: string;
let segment: Buffer;

/** Starts a CLI child and resolves with the first match of `ready` in its output. */
function start(args: string[], ready: RegExp): Promise<string> {
  const child = spawn(process.execPath, ['bin/streamedge.js', ...args], {
    cwd: process.cwd(),
    env: { ...process.env, STREAMEDGE_SIGNING_SECRET: '' },
  });
  children.push(child);
  return new Promise((resolve, reject) => {
    let seen = '';
    const onData = (c: Buffer) => {
      output.push(c.toString());
      seen += c.toString();
      const m = ready.exec(seen);
      if (m) resolve(m[1]);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) => reject(new Error(`${args[0]} exited ${code}: ${seen}`)));
  });
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'se-signed-cli-'));
  const root = join(dir, 'root');
  mkdirSync(root);
  ({ segment } = writeFakeAsset(root, 'a'));
  const file = (name: string, value: string) => {
    const p = join(dir, name);
    writeFileSync(p, `${value}\n`, { mode: 0o600 });
    return p;
  };
  const secretFile = file('secret', secret);
  const credFile = file('sign-credential', signCredential);
  const upFile = file('upstream-credential', upstreamCredential);
  originUrl = await start(
    [
      'origin',
      '--root',
      root,
      '--port',
      '0',
      '--require-signed',
      '--secret-file',
      secretFile,
      '--secret-kid',
      'main',
      '--sign-credential-file',
      credFile,
      '--upstream-credential-file',
      upFile,
      '--log-level',
      'debug',
    ],
    /origin listening on (http:\/\/\S+)/,
  );
  edgeUrl = await start(
    [
      'edge',
      '--upstream',
      originUrl,
      '--workers',
      '1',
      '--port',
      '0',
      '--store',
      join(dir, 'store'),
      '--require-signed',
      '--secret-file',
      secretFile,
      '--secret-kid',
      'main',
      '--upstream-credential-file',
      upFile,
      '--log-level',
      'debug',
    ],
    /"url":"(http:\/\/[^"]+)"[^\n]*edge listening/,
  );
}, 55_000);

afterAll(async () => {
  await Promise.all(
    children.map(
      (c) =>
        new Promise<void>((resolve) => {
          if (c.exitCode !== null) return resolve();
          c.once('exit', () => resolve());
          c.kill('SIGTERM');
        }),
    ),
  );
  rmSync(dir, { recursive: true, force: true });
});

/** The /_sign reply (on success). */
interface SignReply {
  url: string;
  token: string;
  scope: string;
}

async function postSign(body: unknown, auth?: string): Promise<{ status: number; json: SignReply }> {
  const res = await request(`${originUrl}/_sign`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(auth !== undefined ? { authorization: auth } : {}) },
    body: JSON.stringify(body),
  });
  return { status: res.statusCode, json: (await res.body.json()) as SignReply };
}

describe('streamedge origin/edge --require-signed (CLI)', () => {
  it('POST /_sign needs its own credential, and the URL it issues plays through the edge', async () => {
    expect((await postSign({ path: '/vod/a/master.m3u8' })).status).toBe(401);
    expect((await postSign({ path: '/vod/a/master.m3u8' }, `Bearer ${upstreamCredential}`)).status).toBe(401); // not the upstream one
    const issued = await postSign({ path: '/vod/a/master.m3u8', ttl: '10m', viewer: 'v1' }, `Bearer ${signCredential}`);
    expect(issued.status).toBe(200);
    expect(issued.json.scope).toBe('/vod/a/');
    const master = `${edgeUrl}${issued.json.url}`;
    const m = await get(master);
    expect(m.status).toBe(200);
    const seg = await get(new URL('seg-1.m4s', new URL('v/index.m3u8', master)).href); // resolved as a player would
    expect(seg.status).toBe(200);
    expect(seg.body.equals(segment)).toBe(true);
    // the same token straight at the origin works too; a tampered one does not
    expect((await get(`${originUrl}${issued.json.url}`)).status).toBe(200);
    // change one whole base64url character of the signature: the last one also carries 2 unused bits,
    // which decoders ignore, so rewriting the last two as "xx" left the signature intact about 1 in 1,024 runs
    const flip = (t: string) => `${t.slice(0, -2)}${t.at(-2) === 'A' ? 'B' : 'A'}${t.at(-1)}`;
    const bad = await get(
      `${edgeUrl}${issued.json.url.replace(/\/t\/([^/]+)\//, (_m, t: string) => `/t/${flip(t)}/`)}`,
    );
    expect(bad.status).toBe(403);
    expect(JSON.parse(bad.text).reason).toBe('bad_signature');
    const q = await postSign({ path: '/vod/a/v/index.m3u8', placement: 'query' }, `Bearer ${signCredential}`);
    const pl = await get(`${edgeUrl}${q.json.url}`);
    expect(pl.status).toBe(200);
    expect(pl.text).toContain(`seg-1.m4s?token=${q.json.token}`);
    output.push(`TOKENS ${issued.json.token} ${q.json.token}`);
  });

  it('no log line carries the secret, a credential or a token', () => {
    const tokens = output.filter((o) => o.startsWith('TOKENS ')).flatMap((o) => o.slice(7).split(' '));
    const logs = output.filter((o) => !o.startsWith('TOKENS ')).join('');
    expect(logs).toContain('"url":"/vod/a/'); // requests were logged (token-free)
    expect(tokens.length).toBe(2);
    for (const s of [secret, signCredential, upstreamCredential, ...tokens]) expect(logs.includes(s)).toBe(false);
    // the signature half alone must not leak either
    for (const t of tokens) expect(logs.includes(t.split('.')[2])).toBe(false);
  });
});
