/**
 * A starting live channel's manifest requests are held (up to 2 s) for its first media instead of
 * answered 503 at once: dash.js 5.2 gives up on a starting channel's 503 after two tries, silently,
 * so a viewer who pressed play as the channel came up saw nothing. Real HTTP against an origin
 * whose encoder the test drives; the held-request gauge says when the requests are parked.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { createOrigin, type Origin } from '../../../packager/origin/server.js';
import { FakeEncoder, rendition, until } from './fake-encoder.js';

let dir: string;
let origin: Origin | undefined;
let url: string;
let enc: FakeEncoder;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'se-live-hold-'));
  enc = new FakeEncoder();
  origin = await createOrigin({
    processMetrics: false,
    root: dir,
    live: [{ id: 'ch', source: 'fake', segmentDuration: 1, partDuration: 0.5, dvrWindow: 120 }],
    channelOptions: { stallTimeoutMs: 60_000 },
    startRun: enc.start,
  });
  url = await origin.listen(0, '127.0.0.1');
  await enc.runStarted(1);
});

afterEach(async () => {
  await origin?.close();
  origin = undefined;
  rmSync(dir, { recursive: true, force: true });
});

/** Requests held for the channel's start now (the origin's gauge). */
async function heldAtStart(): Promise<number> {
  const text = await (await request(`${url}/metrics`)).body.text();
  const m = /^streamedge_origin_requests_held\{kind="start"\} (\d+)/m.exec(text);
  return m ? Number(m[1]) : 0;
}

function errorOf(body: string): string {
  return (JSON.parse(body) as { error: string }).error;
}

async function get(path: string, signal?: AbortSignal) {
  const res = await request(`${url}${path}`, { signal });
  return { status: res.statusCode, headers: res.headers, text: await res.body.text() };
}

describe('a live channel still starting', () => {
  it('holds the multivariant playlist, the MPD and a media playlist until its media is there, then answers them', async () => {
    const asked = ['/live/ch/master.m3u8', '/live/ch/manifest.mpd', '/live/ch/v/index.m3u8'].map((p) => get(p));
    await until(async () => (await heldAtStart()) === 3, 5000, 'three requests held');
    enc.init();
    enc.segments(0, 0);
    const [master, mpd, media] = await Promise.all(asked);
    expect(master.status, master.text).toBe(200);
    expect(master.text).toContain('v/index.m3u8');
    expect(mpd.status, mpd.text).toBe(200);
    expect(mpd.text).toContain('<Representation id="v"');
    expect(media.status, media.text).toBe(200);
    expect(media.text).toContain('#EXT-X-PART:');
    expect(await heldAtStart()).toBe(0);
  });

  it('holds the MPD on until a segment is complete when the encoder cannot tell where a segment ends (dash.js waits for good on an empty timeline)', async () => {
    const mpd = get('/live/ch/manifest.mpd');
    const master = get('/live/ch/master.m3u8');
    await until(async () => (await heldAtStart()) === 2, 5000, 'two requests held');
    enc.init();
    enc.part(0, 0);
    expect((await master).status).toBe(200); // HLS lists the parts of a segment in production
    expect(await heldAtStart()).toBe(1);
    enc.part(0, 1);
    enc.segment(0);
    const res = await mpd;
    expect(res.status, res.text).toBe(200);
    expect(res.text.match(/<S t="\d+" d="1000"\/>/g)).toHaveLength(2); // video and audio list segment 0
  });

  it('low latency: serves the first MPD once a segment whose end is known has a part, listing it', async () => {
    enc.plannedSegmentMs = 1000;
    const mpd = get('/live/ch/manifest.mpd');
    await until(async () => (await heldAtStart()) === 1, 5000, 'the MPD held');
    enc.init();
    enc.part(0, 0);
    const res = await mpd;
    expect(res.status, res.text).toBe(200);
    // segment 0, half made, listed at the length it will have, in both renditions
    expect(res.text.match(/<S t="0" d="1000"\/>/g)).toHaveLength(2);
    expect(res.text).toContain('availabilityTimeOffset="0.5"');
    // no stale-while-revalidate for an edge: a copy a refetch older could still name the segment before
    expect(res.headers['cdn-cache-control']).toBe('max-age=1');
    expect(res.headers['cache-control']).toBe('public, max-age=0, s-maxage=1');
  });

  it('once an MPD was served, a rendition come late with nothing listed does not hold it back', async () => {
    enc.init();
    enc.segments(0, 0);
    expect((await get('/live/ch/manifest.mpd')).status).toBe(200);
    const late = { ...rendition('late', 'audio'), language: 'fr' };
    enc.renditions = [...enc.renditions, late];
    enc.init([late]);
    enc.part(1, 0);
    const mpd = await get('/live/ch/manifest.mpd');
    expect(mpd.status, mpd.text).toBe(200);
    expect(mpd.text).toContain('<Representation id="late"');
    expect(await heldAtStart()).toBe(0);
  });

  it('answers an MPD 503 after the hold while the first segment is still in production', async () => {
    enc.init();
    enc.part(0, 0);
    const res = await get('/live/ch/manifest.mpd');
    expect(res.status).toBe(503);
    expect(res.headers['retry-after']).toBe('1');
    expect(errorOf(res.text)).toBe('live channel "ch" has no segment an MPD can list yet');
  });

  it('answers 503 with Retry-After when no media comes within the hold', async () => {
    const started = Date.now();
    const res = await get('/live/ch/manifest.mpd');
    expect(res.status).toBe(503);
    expect(res.headers['retry-after']).toBe('1');
    expect(errorOf(res.text)).toBe('live channel "ch" is starting');
    expect(Date.now() - started).toBeGreaterThanOrEqual(1900); // it was held, not answered at once
    expect(await heldAtStart()).toBe(0);
  });

  it('lets go of a request whose client went away', async () => {
    const ac = new AbortController();
    const asked = get('/live/ch/master.m3u8', ac.signal).catch((e: Error) => e);
    await until(async () => (await heldAtStart()) === 1, 5000, 'the request held');
    ac.abort();
    expect(await asked).toBeInstanceOf(Error);
    await until(async () => (await heldAtStart()) === 0, 5000, 'the hold released');
  });

  it('answers a channel whose run failed at once, with the failure', async () => {
    const held = get('/live/ch/manifest.mpd');
    await until(async () => (await heldAtStart()) === 1, 5000, 'the request held');
    enc.stop(); // the run ends before any media: the channel fails
    const res = await held;
    expect(res.status).toBe(503);
    expect(errorOf(res.text)).toBe('live channel "ch" is failed: source ended');
  });
});

describe('the clock a live MPD names (origin --utc-timing)', () => {
  it("is /time on the MPD's host unless told; told, the URL given (dash.js resolves a bare path against its page)", async () => {
    enc.init();
    enc.segments(0, 0);
    expect((await get('/live/ch/manifest.mpd')).text).toContain(
      '<UTCTiming schemeIdUri="urn:mpeg:dash:utc:http-iso:2014" value="/time"/>',
    );
    const dir2 = mkdtempSync(join(tmpdir(), 'se-live-utc-'));
    const enc2 = new FakeEncoder();
    const told = await createOrigin({
      processMetrics: false,
      root: dir2,
      live: [{ id: 'ch', source: 'fake', segmentDuration: 1, partDuration: 0.5, dvrWindow: 120 }],
      channelOptions: { stallTimeoutMs: 60_000, utcTiming: 'https://cdn.example/time' },
      startRun: enc2.start,
    });
    try {
      const base = await told.listen(0, '127.0.0.1');
      await enc2.runStarted(1);
      enc2.init();
      enc2.segments(0, 0);
      const text = await (await request(`${base}/live/ch/manifest.mpd`)).body.text();
      expect(text).toContain(
        '<UTCTiming schemeIdUri="urn:mpeg:dash:utc:http-iso:2014" value="https://cdn.example/time"/>',
      );
    } finally {
      await told.close();
      rmSync(dir2, { recursive: true, force: true });
    }
  });
});
