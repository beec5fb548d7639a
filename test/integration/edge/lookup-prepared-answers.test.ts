/**
 * The full lookup's answer of a RAM-tier entry from the entry's prepared header block
 * (edge/serve-stored.ts, edge/prepared-answers.ts), on HTTP/1.1 (written raw on the socket) and
 * HTTP/2 (one respond): requests the one-write hit path declines (here a request Cache-Control)
 * get the same head as a hit path answer, field for field and in the same order, with Age and
 * Cache-Status following the clock; each is logged whole and counted as a hit. Range, conditional
 * and HEAD requests and a collapsed answer keep the lookup's own head.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEdge } from '../../../edge/server.js';
import { ReloadingTls } from '../../../src/tls/reloading-tls.js';
import { createSelfSignedCertificate } from '../../../src/tls/self-signed.js';
import { h2Get, h2Session } from '../../support/h2-client.js';
import { exchangeRaw, get, jsonLogger, startEdge, startUpstream, type TestEdge, type Upstream } from './helpers.js';

let up: Upstream;
let e: TestEdge;
let clock = Date.now();
const lines: Array<Record<string, unknown>> = [];
const FULL = { 'cache-control': 'max-age=3600' };

beforeAll(async () => {
  up = await startUpstream((req, res) => {
    const body = Buffer.from(`body of ${req.url}\n`);
    res.writeHead(200, {
      'content-type': 'text/plain',
      'cache-control': 'public, max-age=60, stale-while-revalidate=30',
      etag: '"v1"',
      date: new Date(clock).toUTCString(),
      'content-length': String(body.length),
    });
    res.end(body);
  });
  e = await startEdge({ upstream: up.url, name: 'pa', now: () => clock, logger: jsonLogger(lines) });
});

afterAll(async () => {
  await e.close();
  await up.close();
});

async function warm(base: string, path: string): Promise<void> {
  await get(`${base}${path}`);
  await e.edge.whenIdle();
  expect((await get(`${base}${path}`)).headers['cache-status']).toContain('hit'); // now in the RAM tier
}

/** A response's head as sent: field names in order, with the values that differ per answer blanked. */
function headShape(text: string): string[] {
  const head = text.slice(0, text.indexOf('\r\n\r\n')).split('\r\n');
  return head.map((line) => {
    const name = line.split(':')[0].toLowerCase();
    return name === 'x-request-id' || name === 'date' ? `${name}: *` : line;
  });
}

describe('the full lookup answers a RAM-tier entry from its prepared head (HTTP/1.1)', () => {
  it('writes the hit path head, field for field and in order, when a request Cache-Control declines the hit path', async () => {
    await warm(e.url, '/h1.txt');
    const request = (extra: string): string => `GET /h1.txt HTTP/1.1\r\nhost: edge\r\n${extra}\r\n`;
    const body = 'body of /h1.txt\n';
    const hit = await exchangeRaw(e.url, request(''), (t) => t.endsWith(body));
    const full = await exchangeRaw(e.url, request('cache-control: max-age=3600\r\n'), (t) => t.endsWith(body));
    expect(full.text.endsWith(`\r\n\r\n${body}`)).toBe(true);
    // node:http's writeHead would put the listener's fields (timing-allow-origin) first
    expect(headShape(full.text)).toEqual(headShape(hit.text));
    expect(headShape(full.text)).toContain('cache-status: pa; hit; ttl=60');
    expect(up.count('/h1.txt')).toBe(1);
  });

  it('moves Age and the ttl with the clock, logs each answer whole and counts it as a hit', async () => {
    await warm(e.url, '/clock.txt');
    const metric = async (re: RegExp): Promise<number> =>
      Number(re.exec(await e.edge.metrics.registry.metrics())?.[1] ?? 0);
    const hitsBefore = await metric(/^edge_hits_total (\d+)/m);
    const ramBefore = await metric(/^edge_bytes_sent_total\{tier="ram"\} (\d+)/m);
    const linesBefore = lines.length;
    const a = await get(`${e.url}/clock.txt`, { ...FULL, 'x-request-id': 'full-a' });
    clock += 2_500;
    const b = await get(`${e.url}/clock.txt`, { ...FULL, 'x-request-id': 'full-b' });
    expect([a.headers['age'], b.headers['age']]).toEqual(['0', '2']);
    expect([a.headers['cache-status'], b.headers['cache-status']]).toEqual(['pa; hit; ttl=60', 'pa; hit; ttl=57']);
    expect([a.headers['x-request-id'], b.headers['x-request-id']]).toEqual(['full-a', 'full-b']);
    expect(a.body.toString()).toBe('body of /clock.txt\n');
    const logged = lines.slice(linesBefore).filter((l) => l['url'] === '/clock.txt');
    expect(logged.map((l) => [l['reqId'], l['status'], l['result'], l['cacheStatus'], l['bytes']])).toEqual([
      ['full-a', 200, 'hit', 'pa; hit; ttl=60', a.body.length],
      ['full-b', 200, 'hit', 'pa; hit; ttl=57', a.body.length],
    ]);
    expect(logged.every((l) => l['sampled'] === undefined)).toBe(true);
    expect((await metric(/^edge_hits_total (\d+)/m)) - hitsBefore).toBe(2);
    expect((await metric(/^edge_bytes_sent_total\{tier="ram"\} (\d+)/m)) - ramBefore).toBe(2 * a.body.length);
  });

  it('answers within stale-while-revalidate with its detail, and revalidates once', async () => {
    await warm(e.url, '/swr.txt');
    clock += 61_000;
    const r = await get(`${e.url}/swr.txt`, FULL);
    await e.edge.whenIdle();
    expect(r.status).toBe(200);
    expect(r.headers['cache-status']).toBe('pa; hit; ttl=-1; detail=stale-while-revalidate');
    expect(r.headers['age']).toBe('61');
    expect(up.count('/swr.txt')).toBe(2);
  });

  it('keeps the lookup head for Range, conditional and HEAD requests', async () => {
    await warm(e.url, '/keep.txt');
    const part = await get(`${e.url}/keep.txt`, { ...FULL, range: 'bytes=0-3' });
    expect(part.status).toBe(206);
    expect(part.headers['content-range']).toBe('bytes 0-3/18');
    expect(part.body.toString()).toBe('body');
    expect((await get(`${e.url}/keep.txt`, { ...FULL, 'if-none-match': '"v1"' })).status).toBe(304);
    const head = await get(`${e.url}/keep.txt`, FULL, 'HEAD');
    expect(head.status).toBe(200);
    expect(head.body.length).toBe(0);
    expect(head.headers['content-length']).toBe('18');
    expect(head.headers['cache-status']).toMatch(/^pa; hit; ttl=\d+$/);
  });
});

describe('the full lookup answers a RAM-tier entry from its prepared head (HTTP/2)', () => {
  it('sends the hit path fields on the stream, with Age and Cache-Status current', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'edge-prepared-h2-'));
    const files = await createSelfSignedCertificate(join(dir, 'tls'));
    const edgeLines: Array<Record<string, unknown>> = [];
    const edge = createEdge({
      upstream: up.url,
      name: 'pa2',
      tls: await ReloadingTls.open(files),
      now: () => clock,
      logger: jsonLogger(edgeLines),
      store: { dir: join(dir, 'store'), capacityBytes: 64 * 1024 * 1024, regionBytes: 4 * 1024 * 1024 },
    });
    const url = await edge.listen(0, '127.0.0.1');
    const session = await h2Session(url, readFileSync(files.certFile));
    try {
      await h2Get(session, '/h2.txt');
      await edge.whenIdle();
      await h2Get(session, '/h2.txt'); // read into the RAM tier
      const hit = await h2Get(session, '/h2.txt');
      const full = await h2Get(session, '/h2.txt', { ...FULL, 'x-request-id': 'h2-full' });
      clock += 3_000;
      const later = await h2Get(session, '/h2.txt', FULL);
      const fields = (h: Record<string, unknown>): Record<string, unknown> => {
        const out = { ...h };
        delete out['x-request-id'];
        delete out['date'];
        return out;
      };
      expect(full.status).toBe(200);
      expect(full.body.equals(hit.body)).toBe(true);
      expect(fields(full.headers)).toEqual(fields(hit.headers));
      // in the same order: the lookup's own head would put the listener's fields (timing-allow-origin) first
      expect(Object.keys(fields(full.headers))).toEqual(Object.keys(fields(hit.headers)));
      expect(full.headers['x-request-id']).toBe('h2-full');
      expect(full.headers['cache-status']).toBe('pa2; hit; ttl=60');
      expect([later.headers['age'], later.headers['cache-status']]).toEqual(['3', 'pa2; hit; ttl=57']);
      expect(edgeLines.filter((l) => l['reqId'] === 'h2-full').map((l) => l['result'])).toEqual(['hit']);
      expect(up.count('/h2.txt')).toBe(1);
    } finally {
      session.close();
      await edge.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
