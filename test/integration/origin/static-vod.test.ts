/**
 * VOD serving through a real origin on loopback: a hand-made asset published the way the
 * packager does it (`<root>/<asset>` → symlink into `<root>/.versions/`), fetched with undici.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { Client } from 'undici';
import { createOrigin, type Origin } from '../../../packager/origin/server.js';

const SECRET = 'TOP-SECRET-OUTSIDE-ROOT';
let dir: string;
let root: string;
let origin: Origin;
let client: Client;
let originUrl = '';
const segment = Buffer.from(Array.from({ length: 5000 }, (_, i) => i % 251));
const bigSegment = Buffer.from(Array.from({ length: 600_000 }, (_, i) => (i * 7) % 253));
let master: string;

/** How many of this process's descriptors are open on a file named `name` (the origin runs here). */
function openDescriptorsOf(name: string): number {
  let n = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`).endsWith(`/${name}`)) n++;
    } catch {
      /* closed meanwhile */
    }
  }
  return n;
}

async function get(
  path: string,
  headers: Record<string, string> = {},
  method: 'GET' | 'HEAD' | 'OPTIONS' | 'POST' | 'PUT' | 'DELETE' = 'GET',
) {
  const res = await client.request({ path, method, headers });
  const body = Buffer.from(await res.body.arrayBuffer());
  return { status: res.statusCode, headers: res.headers as Record<string, string | undefined>, body };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'se-origin-vod-'));
  root = join(dir, 'root');
  const version = join(root, '.versions', 'a1', 'v1');
  mkdirSync(join(version, '360p'), { recursive: true });
  master =
    '#EXTM3U\n#EXT-X-VERSION:4\n#EXT-X-INDEPENDENT-SEGMENTS\n' +
    Array.from(
      { length: 12 },
      (_, i) => `#EXT-X-STREAM-INF:BANDWIDTH=${(i + 1) * 100000},CODECS="avc1.4d401e,mp4a.40.2"\nr${i}/index.m3u8\n`,
    ).join('');
  writeFileSync(join(version, 'master.m3u8'), master);
  writeFileSync(
    join(version, 'manifest.mpd'),
    `<?xml version="1.0"?><MPD type="static">${'<!-- pad -->'.repeat(40)}</MPD>`,
  );
  writeFileSync(join(version, '360p', 'init.mp4'), Buffer.alloc(700, 1));
  writeFileSync(join(version, '360p', 'seg-1.m4s'), segment);
  writeFileSync(join(version, '360p', 'seg-2.m4s'), bigSegment);
  symlinkSync(join(root, '.versions', 'a1', 'v1'), join(root, 'a1'));
  // Outside the root: a secret, and a symlink inside the root pointing at it.
  mkdirSync(join(dir, 'outside'));
  writeFileSync(join(dir, 'outside', 'secret.txt'), SECRET);
  writeFileSync(join(dir, 'secret.txt'), SECRET);
  symlinkSync(join(dir, 'outside'), join(root, 'escape'));
  origin = await createOrigin({ root, logger: false, processMetrics: false });
  const url = await origin.listen(0, '127.0.0.1');
  originUrl = url;
  client = new Client(url);
});

afterAll(async () => {
  await client?.close();
  await origin?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('VOD static serving', () => {
  it('serves manifests with their type, a long TTL, validators and the asset surrogate key', async () => {
    const r = await get('/vod/a1/master.m3u8');
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('application/vnd.apple.mpegurl');
    expect(r.headers['cache-control']).toMatch(/max-age=\d{4,}/);
    expect(r.headers['surrogate-key']).toBe('a1');
    expect(r.headers.etag).toBeTruthy();
    expect(r.headers['last-modified']).toBeTruthy();
    expect(r.body.toString()).toBe(master);
    const mpd = await get('/vod/a1/manifest.mpd');
    expect(mpd.headers['content-type']).toBe('application/dash+xml');
  });

  it('compresses manifests with br and gzip on request', async () => {
    const br = await get('/vod/a1/master.m3u8', { 'accept-encoding': 'br' });
    expect(br.headers['content-encoding']).toBe('br');
    expect(brotliDecompressSync(br.body).toString()).toBe(master);
    const gz = await get('/vod/a1/master.m3u8', { 'accept-encoding': 'gzip' });
    expect(gz.headers['content-encoding']).toBe('gzip');
    expect(gunzipSync(gz.body).toString()).toBe(master);
    expect(gz.headers.vary).toMatch(/accept-encoding/i);
    // media is never compressed
    const seg = await get('/vod/a1/360p/seg-1.m4s', { 'accept-encoding': 'br, gzip' });
    expect(seg.headers['content-encoding']).toBeUndefined();
  });

  it('serves media immutable with the CMAF types', async () => {
    const seg = await get('/vod/a1/360p/seg-1.m4s');
    expect(seg.status).toBe(200);
    expect(seg.headers['content-type']).toBe('video/iso.segment');
    expect(seg.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(seg.headers['content-length']).toBe(String(segment.length));
    expect(seg.headers['accept-ranges']).toBe('bytes');
    expect(seg.body.equals(segment)).toBe(true);
    const init = await get('/vod/a1/360p/init.mp4');
    expect(init.headers['content-type']).toBe('video/mp4');
    expect(init.headers['cache-control']).toContain('immutable');
  });

  it('answers Range with 206 and the exact bytes, 416 past the end', async () => {
    const r = await get('/vod/a1/360p/seg-1.m4s', { range: 'bytes=100-199' });
    expect(r.status).toBe(206);
    expect(r.headers['content-range']).toBe(`bytes 100-199/${segment.length}`);
    expect(r.body.equals(segment.subarray(100, 200))).toBe(true);
    const suffix = await get('/vod/a1/360p/seg-1.m4s', { range: 'bytes=-10' });
    expect(suffix.status).toBe(206);
    expect(suffix.body.equals(segment.subarray(segment.length - 10))).toBe(true);
    const past = await get('/vod/a1/360p/seg-1.m4s', { range: `bytes=${segment.length}-` });
    expect(past.status).toBe(416);
    expect(past.headers['content-range']).toBe(`bytes */${segment.length}`);
    // If-Range with a stale validator: the whole file
    const stale = await get('/vod/a1/360p/seg-1.m4s', { range: 'bytes=0-9', 'if-range': '"stale"' });
    expect(stale.status).toBe(200);
    expect(stale.body.length).toBe(segment.length);
  });

  it('a segment over 256 KiB is streamed: whole, and a range of it larger than 256 KiB, byte for byte', async () => {
    const big = await get('/vod/a1/360p/seg-2.m4s');
    expect(big.status).toBe(200);
    expect(big.headers['content-length']).toBe(String(bigSegment.length));
    expect(big.body.equals(bigSegment)).toBe(true);
    const part = await get('/vod/a1/360p/seg-2.m4s', { range: 'bytes=1000-400999' });
    expect(part.status).toBe(206);
    expect(part.body.equals(bigSegment.subarray(1000, 401000))).toBe(true);
    const small = await get('/vod/a1/360p/seg-2.m4s', { range: 'bytes=70000-170099' }); // one read
    expect(small.body.equals(bigSegment.subarray(70000, 170100))).toBe(true);
    expect(openDescriptorsOf('seg-2.m4s')).toBe(0);
  });

  it('closes the file of a streamed answer whose client leaves half way', async () => {
    for (let i = 0; i < 8; i++) {
      const c = new Client(originUrl);
      const res = await c.request({ path: '/vod/a1/360p/seg-2.m4s', method: 'GET' });
      // the first chunk, then the connection goes
      for await (const _chunk of res.body) break;
      await c.destroy();
    }
    // the origin sees each close, destroys the stream, and the stream closes its file
    for (let t = 0; openDescriptorsOf('seg-2.m4s') > 0; t++) {
      if (t > 200) throw new Error(`${openDescriptorsOf('seg-2.m4s')} descriptors of seg-2.m4s still open`);
      await new Promise((r) => setTimeout(r, 25));
    }
    // and serves the file whole again
    expect((await get('/vod/a1/360p/seg-2.m4s')).body.equals(bigSegment)).toBe(true);
  });

  it('judges Range and If-Range with the shared RFC 9110 rules (where the former origin copy differed)', async () => {
    // last-byte-pos before first-byte-pos makes the range invalid: the header is ignored (200), even
    // when the first byte is past the end (the origin's former parser answered 416 here)
    const inverted = await get('/vod/a1/360p/seg-1.m4s', {
      range: `bytes=${segment.length + 100}-${segment.length + 50}`,
    });
    expect(inverted.status).toBe(200);
    expect(inverted.body.equals(segment)).toBe(true);
    // If-Range with a date applies only on an exact Last-Modified match (§13.1.5); a later date
    // used to be accepted as "not modified since"
    const first = await get('/vod/a1/360p/seg-1.m4s');
    const lastModified = first.headers['last-modified']!;
    const exact = await get('/vod/a1/360p/seg-1.m4s', { range: 'bytes=0-9', 'if-range': lastModified });
    expect(exact.status).toBe(206);
    const later = new Date(Date.parse(lastModified) + 60_000).toUTCString();
    const notExact = await get('/vod/a1/360p/seg-1.m4s', { range: 'bytes=0-9', 'if-range': later });
    expect(notExact.status).toBe(200);
    expect(notExact.body.length).toBe(segment.length);
  });

  it('answers 304 to a matching If-None-Match or a current If-Modified-Since', async () => {
    const first = await get('/vod/a1/360p/seg-1.m4s');
    const inm = await get('/vod/a1/360p/seg-1.m4s', { 'if-none-match': first.headers.etag! });
    expect(inm.status).toBe(304);
    expect(inm.body.length).toBe(0);
    expect(inm.headers['surrogate-key']).toBe('a1');
    const ims = await get('/vod/a1/master.m3u8', { 'if-modified-since': new Date(Date.now() + 1000).toUTCString() });
    expect(ims.status).toBe(304);
    const changed = await get('/vod/a1/360p/seg-1.m4s', { 'if-none-match': '"other"' });
    expect(changed.status).toBe(200);
  });

  it('answers HEAD with the headers and no body', async () => {
    const r = await get('/vod/a1/360p/seg-1.m4s', {}, 'HEAD');
    expect(r.status).toBe(200);
    expect(r.headers['content-length']).toBe(String(segment.length));
    expect(r.body.length).toBe(0);
  });

  it('allows cross-origin players and exposes the caching headers', async () => {
    const r = await get('/vod/a1/360p/seg-1.m4s', { origin: 'https://player.example' });
    expect(r.headers['access-control-allow-origin']).toBe('*');
    const exposed = (r.headers['access-control-expose-headers'] ?? '').toLowerCase();
    for (const h of ['age', 'date', 'content-length', 'cache-status', 'content-range']) expect(exposed).toContain(h);
    const pre = await get(
      '/vod/a1/360p/seg-1.m4s',
      {
        origin: 'https://player.example',
        'access-control-request-method': 'GET',
        'access-control-request-headers': 'range',
      },
      'OPTIONS',
    );
    expect(pre.status).toBe(204);
    expect(pre.headers['access-control-allow-methods']).toContain('GET');
  });

  it('answers an OPTIONS that is not a preflight with what the media allows, and 405 to the methods it does not', async () => {
    const options = await get('/vod/a1/master.m3u8', {}, 'OPTIONS');
    expect(options.status).toBe(204);
    expect(options.headers['access-control-allow-methods']).toBe('GET, HEAD, OPTIONS');
    for (const method of ['POST', 'PUT', 'DELETE'] as const) {
      for (const path of ['/vod/a1/master.m3u8', '/live/none/master.m3u8']) {
        const r = await get(path, {}, method);
        expect(r.status, `${method} ${path}`).toBe(405);
        expect(r.headers.allow).toBe('GET, HEAD, OPTIONS');
        expect(r.headers['cache-control']).toBe('no-store');
        expect(JSON.parse(r.body.toString()).error).toMatch(new RegExp(`^${method} is not allowed`));
      }
    }
    // outside the media paths an unknown route stays 404
    expect((await get('/nothing-here', {}, 'POST')).status).toBe(404);
  });

  it('never serves a file outside the root, whatever the encoding', async () => {
    const attempts = [
      '/vod/../secret.txt',
      '/vod/a1/../../secret.txt',
      '/vod/a1/../../../secret.txt',
      '/vod/%2e%2e/secret.txt',
      '/vod/a1/%2e%2e/%2e%2e/secret.txt',
      '/vod/a1/%2E%2E/%2E%2E/%2E%2E/secret.txt',
      '/vod/a1%2f..%2f..%2fsecret.txt',
      '/vod/a1/..%2f..%2f..%2fsecret.txt',
      '/vod/a1/..%5c..%5c..%5csecret.txt',
      '/vod/a1/%2e%2e%5c%2e%2e%5csecret.txt',
      '/vod/a1/seg-1.m4s%00.m3u8',
      '/vod/a1/%00',
      '/vod/escape/secret.txt',
      '/vod/.versions/a1/v1/master.m3u8',
      '/vod/a1//360p/seg-1.m4s',
      '/vod/%252e%252e/secret.txt',
      `/vod/a1/${'a'.repeat(3000)}`,
      `/vod/${'x/'.repeat(40)}secret.txt`,
    ];
    for (const path of attempts) {
      const r = await get(path);
      expect([400, 404], path).toContain(r.status);
      expect(r.body.toString(), path).not.toContain(SECRET);
      expect(r.headers['surrogate-key'], path).toBeTruthy();
    }
  });

  it('sends a clear 404 for missing files and unknown routes, with a surrogate key', async () => {
    const r = await get('/vod/a1/360p/seg-99.m4s');
    expect(r.status).toBe(404);
    expect(r.headers['surrogate-key']).toBe('a1');
    const other = await get('/nope');
    expect(other.status).toBe(404);
    expect(other.headers['surrogate-key']).toBe('origin');
  });

  it('answers 404 for what is not a file: a folder, a FIFO (opened without waiting for a writer)', async () => {
    expect((await get('/vod/a1/360p')).status).toBe(404);
    execFileSync('mkfifo', [join(root, '.versions', 'a1', 'v1', '360p', 'seg-7.m4s')]);
    const r = await get('/vod/a1/360p/seg-7.m4s');
    expect(r.status).toBe(404);
    // and the origin still answers (no thread of its pool left blocked on the FIFO)
    expect((await get('/vod/a1/360p/seg-1.m4s')).body.equals(segment)).toBe(true);
  });
});

describe('operational endpoints', () => {
  it('/health reports ok with no channels, /time is ISO 8601, /metrics counts requests and bytes', async () => {
    const h = await get('/health');
    expect(h.status).toBe(200);
    expect(JSON.parse(h.body.toString())).toMatchObject({ status: 'ok', channels: [] });
    expect(h.headers['surrogate-key']).toBe('origin');
    const t = await get('/time');
    const iso = t.body.toString();
    expect(iso).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(Math.abs(Date.parse(iso) - Date.now())).toBeLessThan(60_000);
    const m = await get('/metrics');
    const text = m.body.toString();
    expect(text).toMatch(/streamedge_origin_requests_total\{route="vod-segment",status="200"\} \d+/);
    expect(text).toMatch(/streamedge_origin_requests_total\{route="vod-manifest",status="304"\} [1-9]/);
    expect(text).toMatch(/streamedge_origin_response_bytes_total\{route="vod-segment"\} [1-9]\d*/);
  });
});
