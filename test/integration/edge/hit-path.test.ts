/**
 * The one-write hit path (edge/hit-path.ts) against the full lookup: a fresh RAM-tier hit answers
 * with the same status, headers and body the full lookup writes; Age and Cache-Status follow the
 * clock; a stale entry is not answered from the prepared block; hits are counted under the same
 * Prometheus names and sampled in the access log. On HTTP/1.1 keep-alive GETs the prepared head
 * goes to the socket as bytes (src/http/raw-h1.ts): the wire shows it, pipelined requests are
 * answered in order, and a request that asks to close gets Node's own head and a closed socket.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HIT_LOG_EVERY } from '../../../edge/hit-path.js';
import { createEdge } from '../../../edge/server.js';
import { ReloadingTls } from '../../../src/tls/reloading-tls.js';
import { createSelfSignedCertificate } from '../../../src/tls/self-signed.js';
import { h2Get, h2Session } from '../../support/h2-client.js';
import {
  countH2CompatRequests,
  exchangeRaw,
  get,
  jsonLogger,
  startEdge,
  startUpstream,
  type TestEdge,
  type Upstream,
} from './helpers.js';

let up: Upstream;
let e: TestEdge;
let clock = Date.now();
/** The upstream's version of /gen/… objects (a purge and re-fill brings the next one). */
let generation = 1;
const logLines: Array<Record<string, unknown>> = [];

beforeAll(async () => {
  up = await startUpstream((req, res) => {
    const gen = req.url?.startsWith('/gen/') ? generation : 1;
    // /lang/… bodies name the Accept-Language they were made for (one variant per value)
    const lang = req.url?.startsWith('/lang/') ? ` (${String(req.headers['accept-language'] ?? 'none')})` : '';
    const body = Buffer.from(`${gen > 1 ? `v${gen} ` : ''}body of ${req.url}${lang}\n`);
    res.writeHead(200, {
      'content-type': 'text/plain',
      'cache-control': 'public, max-age=60',
      etag: `"v${gen}"`,
      'surrogate-key': 'k1',
      vary: 'accept-language',
      // the edge's clock is the test's: a Date from the real clock would give the response an age
      date: new Date(clock).toUTCString(),
      'content-length': String(body.length),
    });
    res.end(body);
  });
  e = await startEdge({ upstream: up.url, name: 'hp', now: () => clock, logger: jsonLogger(logLines) });
});

afterAll(async () => {
  await e.close();
  await up.close();
});

/** Headers that differ per response by design. */
function comparable(h: Record<string, string>): Record<string, string> {
  const out = { ...h };
  for (const k of ['x-request-id', 'date', 'connection', 'keep-alive']) delete out[k];
  return out;
}

async function warm(path: string): Promise<void> {
  await get(`${e.url}${path}`);
  await e.edge.whenIdle();
  // the first hit reads the record from its region and keeps it in the RAM tier
  const second = await get(`${e.url}${path}`);
  expect(second.headers['cache-status']).toContain('hit');
}

describe('one-write hit path', () => {
  it('answers requests with CMCD (query argument or headers), keyed without it, each logged whole and counted', async () => {
    await warm('/cmcd.txt');
    await warm('/cmcd.txt?x=1');
    const lines = logLines.length;
    const metric = async (series: string): Promise<number> => {
      const text = await e.edge.metrics.registry.metrics();
      const at = text.split('\n').find((l) => l.startsWith(`${series} `));
      return at === undefined ? 0 : Number(at.slice(series.length + 1));
    };
    const videoBefore = await metric('edge_cmcd_requests_total{ot="v"}');
    const starvedBefore = await metric('edge_cmcd_buffer_starvation_total{ot="none"}');
    const q = (payload: string): string => `CMCD=${encodeURIComponent(payload)}`;
    // (reading the registry moves the hit path's tally into the counters: taken after it)
    let tally = e.edge.metrics.tally.hits;
    const answers = [
      await get(`${e.url}/cmcd.txt?${q('bl=1200,ot=v,sid="s-1"')}`),
      await get(`${e.url}/cmcd.txt?${q('bl=900,ot=v,sid="s-1"')}`),
      await get(`${e.url}/cmcd.txt`, { 'cmcd-session': 'sid="s-1"', 'cmcd-status': 'bs' }),
      await get(`${e.url}/cmcd.txt?${q('ot=v,sid="s-2"')}&x=1`),
      await get(`${e.url}/cmcd.txt?x=1&${q('ot=v,sid="s-2"')}`),
    ];
    expect(answers.map((a) => a.body.toString())).toEqual([
      'body of /cmcd.txt\n',
      'body of /cmcd.txt\n',
      'body of /cmcd.txt\n',
      'body of /cmcd.txt?x=1\n',
      'body of /cmcd.txt?x=1\n',
    ]);
    expect(answers.every((a) => a.headers['cache-status'] === 'hp; hit; ttl=60')).toBe(true);
    expect(e.edge.metrics.tally.hits - tally).toBe(5); // all five on the one-write path
    expect(up.count('/cmcd.txt')).toBe(1);
    expect(up.count('/cmcd.txt?x=1')).toBe(1);
    const logged = logLines.slice(lines).filter((l) => String(l['url']).startsWith('/cmcd.txt'));
    expect(logged.map((l) => l['cmcd'])).toEqual([
      { sid: 's-1', ot: 'v', bl: 1200 },
      { sid: 's-1', ot: 'v', bl: 900 },
      { sid: 's-1', bs: true },
      { sid: 's-2', ot: 'v' },
      { sid: 's-2', ot: 'v' },
    ]);
    expect(logged.every((l) => l['result'] === 'hit' && l['sampled'] === 1)).toBe(true);
    expect((await metric('edge_cmcd_requests_total{ot="v"}')) - videoBefore).toBe(4);
    expect((await metric('edge_cmcd_buffer_starvation_total{ot="none"}')) - starvedBefore).toBe(1);
    // a malformed or repeated argument goes to the full lookup, which answers it the same way
    tally = e.edge.metrics.tally.hits;
    const lookupLines = logLines.length;
    for (const odd of [`${q('ot=v')}&${q('ot=a')}`, `%43MCD=${encodeURIComponent('ot=a,sid="s-3"')}`]) {
      const a = await get(`${e.url}/cmcd.txt?${odd}`);
      expect(a.body.toString()).toBe('body of /cmcd.txt\n');
      expect(a.headers['cache-status']).toBe('hp; hit; ttl=60');
    }
    expect(e.edge.metrics.tally.hits).toBe(tally);
    // the lookup read the percent-encoded name as CMCD too
    expect(logLines.slice(lookupLines).map((l) => l['cmcd'])).toEqual([{ ot: 'a' }, { sid: 's-3', ot: 'a' }]);
  });

  it('answers a RAM hit exactly as the full lookup does (headers, status, body)', async () => {
    await warm('/same.txt');
    const fast = await get(`${e.url}/same.txt`);
    // a request Cache-Control sends the same request through the full lookup (this one allows the entry)
    const hitsBefore = e.edge.metrics.tally.hits;
    const full = await get(`${e.url}/same.txt`, { 'cache-control': 'max-age=3600' });
    expect(e.edge.metrics.tally.hits).toBe(hitsBefore);
    expect(fast.status).toBe(200);
    expect(fast.body.toString()).toBe('body of /same.txt\n');
    expect(full.body.equals(fast.body)).toBe(true);
    expect(comparable(fast.headers)).toEqual(comparable(full.headers));
    expect(fast.headers['cache-status']).toBe('hp; hit; ttl=60');
    expect(fast.headers['vary']).toBe('accept-language');
    expect(fast.headers['timing-allow-origin']).toBe('*');
    expect(fast.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(up.count('/same.txt')).toBe(1);
  });

  it('echoes a sane X-Request-ID and replaces an odd one', async () => {
    await warm('/ids.txt');
    expect((await get(`${e.url}/ids.txt`, { 'x-request-id': 'abc-1' })).headers['x-request-id']).toBe('abc-1');
    expect((await get(`${e.url}/ids.txt`, { 'x-request-id': 'no spaces' })).headers['x-request-id']).not.toBe(
      'no spaces',
    );
  });

  it('moves Age up and the Cache-Status ttl down as the clock moves, from one prepared block', async () => {
    await warm('/clock.txt');
    const a = await get(`${e.url}/clock.txt`);
    clock += 1_500;
    const b = await get(`${e.url}/clock.txt`);
    clock += 10_000;
    const c = await get(`${e.url}/clock.txt`);
    expect([a.headers['age'], b.headers['age'], c.headers['age']]).toEqual(['0', '1', '11']);
    expect([a.headers['cache-status'], b.headers['cache-status'], c.headers['cache-status']]).toEqual([
      'hp; hit; ttl=60',
      'hp; hit; ttl=58',
      'hp; hit; ttl=48',
    ]);
    expect(up.count('/clock.txt')).toBe(1);
  });

  it('never answers a stale entry from the prepared block: the lookup revalidates it', async () => {
    await warm('/stale.txt');
    clock += 61_000;
    const r = await get(`${e.url}/stale.txt`);
    await e.edge.whenIdle();
    expect(r.status).toBe(200);
    expect(r.headers['cache-status']).not.toContain('; hit; ttl=');
    expect(up.count('/stale.txt')).toBe(2);
  });

  it('prepares a new head after a purge and re-fill: new ETag, Content-Length and body', async () => {
    await warm('/gen/a.txt');
    const before = await get(`${e.url}/gen/a.txt`);
    expect(before.headers['etag']).toBe('"v1"');
    generation = 2;
    expect(await e.edge.applyPurge([{ kind: 'url', value: '/gen/a.txt', mode: 'hard' }])).toBeGreaterThan(0);
    await warm('/gen/a.txt');
    const after = await get(`${e.url}/gen/a.txt`);
    expect(after.headers['etag']).toBe('"v2"');
    expect(after.body.toString()).toBe('v2 body of /gen/a.txt\n');
    expect(after.headers['content-length']).toBe(String(after.body.length));
    expect(after.headers['cache-status']).toBe('hp; hit; ttl=60');
    expect(up.count('/gen/a.txt')).toBe(2);
  });

  it('keeps conditional, Range and HEAD answers of the full lookup', async () => {
    await warm('/cond.txt');
    expect((await get(`${e.url}/cond.txt`, { 'if-none-match': '"v1"' })).status).toBe(304);
    const part = await get(`${e.url}/cond.txt`, { range: 'bytes=0-3' });
    expect(part.status).toBe(206);
    expect(part.body.toString()).toBe('body');
    const head = await get(`${e.url}/cond.txt`, {}, 'HEAD');
    expect(head.status).toBe(200);
    expect(head.body.length).toBe(0);
    expect(head.headers['content-length']).toBe(String('body of /cond.txt\n'.length));
  });

  it('a varying URL: each hit answers the variant its request field selects, values alternating, absent included', async () => {
    const url = `${e.url}/lang/v.txt`;
    const langs = ['en', 'fr', undefined];
    const ask = (lang: string | undefined) => get(url, lang === undefined ? {} : { 'accept-language': lang });
    for (const lang of langs) {
      await ask(lang);
      await e.edge.whenIdle();
    }
    // the hit path remembers the last variant key per URL: every switch of the value must miss that memo
    for (let round = 0; round < 3; round++) {
      for (const lang of [...langs, 'en', 'en', undefined, 'fr']) {
        const r = await ask(lang);
        expect(r.body.toString()).toBe(`body of /lang/v.txt (${lang ?? 'none'})\n`);
        expect(r.headers['cache-status']).toContain('hit');
      }
    }
    expect(up.count('/lang/v.txt')).toBe(3);
  });

  it('counts its hits under the usual metric names and samples them in the access log', async () => {
    await warm('/count.txt');
    const before = await e.edge.metrics.registry.metrics();
    const hits = (text: string) => Number(/^edge_hits_total (\d+)/m.exec(text)?.[1] ?? 0);
    const ram = (text: string) => Number(/^edge_bytes_sent_total\{tier="ram"\} (\d+)/m.exec(text)?.[1] ?? 0);
    const h1 = (text: string) =>
      Number(/^edge_requests_by_protocol_total\{protocol="h1"\} (\d+)/m.exec(text)?.[1] ?? 0);
    const linesBefore = logLines.filter((l) => l['url'] === '/count.txt').length;
    for (let i = 0; i < HIT_LOG_EVERY * 2; i++) await get(`${e.url}/count.txt`);
    const after = await e.edge.metrics.registry.metrics();
    const n = HIT_LOG_EVERY * 2;
    expect(hits(after) - hits(before)).toBe(n);
    expect(ram(after) - ram(before)).toBe(n * 'body of /count.txt\n'.length);
    expect(h1(after) - h1(before)).toBe(n);
    expect(after).toMatch(/^edge_requests_total\{result="hit"\} \d+/m);
    const sampled = logLines.filter((l) => l['url'] === '/count.txt').slice(linesBefore);
    expect(sampled.length).toBe(2);
    const one = sampled.find((l) => l['sampled'] === HIT_LOG_EVERY);
    expect(one).toMatchObject({ result: 'hit', status: 200, method: 'GET', cacheStatus: 'hp; hit; ttl=60' });
  });
});

/** The heads (status line + fields) of every response in `text`, bodies of `bodyLength` bytes each. */
function heads(text: string, bodyLength: number): string[] {
  const out: string[] = [];
  let at = 0;
  while (at < text.length) {
    const end = text.indexOf('\r\n\r\n', at);
    if (end === -1) break;
    out.push(text.slice(at, end));
    at = end + 4 + bodyLength;
  }
  return out;
}

describe('one-write hit path on the wire (HTTP/1.1)', () => {
  const body = 'body of /wire.txt\n';
  const request = (extra = ''): string => `GET /wire.txt HTTP/1.1\r\nhost: edge\r\n${extra}\r\n`;

  it('writes the prepared head as Node would: keep-alive fields, one Date, the body after it', async () => {
    await warm('/wire.txt');
    const { text, closed } = await exchangeRaw(e.url, request(), (t) => t.endsWith(body));
    expect(closed).toBe(false);
    const [head] = heads(text, body.length);
    const lines = head.split('\r\n');
    expect(lines[0]).toBe('HTTP/1.1 200 OK');
    const names = lines.slice(1).map((l) => l.slice(0, l.indexOf(':')).toLowerCase());
    expect(new Set(names).size).toBe(names.length); // no field twice (Date above all)
    // lower-case, as the prepared head spells it (writeHead's head says 'Connection: keep-alive')
    expect(lines).toContain('connection: keep-alive');
    expect(lines).toContain(`content-length: ${body.length}`);
    expect(lines).toContain('cache-status: hp; hit; ttl=60');
    expect(lines.some((l) => /^keep-alive: timeout=\d+$/i.test(l))).toBe(true);
    expect(text.endsWith(`\r\n\r\n${body}`)).toBe(true);
  });

  it('answers pipelined requests in order, each with its own X-Request-ID', async () => {
    await warm('/wire.txt');
    const raw = [1, 2, 3].map((i) => request(`x-request-id: pipe-${i}\r\n`)).join('');
    const { text } = await exchangeRaw(e.url, raw, (t) => t.split(body).length === 4);
    const got = heads(text, body.length);
    expect(got).toHaveLength(3);
    expect(got.map((h) => /x-request-id: (\S+)/.exec(h)?.[1])).toEqual(['pipe-1', 'pipe-2', 'pipe-3']);
    expect(text.split(body)).toHaveLength(4);
  });

  it('leaves a request that asks to close to Node: Connection: close, and the socket closes', async () => {
    await warm('/wire.txt');
    const { text, closed } = await exchangeRaw(e.url, request('connection: close\r\n'), () => false);
    expect(closed).toBe(true);
    expect(text.toLowerCase()).toContain('connection: close');
    expect(text.endsWith(body)).toBe(true);
    expect(text).toContain('cache-status: hp; hit; ttl=60');
  });
});

describe('CMCD hits in the access log', () => {
  it('with "cmcdHitLog": "sampled", CMCD hits are logged one in HIT_LOG_EVERY (with their keys) and all counted', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'edge-hit-cmcd-sampled-'));
    const lines: Array<Record<string, unknown>> = [];
    const edge = createEdge({
      upstream: up.url,
      name: 'hps',
      now: () => clock,
      rules: { cmcdHitLog: 'sampled' },
      logger: jsonLogger(lines),
      store: { dir: join(dir, 'store'), capacityBytes: 64 * 1024 * 1024, regionBytes: 4 * 1024 * 1024 },
    });
    const url = await edge.listen(0, '127.0.0.1');
    try {
      await get(`${url}/sampled.txt`);
      await edge.whenIdle();
      await get(`${url}/sampled.txt`); // into the RAM tier
      const before = lines.length;
      const n = HIT_LOG_EVERY * 2;
      for (let i = 0; i < n; i++) {
        const a = await get(`${url}/sampled.txt?CMCD=${encodeURIComponent(`bl=${i},ot=v,sid="s"`)}`);
        expect(a.headers['cache-status']).toBe('hps; hit; ttl=60');
      }
      const logged = lines.slice(before).filter((l) => l['msg'] === 'request');
      expect(logged).toHaveLength(2);
      expect(logged.every((l) => l['sampled'] === HIT_LOG_EVERY)).toBe(true);
      expect(logged[0]['cmcd']).toEqual({ sid: 's', ot: 'v', bl: HIT_LOG_EVERY - 1 });
      const text = await edge.metrics.registry.metrics();
      expect(text).toMatch(new RegExp(`^edge_cmcd_requests_total\\{ot="v"\\} ${n}$`, 'm'));
    } finally {
      await edge.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('one-write hit path over HTTP/2', () => {
  it('answers RAM hits on h2 streams with the same fields as HTTP/1.1, counted and sampled', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'edge-hit-h2-'));
    const files = await createSelfSignedCertificate(join(dir, 'tls'));
    const tls = await ReloadingTls.open(files);
    const lines: Array<Record<string, unknown>> = [];
    const edge = createEdge({
      upstream: up.url,
      name: 'hp2',
      tls,
      now: () => clock,
      logger: jsonLogger(lines),
      store: { dir: join(dir, 'store'), capacityBytes: 64 * 1024 * 1024, regionBytes: 4 * 1024 * 1024 },
    });
    const url = await edge.listen(0, '127.0.0.1');
    const session = await h2Session(url, readFileSync(files.certFile));
    try {
      const first = await h2Get(session, '/h2.txt');
      await edge.whenIdle();
      await h2Get(session, '/h2.txt'); // read from its region into the RAM tier
      const before = lines.filter((l) => l['url'] === '/h2.txt').length;
      const n = HIT_LOG_EVERY * 2;
      const answers = [];
      const compat = countH2CompatRequests();
      try {
        for (let i = 0; i < n; i++) answers.push(await h2Get(session, '/h2.txt', { 'x-request-id': `h2-${i}` }));
        // answered on their streams before node:http2's compatibility layer made request objects
        expect(compat.count()).toBe(0);
      } finally {
        compat.stop();
      }
      expect(first.status).toBe(200);
      expect(answers.every((a) => a.status === 200 && a.body.equals(first.body))).toBe(true);
      const a = answers[0].headers;
      expect(a['cache-status']).toBe('hp2; hit; ttl=60');
      expect(a['age']).toBe('0');
      expect(a['content-length']).toBe(String(first.body.length));
      expect(a['etag']).toBe('"v1"');
      expect(a['timing-allow-origin']).toBe('*');
      expect(typeof a['date']).toBe('string');
      expect(answers.map((x) => x.headers['x-request-id'])).toEqual(Array.from({ length: n }, (_, i) => `h2-${i}`));
      // sampled, not one line each: these hits took the one-write path
      const sampled = lines.filter((l) => l['url'] === '/h2.txt').slice(before);
      expect(sampled).toHaveLength(2);
      expect(sampled.every((l) => l['sampled'] === HIT_LOG_EVERY)).toBe(true);
      const text = await edge.metrics.registry.metrics();
      expect(Number(/^edge_requests_by_protocol_total\{protocol="h2"\} (\d+)/m.exec(text)?.[1])).toBe(n + 2);
      // with CMCD (argument and headers) too: the one-write path, each one logged whole and counted
      const tally = edge.metrics.tally.hits;
      const cmcd = await h2Get(session, `/h2.txt?CMCD=${encodeURIComponent('ot=v,sid="h2-s"')}`, {
        'cmcd-status': 'bs',
      });
      expect(cmcd.status).toBe(200);
      expect(cmcd.body.equals(first.body)).toBe(true);
      expect(edge.metrics.tally.hits - tally).toBe(1);
      expect(lines.at(-1)).toMatchObject({ result: 'hit', sampled: 1, cmcd: { sid: 'h2-s', ot: 'v', bs: true } });
      const after = await edge.metrics.registry.metrics();
      expect(after).toMatch(/^edge_cmcd_buffer_starvation_total\{ot="v"\} 1$/m);
      // a request the hit path declines still gets node:http2's request objects and the full lookup
      const full = countH2CompatRequests();
      try {
        const r = await h2Get(session, '/h2.txt', { 'cache-control': 'max-age=60' });
        expect(r.status).toBe(200);
        expect(r.body.equals(first.body)).toBe(true);
        expect(full.count()).toBe(1);
      } finally {
        full.stop();
      }
    } finally {
      session.close();
      await edge.close();
      tls.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
