/**
 * Our player in Debian's Chromium plays Common Encryption through EME's W3C Clear Key system.
 *
 * Our packager's and origin's encryption: the 8 s sample packaged with `protection` (cbcs, and
 * cenc) from a content key file as `--content-keys` reads it, served by an origin holding the key
 * that requires a signed URL for every request (keys and licenses included). Over DASH (the
 * relative Laurl, license POSTed) and HLS (SAMPLE-AES / SAMPLE-AES-CTR identity keys GOT), the
 * token in the path and in the query: playback passes 2 s with MediaKeys on the element, and the
 * stats (and the page's cell) show the scheme, the KID usable and one license request. A license
 * URL written absolute without the token, or with a wrong one, ends in the license error on the
 * page's error line. A live channel encrypted with cbcs plays over LL-HLS and LL-DASH.
 *
 * Content made here, for what the origin does not do (a key per track, a server that misbehaves):
 * our packager's clear CMAF encrypted under 'cenc' by src/cenc's TrackProtector, video with one
 * KID for both renditions, audio with another; the manifests are the packager's with the
 * signalling added by hand (DASH ContentProtection with a relative dashif:Laurl and a cenc:pssh; HLS EXT-X-SESSION-KEY and
 * EXT-X-KEY METHOD=SAMPLE-AES-CTR), answered by a loopback server with the license endpoint and
 * the key URIs behind `?token=` (its playlists carry the request's token, as the edge does).
 * Checked: one license request for both KIDs (DASH), one key request per KID (HLS), not one more
 * after a switch to the other rendition (same KID); a wrong or missing token shows the license
 * or key error; AES-128 its error; a license server that never answers the error naming the KIDs
 * that never arrived, 10 s after the element began waiting for a key.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { cpSync, mkdirSync, readdirSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { dirname, extname, join, normalize } from 'node:path';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Page } from 'playwright-core';
import { fixture } from '../../media-fixtures/generate.js';
import { readBoxes } from '../../src/cmaf/box.js';
import { addTokenToPlaylist } from '../../src/signing/playlist-rewrite.js';
import { createVerifier, hmacKeys, issueToken, signedUrl } from '../../src/signing/index.js';
import { CLEARKEY_SYSTEM_ID, kidAsUuid, readContentKeys, type ContentKey } from '../../src/cenc/content-keys.js';
import { pssh } from '../../src/cenc/protection-boxes.js';
import { TrackProtector } from '../../src/cenc/track-protector.js';
import { packageVod, type PackageVodOptions } from '../../packager/vod-job.js';
import { packageSmall, startBrowserRig, whatThePageSaw, type BrowserRig } from '../support/browser-rig.js';
import { loopbackServer, type LoopbackServer } from '../support/loopback-server.js';

const KID_V = '0a1b2c3d4e5f60718293a4b5c6d7e8f9';
const KID_A = '1b2c3d4e5f60718293a4b5c6d7e8f90a';
const KEYS = new Map([
  [KID_V, randomBytes(16)],
  [KID_A, randomBytes(16)],
]);
const TOKEN = 'good-token';

// ---------------------------------------------------------------------------------------------
// 'cenc' encryption of clear CMAF

/** A segment with each chunk (moof + mdat) protected; styp and anything else kept. */
function protectSegment(p: TrackProtector, seg: Buffer): Buffer {
  const boxes = readBoxes(seg);
  const parts: Buffer[] = [];
  for (let i = 0; i < boxes.length; i++) {
    const b = boxes[i];
    const bytes = seg.subarray(b.start, b.start + b.size);
    if (b.type !== 'moof') {
      parts.push(bytes);
      continue;
    }
    const m = boxes[++i];
    const c = p.protectFragment(bytes, seg.subarray(m.start, m.start + m.size));
    parts.push(c.moof, c.mdat);
  }
  return Buffer.concat(parts);
}

/**
 * The asset's renditions encrypted into `out` under 'cenc' by src/cenc's TrackProtector, video
 * under KID_V and audio under KID_A (two keys: what the origin's one key per asset does not do),
 * manifests as they are.
 */
function encryptAsset(assetDir: string, out: string): void {
  cpSync(assetDir, out, { recursive: true });
  for (const rendition of readdirSync(assetDir, { withFileTypes: true }).filter((d) => d.isDirectory())) {
    const kid = rendition.name === 'audio' ? KID_A : KID_V;
    const p = new TrackProtector('cenc', { kid, key: KEYS.get(kid)! }, rendition.name);
    const dir = join(assetDir, rendition.name);
    writeFileSync(join(out, rendition.name, 'init.mp4'), p.protectInit(readFileSync(join(dir, 'init.mp4'))));
    for (const f of readdirSync(dir).filter((n) => n.endsWith('.m4s')))
      writeFileSync(join(out, rendition.name, f), protectSegment(p, readFileSync(join(dir, f))));
  }
}

/** The packager's MPD with Clear Key ContentProtection on each AdaptationSet (the Laurl relative, as `laurl`). */
function protectMpd(mpd: string, laurl: string): string {
  return mpd
    .replace(
      '<MPD xmlns="urn:mpeg:dash:schema:mpd:2011"',
      '<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" xmlns:cenc="urn:mpeg:cenc:2013" xmlns:dashif="https://dashif.org/CPS"',
    )
    .replace(/(<AdaptationSet [^>]*contentType="(video|audio)"[^>]*>)/g, (tag: string, _: string, kind: string) => {
      const kid = kind === 'video' ? KID_V : KID_A;
      return `${tag}
      <ContentProtection schemeIdUri="urn:mpeg:dash:mp4protection:2011" value="cenc" cenc:default_KID="${kidAsUuid(kid)}"/>
      <ContentProtection schemeIdUri="urn:uuid:e2719d58-a985-b3c9-781a-b030af78d30e" value="ClearKey1.0">
        <dashif:Laurl Lic_type="EME-1.0">${laurl}</dashif:Laurl>
        <cenc:pssh>${pssh(CLEARKEY_SYSTEM_ID, [kid]).toString('base64')}</cenc:pssh>
      </ContentProtection>`;
    });
}

/** EXT-X-KEY (`method`) before the EXT-X-MAP of a media playlist. */
function protectMediaPlaylist(text: string, kid: string, method: string): string {
  const key = `#EXT-X-KEY:METHOD=${method},URI="../keys/${kid}",KEYFORMAT="identity",KEYFORMATVERSIONS="1"`;
  return text.replace('#EXT-X-MAP:', `${key}\n#EXT-X-MAP:`);
}

// ---------------------------------------------------------------------------------------------
// the loopback server: files, the license endpoint, the key URIs

let rig: BrowserRig;
let server: LoopbackServer;
let served = '';
/** What the license endpoint and the key URIs were asked, in order (`POST <kids>` / `GET <kid>`, `!` when refused). */
const keyLog: string[] = [];

const CORS = { 'access-control-allow-origin': '*' };

function answer(res: ServerResponse, status: number, body: string | Buffer, type = 'text/plain'): void {
  res.writeHead(status, { ...CORS, 'content-type': type, 'cache-control': 'no-store' }).end(body);
}

async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://x');
  if (req.method === 'OPTIONS')
    return void res
      .writeHead(204, {
        ...CORS,
        'access-control-allow-methods': 'GET, POST',
        'access-control-allow-headers': req.headers['access-control-request-headers'] ?? '',
      })
      .end();
  const token = url.searchParams.get('token');
  const m = /^\/vod\/movie\/keys\/([^/]+)$/.exec(url.pathname);
  if (m && m[1] === 'silent') return; // a license server that never answers
  if (m && m[1] === 'clearkey' && req.method === 'POST') {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const request = JSON.parse(Buffer.concat(chunks).toString()) as { kids: string[] };
    const kids = request.kids.map((k) => Buffer.from(k, 'base64url').toString('hex'));
    keyLog.push(`POST ${kids.join(',')}${token === TOKEN ? '' : ' !'}`);
    if (token !== TOKEN) return answer(res, 403, 'token missing or wrong\n');
    if (kids.some((k) => !KEYS.has(k))) return answer(res, 404, 'unknown kid\n');
    const keys = kids.map((k) => ({
      kty: 'oct',
      kid: Buffer.from(k, 'hex').toString('base64url'),
      k: KEYS.get(k)!.toString('base64url'),
    }));
    return answer(res, 200, JSON.stringify({ keys, type: 'temporary' }), 'application/json');
  }
  if (m && req.method === 'GET') {
    keyLog.push(`GET ${m[1]}${token === TOKEN ? '' : ' !'}`);
    if (token !== TOKEN) return answer(res, 403, 'token missing or wrong\n');
    const key = KEYS.get(m[1]);
    return key ? answer(res, 200, key, 'application/octet-stream') : answer(res, 404, 'unknown kid\n');
  }
  const rel = normalize(decodeURIComponent(url.pathname.replace(/^\/vod\/movie\//, '')));
  if (rel.startsWith('..') || !url.pathname.startsWith('/vod/movie/')) return answer(res, 404, 'not found\n');
  let body: Buffer;
  try {
    body = readFileSync(join(served, rel));
  } catch {
    return answer(res, 404, 'not found\n');
  }
  if (extname(rel) === '.m3u8') {
    // as the edge does for a query token: every URI in the playlist carries it
    const text = token ? addTokenToPlaylist(body.toString(), token) : body.toString();
    return answer(res, 200, text, 'application/vnd.apple.mpegurl');
  }
  return answer(res, 200, body, extname(rel) === '.mpd' ? 'application/dash+xml' : 'video/mp4');
}

beforeAll(async () => {
  rig = await startBrowserRig('se-player-encrypted-');
}, 180_000);

afterAll(async () => {
  await server?.close();
  await rig?.close();
});

/** The hand-encrypted asset and its manifests, and the loopback server answering them. */
async function serveHandMade(): Promise<void> {
  await packageSmall(rig.dir, await fixture('demo'), 'movie');
  served = join(rig.dir, 'encrypted');
  // (the published version's folder: the asset's renditions link into it)
  encryptAsset(dirname(realpathSync(join(rig.dir, 'root', 'movie', 'audio'))), served);
  const mpd = readFileSync(join(served, 'manifest.mpd'), 'utf8');
  writeFileSync(join(served, 'manifest.mpd'), protectMpd(mpd, 'keys/clearkey'));
  writeFileSync(join(served, 'silent.mpd'), protectMpd(mpd, 'keys/silent'));
  const master = readFileSync(join(served, 'master.m3u8'), 'utf8').replace(
    '#EXT-X-INDEPENDENT-SEGMENTS\n',
    `#EXT-X-INDEPENDENT-SEGMENTS\n${[KID_V, KID_A]
      .map((k) => `#EXT-X-SESSION-KEY:METHOD=SAMPLE-AES-CTR,URI="keys/${k}",KEYFORMAT="identity",KEYFORMATVERSIONS="1"`)
      .join('\n')}\n`,
  );
  writeFileSync(join(served, 'master.m3u8'), master);
  for (const rendition of ['240p', '360p', 'audio']) {
    const dir = join(served, rendition);
    const text = readFileSync(join(dir, 'index.m3u8'), 'utf8');
    const kid = rendition === 'audio' ? KID_A : KID_V;
    writeFileSync(join(dir, 'index.m3u8'), protectMediaPlaylist(text, kid, 'SAMPLE-AES-CTR'));
    writeFileSync(
      join(dir, 'aes128.m3u8'),
      text.replace('#EXT-X-MAP:', '#EXT-X-KEY:METHOD=AES-128,URI="../keys/x"\n#EXT-X-MAP:'),
    );
  }
  writeFileSync(
    join(served, 'aes128.m3u8'),
    readFileSync(join(served, 'master.m3u8'), 'utf8')
      .replace(/index\.m3u8/g, 'aes128.m3u8')
      .replace(/#EXT-X-SESSION-KEY.*\n/g, ''),
  );
  server = await loopbackServer((req, res) => {
    handle(req, res).catch((e: unknown) => answer(res, 500, String(e)));
  });
}

// ---------------------------------------------------------------------------------------------

interface ProtectionStats {
  keySystem: string;
  scheme: string | null;
  kids: string[];
  licenseRequests: number;
  keyStatuses: Record<string, string>;
}

interface PageState {
  currentTime: number;
  pageErrors: string[];
  protection: ProtectionStats | null;
  levels: { id: string }[];
  currentLevel: number;
  playingLevel: number;
  requests: { url: string; status: number }[];
  mediaKeys: boolean;
  protectionCell: string;
  errorLine: string;
}

const state = (page: Page): Promise<PageState> =>
  page.evaluate(() => {
    const s = window.__streamedge.stats() as Omit<PageState, 'mediaKeys' | 'protectionCell' | 'errorLine'>;
    const video = document.getElementById('video') as HTMLVideoElement;
    return {
      ...s,
      mediaKeys: video.mediaKeys !== null,
      protectionCell: document.getElementById('c-protection')!.textContent ?? '',
      errorLine: (document.getElementById('error') as HTMLElement).hidden
        ? ''
        : (document.getElementById('error')!.textContent ?? ''),
    };
  });

/** Opens the page on `src` with our player; `seen` (when given) gets each response's method, URL and status. */
async function open(src: string, seen?: string[]): Promise<Page> {
  const page = await rig.browser.newPage();
  if (seen) page.on('response', (r) => seen.push(`${r.request().method()} ${r.url()} ${r.status()}`));
  await page.goto(`${rig.pages.url}?src=${encodeURIComponent(src)}&engine=ours`);
  return page;
}

/** Waits until playback passes `sec` (or the page reports an error, which fails the test with it). */
async function playsPast(page: Page, sec: number): Promise<PageState> {
  await page
    .waitForFunction(
      (t) => {
        const s = window.__streamedge.stats() as { currentTime: number; pageErrors: string[] };
        return s.currentTime > t || s.pageErrors.length > 0;
      },
      sec,
      { timeout: 60_000, polling: 100 },
    )
    .catch(async (e: unknown) => {
      throw new Error(`${String(e)}\nplayback never passed ${sec} s: ${await whatThePageSaw(page)}`);
    });
  const s = await state(page);
  expect(s.pageErrors).toEqual([]);
  return s;
}

/** Waits until the page's error line shows an error matching `re`; the state then. */
async function errorShown(page: Page, re: RegExp, timeout = 60_000): Promise<PageState> {
  await page.waitForFunction(
    (source) => {
      const line = document.getElementById('error') as HTMLElement;
      return !line.hidden && new RegExp(source).test(line.textContent ?? '');
    },
    re.source,
    { timeout, polling: 100 },
  );
  return state(page);
}

/** Picks the other of two video levels by hand and waits until it plays; returns it. */
async function switchToOtherLevel(page: Page, current: number): Promise<number> {
  const other = current === 0 ? 1 : 0;
  await page.evaluate((l) => window.__streamedge.setManualLevel(l), other);
  await page.waitForFunction(
    (l) => (window.__streamedge.stats() as { playingLevel: number }).playingLevel === l,
    other,
    { timeout: 30_000, polling: 100 },
  );
  return other;
}

describe('our player plays Clear Key encrypted CMAF (cenc, made here)', () => {
  beforeAll(serveHandMade, 180_000);

  it('DASH: MediaKeys set, one license request for both KIDs, the Laurl with the token; a rendition switch asks for nothing', async () => {
    keyLog.length = 0;
    const page = await open(`${server.base}/vod/movie/manifest.mpd?token=${TOKEN}`);
    try {
      const s = await playsPast(page, 2);
      expect(s.mediaKeys).toBe(true);
      expect(s.protection).toMatchObject({ keySystem: 'org.w3.clearkey', scheme: 'cenc', licenseRequests: 1 });
      expect([...s.protection!.kids].sort()).toEqual([KID_V, KID_A].sort());
      expect(s.protection!.keyStatuses).toEqual({ [KID_V]: 'usable', [KID_A]: 'usable' });
      expect(keyLog).toEqual([`POST ${s.protection!.kids.join(',')}`]);
      expect(s.protectionCell).toContain(KID_V);
      expect(s.protectionCell).toContain('1 license request');
      // the other video rendition (same KID): played without another request
      const other = await switchToOtherLevel(page, s.currentLevel);
      const after = await state(page);
      expect(after.pageErrors).toEqual([]);
      expect(after.requests.some((r) => r.url.includes(`/${after.levels[other].id}/init.mp4`))).toBe(true);
      expect(after.protection!.licenseRequests).toBe(1);
      expect(keyLog).toHaveLength(1);
    } finally {
      await page.close();
    }
  }, 120_000);

  it('HLS: SAMPLE-AES-CTR identity keys, one GET per KID with the token, no more after a switch', async () => {
    keyLog.length = 0;
    const page = await open(`${server.base}/vod/movie/master.m3u8?token=${TOKEN}`);
    try {
      const s = await playsPast(page, 2);
      expect(s.mediaKeys).toBe(true);
      expect(s.protection).toMatchObject({ keySystem: 'org.w3.clearkey', scheme: 'cenc', licenseRequests: 2 });
      expect(s.protection!.kids).toEqual([KID_V, KID_A]);
      expect(s.protection!.keyStatuses).toEqual({ [KID_V]: 'usable', [KID_A]: 'usable' });
      expect([...keyLog].sort()).toEqual([`GET ${KID_A}`, `GET ${KID_V}`].sort());
      await switchToOtherLevel(page, s.currentLevel);
      expect((await state(page)).protection!.licenseRequests).toBe(2);
      expect(keyLog).toHaveLength(2);
    } finally {
      await page.close();
    }
  }, 120_000);

  it('a wrong token: the license request fails with 403, and the page says so', async () => {
    keyLog.length = 0;
    const page = await open(`${server.base}/vod/movie/manifest.mpd?token=wrong`);
    try {
      const s = await errorShown(page, /license request for KID .* failed: HTTP 403/);
      expect(s.errorLine).toContain(`${server.base}/vod/movie/keys/clearkey?token=wrong`);
      expect(keyLog).toEqual([`POST ${s.protection!.kids.join(',')} !`]);
      expect(s.currentTime).toBeLessThan(0.5);
    } finally {
      await page.close();
    }
  }, 120_000);

  it('HLS keys with no token: the key request fails with 403, and the page says so', async () => {
    const page = await open(`${server.base}/vod/movie/master.m3u8`);
    try {
      await errorShown(page, /key request for KID .* failed: HTTP 403/);
    } finally {
      await page.close();
    }
  }, 120_000);

  it('HLS METHOD=AES-128: a player error naming it', async () => {
    const page = await open(`${server.base}/vod/movie/aes128.m3u8`);
    try {
      const s = await errorShown(page, /METHOD=AES-128/);
      expect(s.mediaKeys).toBe(false);
    } finally {
      await page.close();
    }
  }, 120_000);

  it('a license server that never answers: after 10 s waiting for a key, an error naming the KIDs', async () => {
    const page = await open(`${server.base}/vod/movie/silent.mpd?token=${TOKEN}`);
    try {
      const s = await errorShown(page, /no key arrived for KID .* within 10 s/, 40_000);
      expect(s.errorLine).toMatch(new RegExp(`${KID_V}|${KID_A}`));
      expect(s.currentTime).toBeLessThan(0.5);
    } finally {
      await page.close();
    }
  }, 120_000);
});

// ---------------------------------------------------------------------------------------------
// our packager's and origin's encryption

/** The content key file, as `--content-keys <file>` reads it. */
const CONTENT_KEY = { kid: '7c7c7c7c7c7c7c7c7c7c7c7c7c7c7c7c', key: '3a1f0e9d8c7b6a5948372615f4e3d2c1' };

describe("our player plays our packager's encryption through our origin (cbcs and cenc, signed URLs)", () => {
  let vod = '';
  let token = '';
  let key: ContentKey;

  beforeAll(async () => {
    const file = join(rig.dir, 'content-keys.json');
    writeFileSync(file, JSON.stringify({ keys: [CONTENT_KEY] }));
    [key] = readContentKeys(file);
    const root = join(rig.dir, 'signed-root');
    mkdirSync(root);
    // every request needs a token (path or query placement) whose scope covers it
    const { signing, verification } = await hmacKeys(randomBytes(48));
    vod = await rig.origin({
      root,
      contentKeys: [key],
      signing: { verifier: createVerifier({ keys: [verification] }) },
    });
    token = await issueToken({ scope: '/vod/', ttlSec: 3600, key: signing });
    const input = await fixture('sample');
    const pack = (assetId: string, protection: PackageVodOptions['protection']) =>
      packageVod({ input, outDir: root, assetId, ladder: 'small', segmentDuration: 2, protection });
    await pack('cbcs', { scheme: 'cbcs', key });
    await pack('cenc', { scheme: 'cenc', key });
    await pack('clear', undefined);
    // license URLs written absolute: a path-placed token does not reach them; one with a token of its own, wrong
    await pack('absolute', { scheme: 'cbcs', key, licenseUrl: `${vod}/vod/absolute/keys/clearkey` });
    await pack('stale', { scheme: 'cenc', key, licenseUrl: `${vod}/vod/stale/keys/clearkey?token=not.a.token` });
  }, 300_000);

  it.each([
    ['cbcs', 'manifest.mpd', 'path'],
    ['cbcs', 'master.m3u8', 'query'],
    ['cenc', 'manifest.mpd', 'query'],
    ['cenc', 'master.m3u8', 'path'],
  ] as const)(
    '%s %s, token in the %s: decrypted past 2 s, MediaKeys set, the KID and one license request in the stats',
    async (scheme, manifest, placement) => {
      const seen: string[] = [];
      const page = await open(signedUrl(vod, `/vod/${scheme}/${manifest}`, token, placement), seen);
      try {
        const s = await playsPast(page, 2);
        expect(s.mediaKeys).toBe(true);
        expect(s.protection).toEqual({
          keySystem: 'org.w3.clearkey',
          scheme,
          kids: [CONTENT_KEY.kid],
          licenseRequests: 1,
          keyStatuses: { [CONTENT_KEY.kid]: 'usable' },
        });
        expect(s.protectionCell).toContain(`${scheme} · org.w3.clearkey · KID ${CONTENT_KEY.kid} (1/1 usable)`);
        // the one key request: DASH the license POSTed beside the MPD, HLS the key GOT beside the playlists
        const keyRequests = seen.filter((r) => /\/keys\//.test(r) && !r.startsWith('OPTIONS'));
        const dash = manifest.endsWith('.mpd');
        expect(keyRequests).toHaveLength(1);
        expect(keyRequests[0]).toMatch(
          new RegExp(
            `^${dash ? 'POST' : 'GET'} .*/vod/${scheme}/(v1/)?keys/${dash ? 'clearkey' : CONTENT_KEY.kid}\\b.* 200$`,
          ),
        );
      } finally {
        await page.close();
      }
    },
    120_000,
  );

  it.each([
    ['absolute', 'no token'],
    ['stale', 'a wrong token'],
  ])(
    "a license URL the player's token does not reach (%s, %s): the license request fails with 403, the page says so",
    async (asset) => {
      const page = await open(signedUrl(vod, `/vod/${asset}/manifest.mpd`, token, 'path'));
      try {
        const s = await errorShown(page, new RegExp(`license request for KID ${CONTENT_KEY.kid} failed: HTTP 403`));
        expect(s.errorLine).toContain(`${vod}/vod/${asset}/keys/clearkey`);
        expect(s.mediaKeys).toBe(true);
        expect(s.currentTime).toBeLessThan(0.5);
      } finally {
        await page.close();
      }
    },
    120_000,
  );

  it('another stream loaded in the same page: new MediaKeys and session, the new scheme; a clear one after it plays too', async () => {
    const page = await open(signedUrl(vod, '/vod/cbcs/manifest.mpd', token, 'query'));
    try {
      expect((await playsPast(page, 2)).protection?.scheme).toBe('cbcs');
      const next = signedUrl(vod, '/vod/cenc/master.m3u8', token, 'path');
      await page.evaluate((src) => window.__streamedge.load(src, 'ours'), next);
      const s = await playsPast(page, 2);
      expect(s.protection).toMatchObject({ scheme: 'cenc', kids: [CONTENT_KEY.kid], licenseRequests: 1 });
      expect(s.mediaKeys).toBe(true);
      expect(s.errorLine).toBe('');
      await page.evaluate(
        (src) => window.__streamedge.load(src, 'ours'),
        signedUrl(vod, '/vod/clear/manifest.mpd', token),
      );
      const clear = await playsPast(page, 2);
      expect(clear.protection).toBeNull();
      expect(clear.errorLine).toBe('');
    } finally {
      await page.close();
    }
  }, 120_000);

  it('a live channel encrypted with cbcs: LL-HLS and LL-DASH decrypted, playback advancing 2 s', async () => {
    const live = await rig.liveOrigin(
      { segmentDuration: 1, partDuration: 0.5, protection: { scheme: 'cbcs', key } },
      { contentKeys: [key] },
    );
    for (const manifest of ['master.m3u8', 'manifest.mpd']) {
      const page = await open(`${live}/live/ch/${manifest}`);
      try {
        const start = await playsPast(page, 0);
        await playsPast(page, start.currentTime + 2);
        const s = await state(page);
        expect(s.mediaKeys).toBe(true);
        expect(s.protection).toMatchObject({ scheme: 'cbcs', kids: [CONTENT_KEY.kid], licenseRequests: 1 });
        expect(s.protection!.keyStatuses).toEqual({ [CONTENT_KEY.kid]: 'usable' });
      } finally {
        await page.close();
      }
    }
  }, 180_000);
});
