/**
 * CORS preflights for reads are answered by the edge (edge/cors-preflight.ts): a player on another
 * origin sending CMCD as headers makes the browser preflight every new media URL, and forwarded,
 * each preflight was an uncacheable request to the origin. Other preflights, and OPTIONS that are
 * not preflights, still go upstream; `corsPreflight: 'forward'` forwards them all.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveOptions } from '../../../edge/config.js';
import { parseCacheStatus } from '../../../src/http/cache-status.js';
import { get, startEdge, startUpstream, type TestEdge, type Upstream } from './helpers.js';

let up: Upstream;
let e: TestEdge;
let forwarding: TestEdge;

const PREFLIGHT = {
  origin: 'https://player.example',
  'access-control-request-method': 'GET',
  'access-control-request-headers': 'cmcd-request, CMCD-Session,cmcd-object',
};

beforeAll(async () => {
  up = await startUpstream((req, res) => {
    if (req.method === 'OPTIONS') {
      res.writeHead(204, { 'x-answered-by': 'upstream', 'access-control-allow-origin': '*' });
      return res.end();
    }
    res.writeHead(200, {
      'cache-control': 'public, max-age=60',
      'access-control-allow-origin': '*',
      'content-type': 'video/iso.segment',
    });
    res.end('segment bytes');
  });
  e = await startEdge({ upstream: up.url });
  forwarding = await startEdge({ upstream: up.url, corsPreflight: 'forward' });
});

afterAll(async () => {
  await e?.close();
  await forwarding?.close();
  await up?.close();
});

const options = (edge: TestEdge, path: string, headers: Record<string, string>) =>
  get(`${edge.url}${path}`, headers, 'OPTIONS');

describe('CORS preflights at the edge', () => {
  it('answers a preflight for a GET itself, allowing the headers asked for, and sends nothing upstream', async () => {
    const before = up.total();
    for (let n = 1; n <= 5; n++) {
      const r = await options(e, `/live/ch/360p/seg-${n}.0.m4s`, PREFLIGHT);
      expect(r.status).toBe(204);
      expect(r.body.length).toBe(0);
      expect(r.headers['access-control-allow-origin']).toBe('*');
      expect(r.headers['access-control-allow-methods']).toBe('GET, HEAD, OPTIONS');
      expect(r.headers['access-control-allow-headers']).toBe('cmcd-request, cmcd-session, cmcd-object');
      expect(r.headers['access-control-max-age']).toBe('86400');
      expect(r.headers['x-answered-by']).toBeUndefined();
      expect(parseCacheStatus(r.headers['cache-status'])).toEqual([
        expect.objectContaining({ cache: 'streamedge', detail: 'preflight' }),
      ]);
    }
    expect(up.total()).toBe(before);
    // the read itself still goes upstream and carries the origin's CORS headers
    const g = await get(`${e.url}/live/ch/360p/seg-1.0.m4s`, { origin: PREFLIGHT.origin, 'cmcd-request': 'bl=2000' });
    expect(g.status).toBe(200);
    expect(g.headers['access-control-allow-origin']).toBe('*');
    expect(up.total()).toBe(before + 1);
  });

  it('a preflight with no headers asked, or for HEAD, is answered too; malformed names are not echoed', async () => {
    const before = up.total();
    const plain = await options(e, '/vod/a/master.m3u8', {
      origin: 'https://player.example',
      'access-control-request-method': 'HEAD',
    });
    expect(plain.status).toBe(204);
    expect(plain.headers['access-control-allow-headers']).toBeUndefined();
    const odd = await options(e, '/vod/a/master.m3u8', {
      origin: 'https://player.example',
      'access-control-request-method': 'GET',
      'access-control-request-headers': 'range, bad name, x-ok',
    });
    expect(odd.headers['access-control-allow-headers']).toBe('range, x-ok');
    expect(up.total()).toBe(before);
  });

  it('forwards what is not a preflight for a read: another method, an OPTIONS without Origin', async () => {
    const cases: Record<string, string>[] = [
      { ...PREFLIGHT, 'access-control-request-method': 'DELETE' },
      { 'access-control-request-method': 'GET' },
      {},
    ];
    for (const headers of cases) {
      const before = up.total();
      const r = await options(e, '/vod/a/seg-1.m4s', headers);
      expect(r.headers['x-answered-by'], JSON.stringify(headers)).toBe('upstream');
      expect(up.total()).toBe(before + 1);
    }
  });

  it("with corsPreflight 'forward', every preflight goes upstream", async () => {
    const before = up.total();
    const r = await options(forwarding, '/live/ch/360p/seg-9.0.m4s', PREFLIGHT);
    expect(r.headers['x-answered-by']).toBe('upstream');
    expect(up.total()).toBe(before + 1);
    expect(() => resolveOptions({ upstream: up.url, corsPreflight: 'sometimes' as 'edge' })).toThrow(
      /--cors-preflight must be edge or forward/,
    );
  });
});
