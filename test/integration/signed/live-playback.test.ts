/**
 * A live LL-HLS channel (real ffmpeg, lavfi source) behind a signed origin and a signed edge: a
 * client that knows only the signed master URL fetches every playlist, init, segment and part
 * (and a blocking reload for the next part) through the edge, with path and query placement.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeTinyLadder } from '../live/live-helpers.js';
import { crawlHls, playlistUris } from './crawl.js';
import {
  UPSTREAM_CREDENTIAL,
  es256,
  get,
  sign,
  startStack,
  until,
  url,
  writeJwks,
  type KeyPairFiles,
  type Stack,
} from './signed-helpers.js';

let dir: string;
let stack: Stack;
let key: KeyPairFiles;

/** Complete segments in a rendition playlist, asked of the origin as the edge would (credential). */
async function segments(rendition: string): Promise<number> {
  const r = await get(`${stack.originUrl}/live/ch/${rendition}/index.m3u8`, {
    'x-streamedge-upstream-credential': UPSTREAM_CREDENTIAL,
  });
  return r.status === 200 ? r.text.split('\n').filter((l) => l.startsWith('#EXTINF')).length : 0;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'se-signed-live-'));
  const root = join(dir, 'root');
  mkdirSync(root);
  const ladder = writeTinyLadder(dir);
  key = await es256('live-1');
  const jwksFile = join(dir, 'jwks.json');
  writeJwks(jwksFile, [key]);
  stack = await startStack({
    root,
    jwksFile,
    storeDir: join(dir, 'store'),
    live: [
      {
        id: 'ch',
        source: 'lavfi:testsrc2=size=320x180:rate=30',
        segmentDuration: 1,
        partDuration: 0.5,
        dvrWindow: 20,
        ladder,
      },
    ],
  });
  await until(
    async () => (await segments('180p')) >= 3 && (await segments('audio')) >= 3,
    40_000,
    'three complete live segments',
  );
}, 55_000);

afterAll(async () => {
  await stack?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** [msn, part] of the newest part a media playlist lists (EXT-X-PART; not the preload hint). */
function newestPart(text: string): [number, number] {
  const listed = text
    .split('\n')
    .filter((l) => l.startsWith('#EXT-X-PART:'))
    .join('\n');
  const parts = [...listed.matchAll(/seg-(\d+)\.(\d+)\.m4s/g)].map(
    (m) => [Number(m[1]), Number(m[2])] as [number, number],
  );
  parts.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  return parts[parts.length - 1];
}

describe('signed live LL-HLS through the edge', () => {
  for (const placement of ['path', 'query'] as const) {
    it(`${placement} placement: every playlist, init, segment and part from the signed master URL alone`, async () => {
      const token = await sign(key, '/live/ch/', { viewerId: `live-${placement}` });
      const master = url(stack.edgeUrl, '/live/ch/master.m3u8', token, placement);
      // every URI, including the preload hint (held by the origin until that part exists)
      const fetched = await crawlHls(master);
      const playlists = fetched.filter((f) => f.kind === 'playlist');
      expect(playlists.length).toBe(3); // master, 180p, audio
      for (const p of playlists) {
        expect(p.status, p.url).toBe(200);
        const text = p.body.toString();
        if (placement === 'query')
          for (const u of playlistUris(text)) expect(u, `${p.url}: ${u}`).toContain(`token=${token}`);
      }
      for (const rid of ['180p', 'audio']) {
        const kinds = fetched.filter((f) => f.url.includes(`/${rid}/`));
        expect(
          kinds.some((f) => f.kind === 'init'),
          `${rid} init`,
        ).toBe(true);
        expect(kinds.filter((f) => f.kind === 'segment').length, `${rid} segments`).toBeGreaterThanOrEqual(2);
        expect(kinds.filter((f) => f.kind === 'part').length, `${rid} parts`).toBeGreaterThanOrEqual(2);
      }
      for (const f of fetched) {
        if (f.kind === 'playlist') continue;
        expect(f.status, f.url).toBe(200);
        expect(f.body.length, f.url).toBeGreaterThan(0);
        if (f.kind !== 'init') expect(f.body.subarray(4, 8).toString('latin1'), f.url).toMatch(/styp|moof|prft/);
      }
    }, 40_000);

    it(`${placement} placement: a blocking reload for the next part, then that part, through the edge`, async () => {
      const token = await sign(key, '/live/ch/', { viewerId: `live-br-${placement}` });
      const media = url(stack.edgeUrl, '/live/ch/180p/index.m3u8', token, placement);
      const first = await get(media);
      expect(first.status).toBe(200);
      const [msn, part] = newestPart(first.text);
      const [n, p] = part + 1 < 2 ? [msn, part + 1] : [msn + 1, 0];
      // the player appends the delivery directives to the URL it has (the token stays on it)
      const reload = await get(`${media}${media.includes('?') ? '&' : '?'}_HLS_msn=${n}&_HLS_part=${p}`);
      expect(reload.status).toBe(200);
      const [rn, rp] = newestPart(reload.text);
      expect(rn * 100 + rp).toBeGreaterThanOrEqual(n * 100 + p); // the answer lists at least that part
      const partRef = playlistUris(reload.text).find((u) => u.includes(`seg-${n}.${p}.m4s`))!;
      expect(partRef).toBeDefined();
      if (placement === 'query') expect(partRef).toContain(`token=${token}`);
      const got = await get(new URL(partRef, media).href);
      expect(got.status).toBe(200);
      expect(got.body.length).toBeGreaterThan(0);
      // and nothing with a token went upstream
      for (const s of stack.proxy.seen) expect(s.url.includes('token') || s.url.startsWith('/t/')).toBe(false);
    }, 30_000);
  }
});
