/**
 * Token spellings and logs, through a real signed chain (origin --require-signed ← edge
 * --require-signed, both logging at trace level into captured streams):
 *
 * - origin and edge accept exactly the same spellings: lowercase `token` and `/t/`, also
 *   percent-encoded (`%74oken`, `/%74/`: the same URL by RFC 3986 §6.2.2.2); `TOKEN`, `Token`,
 *   `/T/` and friends are not tokens (403 missing) at either;
 * - a signed origin checks the token before it parses the path: `/vod/a/%ff` unsigned is 403;
 * - no issued token (nor its signature half) appears in any log line of either server, whatever
 *   the spelling, the method or the answer;
 * - over HTTP/2 (the edge's HTTPS port) the playlist rewrite holds too: the token written in, the
 *   length that of the rewritten body.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import pino from 'pino';
import { createOrigin } from '../../../packager/origin/server.js';
import { createEdge } from '../../../edge/server.js';
import {
  es256,
  get,
  hs256,
  sign,
  startStack,
  writeFakeAsset,
  writeJwks,
  type KeyPairFiles,
  type Stack,
} from './signed-helpers.js';
import { LineSink } from '../../support/line-sink.js';
import { h2Frames } from '../../support/h2-frames.js';
import { ReloadingTls } from '../../../src/tls/reloading-tls.js';
import { createSelfSignedCertificate } from '../../../src/tls/self-signed.js';

let dir: string;
let root: string;
let stack: Stack;
let hs: KeyPairFiles;
let es: KeyPairFiles;
let edgeTls: ReloadingTls;
let ca: Buffer;
const originLog = new LineSink();
const edgeLog = new LineSink();
/** Every token this suite issued (each request gets its own, so a leak is traced to its request). */
const issued: string[] = [];
const SEG = '/vod/a/v/seg-1.m4s';
const PLAYLIST = '/vod/a/v/index.m3u8';

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'se-signed-spell-'));
  root = join(dir, 'root');
  mkdirSync(root);
  writeFakeAsset(root, 'a');
  hs = await hs256('hs1');
  es = await es256('es1');
  const jwksFile = join(dir, 'jwks.json');
  writeJwks(jwksFile, [hs, es]);
  const tlsFiles = await createSelfSignedCertificate(join(dir, 'tls'));
  ca = readFileSync(tlsFiles.certFile);
  edgeTls = await ReloadingTls.open(tlsFiles);
  stack = await startStack({
    root,
    jwksFile,
    storeDir: join(dir, 'store'),
    logs: { origin: originLog, edge: edgeLog },
    edgeTls,
  });
});

afterAll(async () => {
  await stack?.close();
  edgeTls?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function token(scope = '/vod/a/', extra: Parameters<typeof sign>[2] = {}): Promise<string> {
  const t = await sign(Math.random() < 0.5 ? hs : es, scope, { sessionId: randomUUID(), ...extra });
  issued.push(t);
  return t;
}

/** A request-target for `path` carrying `t` in one spelling. */
type Spelling = (path: string, t: string) => string;
const ACCEPTED: Array<[string, Spelling]> = [
  ['/t/', (p, t) => `/t/${t}${p}`],
  ['/%74/', (p, t) => `/%74/${t}${p}`],
  ['?token=', (p, t) => `${p}?token=${t}`],
  ['?%74oken=', (p, t) => `${p}?%74oken=${t}`],
  ['?a=1&token=&b=2', (p, t) => `${p}?a=1&token=${t}&b=2`],
  ['?token= (encoded value)', (p, t) => `${p}?token=${t.replace(/\./g, '%2E')}`],
];
const REFUSED: Array<[string, Spelling]> = [
  ['/T/', (p, t) => `/T/${t}${p}`],
  ['/%54/', (p, t) => `/%54/${t}${p}`],
  ['?TOKEN=', (p, t) => `${p}?TOKEN=${t}`],
  ['?Token=', (p, t) => `${p}?Token=${t}`],
  ['?%2574oken=', (p, t) => `${p}?%2574oken=${t}`],
  ['?x=1;token=', (p, t) => `${p}?x=1;token=${t}`],
];

describe('token spellings: origin and edge agree', () => {
  it('accept lowercase token and /t/ (also percent-encoded) with 200 at both', async () => {
    for (const [name, spell] of ACCEPTED) {
      for (const base of [stack.originUrl, stack.edgeUrl]) {
        for (const method of ['GET', 'HEAD'] as const) {
          const r = await get(`${base}${spell(SEG, await token())}`, {}, method);
          expect(r.status, `${name} ${method} ${base}`).toBe(200);
        }
      }
    }
  });

  it('refuse other cases as unsigned (403 missing) at both', async () => {
    for (const [name, spell] of REFUSED) {
      for (const base of [stack.originUrl, stack.edgeUrl]) {
        const r = await get(`${base}${spell(SEG, await token())}`);
        expect(r.status, `${name} ${base}`).toBe(403);
        expect(JSON.parse(r.text), `${name} ${base}`).toEqual({ error: 'forbidden', reason: 'missing' });
      }
    }
  });

  it('a query-placed token on a playlist is written into it (the answer carries it, the logs do not)', async () => {
    for (const base of [stack.originUrl, stack.edgeUrl]) {
      const t = await token();
      const r = await get(`${base}${PLAYLIST}?%74oken=${t}`);
      expect(r.status).toBe(200);
      expect(r.text).toContain(`seg-1.m4s?token=${t}`);
    }
  });

  it('over HTTP/2 too: the token written into the playlist, the length that of the rewritten body', async () => {
    const t = await token();
    const [playlist, segment] = await h2Frames(stack.edgeTlsUrl!, ca, [`${PLAYLIST}?token=${t}`, `/t/${t}${SEG}`]);
    expect(playlist.fields[':status']).toBe('200');
    const text = playlist.body.toString();
    expect(text).toContain(`seg-1.m4s?token=${t}`);
    expect(Number(playlist.fields['content-length'])).toBe(playlist.body.length);
    expect(playlist.fields['cache-control']).toMatch(/private/);
    expect(playlist.fields['etag']).toBeUndefined();
    expect(segment.fields[':status']).toBe('200');
    expect(segment.body.equals(readFileSync(join(root, 'a/v/seg-1.m4s')))).toBe(true);
  });

  it('refused tokens (expired, out of scope) are not logged either', async () => {
    const expired = await token('/vod/a/', { ttlSec: 60, now: new Date(Date.now() - 3_600_000) });
    const elsewhere = await token('/vod/b/');
    for (const base of [stack.originUrl, stack.edgeUrl]) {
      expect((await get(`${base}/t/${expired}${SEG}`)).status).toBe(403);
      expect((await get(`${base}${SEG}?token=${elsewhere}`)).status).toBe(403);
      expect((await get(`${base}/T/${expired}${SEG}?TOKEN=${elsewhere}`)).status).toBe(403);
    }
  });
});

describe('a signed origin checks the token before it parses the path', () => {
  it('/vod/a/%ff unsigned is 403 at origin and edge; an unsigned origin answers 400', async () => {
    for (const base of [stack.originUrl, stack.edgeUrl]) {
      const r = await get(`${base}/vod/a/%ff`);
      expect(r.status, base).toBe(403);
      expect(JSON.parse(r.text)).toEqual({ error: 'forbidden', reason: 'missing' });
      const t = await token();
      expect((await get(`${base}/t/${t}/vod/a/%ff`)).status, base).toBe(403); // never in scope: not decodable
    }
    const open = await createOrigin({ root, logger: false, processMetrics: false });
    try {
      const base = await open.listen(0, '127.0.0.1');
      const r = await get(`${base}/vod/a/%ff`);
      expect(r.status).toBe(400);
      expect(JSON.parse(r.text)).toEqual({ error: 'malformed percent-encoding in the path' });
      expect((await get(`${base}${SEG}`)).status).toBe(200);
    } finally {
      await open.close();
    }
  });
});

describe('an edge that does not verify (the origin does)', () => {
  it('passes the signed URL on and still redacts it in its own log', async () => {
    const passthrough = createEdge({
      upstream: stack.originUrl,
      logger: pino({ level: 'trace' }, edgeLog),
      store: { dir: join(dir, 'store-passthrough'), capacityBytes: 64 * 1024 * 1024, regionBytes: 1024 * 1024 },
    });
    try {
      const base = await passthrough.listen(0, '127.0.0.1');
      expect((await get(`${base}/t/${await token()}${SEG}`)).status).toBe(200);
      expect((await get(`${base}${SEG}?TOKEN=${await token()}`)).status).toBe(403);
    } finally {
      await passthrough.close();
    }
  });
});

describe('tokens never logged', () => {
  it('no issued token, nor its signature, appears in any log line of origin or edge', () => {
    const lines = [...originLog.lines, ...edgeLog.lines];
    expect(issued.length).toBeGreaterThan(30);
    for (const t of issued) {
      const signature = t.split('.')[2];
      for (const l of lines) {
        expect(l.includes(t), `token in: ${l.slice(0, 200)}`).toBe(false);
        expect(l.includes(signature), `signature in: ${l.slice(0, 200)}`).toBe(false);
      }
    }
    // the suite really logged its requests, with the token spot redacted
    expect(originLog.lines.filter((l) => l.includes('"url":"')).length).toBeGreaterThan(20);
    expect(edgeLog.lines.filter((l) => l.includes('"msg":"request"')).length).toBeGreaterThan(20);
    expect(lines.some((l) => l.includes('token=redacted'))).toBe(true);
    expect(lines.some((l) => l.includes('/t/redacted/'))).toBe(true);
  });
});
