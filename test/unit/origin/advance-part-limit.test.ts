/**
 * The Advance Part Limit (RFC 8216bis 6.2.5.2) is counted in the PART-TARGET the playlist
 * advertises, as a client counts it: parts of 0.512 s (AAC frames overshoot the configured 0.5 s)
 * make PART-TARGET=0.512 and the limit floor(3 / 0.512) = 5 parts, not the 6 of 0.5 s parts. A
 * blocking reload or a part request beyond it is refused at once (400, 404) instead of held. Real
 * HTTP against an origin whose encoder the test drives.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import type { Origin } from '../../../packager/origin/server.js';
import { FakeEncoder, originWithFakeChannel } from './fake-encoder.js';

let dir: string;
let origin: Origin | undefined;
let url: string;
const enc = new FakeEncoder();
enc.partMs = 512;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'se-advance-part-'));
  ({ origin, url } = await originWithFakeChannel(enc, { root: dir }));
});

afterAll(async () => {
  await origin?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function get(path: string): Promise<{ status: number; body: string }> {
  const res = await request(`${url}${path}`);
  return { status: res.statusCode, body: await res.body.text() };
}

describe('the Advance Part Limit of a channel whose parts are 0.512 s', () => {
  it('advertises PART-TARGET=0.512', async () => {
    expect((await get('/live/ch/v/index.m3u8')).body).toContain('#EXT-X-PART-INF:PART-TARGET=0.512');
  });

  // segments 0 and 1 are complete: the next part is 2.0 (1 part ahead); 2.4 is 5 ahead, 2.5 is 6
  it('refuses a blocking reload for a part 6 ahead with 400 (the limit is 5 parts)', async () => {
    const far = await get('/live/ch/v/index.m3u8?_HLS_msn=2&_HLS_part=5');
    expect(far.status).toBe(400);
    expect(far.body).toContain('limit 5');
  });

  it('does not hold a part request 6 parts ahead (404 at once)', async () => {
    expect((await get('/live/ch/v/seg-2.5.m4s')).status).toBe(404);
  });

  it('does not refuse a part 5 ahead: it is answered once produced', async () => {
    const held = get('/live/ch/v/seg-2.4.m4s');
    for (let p = 0; p <= 4; p++) enc.part(2, p);
    const res = await held;
    expect(res.status).toBe(200);
    expect(res.body).toContain('v:seg-2.4:');
  });
});
