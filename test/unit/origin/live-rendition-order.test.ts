/**
 * A live channel lists its renditions in the order its run planned them (the ladder's rungs,
 * then the source's audio tracks in order), not in the order the encoder's outputs happened to
 * deliver their first bytes: ffmpeg's outputs race, and a feed's French track once came before
 * its English one in the multivariant playlist and the MPD. The saved window keeps that order,
 * so an origin restarted on it lists the plan order before its next run starts (or when it
 * cannot). Real HTTP against an origin whose encoder the test drives (its outputs' init segments
 * arrive in the reverse of the plan).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { createOrigin, type Origin } from '../../../packager/origin/server.js';
import { FakeEncoder, rendition } from './fake-encoder.js';

let dir: string;
let origin: Origin | undefined;
let url: string;
const enc = new FakeEncoder();
const english = { ...rendition('audio-en', 'audio'), language: 'en', default: true };
const french = { ...rendition('audio-fr', 'audio'), language: 'fr' };
const high = { ...rendition('720p', 'video'), width: 1280, height: 720, bandwidth: 3_000_000 };
const low = rendition('360p', 'video');
enc.renditions = [low, high, english, french];
enc.planned = ['360p', '720p', 'audio-en', 'audio-fr'];

async function text(path: string): Promise<string> {
  const res = await request(`${url}${path}`);
  expect(res.statusCode).toBe(200);
  return res.body.text();
}

/** An origin on `dir` with the live channel `ch` that `encoder` drives; its URL. */
async function startOrigin(encoder: FakeEncoder): Promise<string> {
  origin = await createOrigin({
    processMetrics: false,
    root: dir,
    live: [{ id: 'ch', source: 'fake', segmentDuration: 1, partDuration: 0.5, dvrWindow: 120 }],
    channelOptions: { stallTimeoutMs: 60_000 },
    startRun: encoder.start,
  });
  return origin.listen(0, '127.0.0.1');
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'se-live-order-'));
  url = await startOrigin(enc);
  await enc.runStarted(1);
  // the outputs' first bytes arrive in the reverse of the plan
  enc.init([...enc.renditions].reverse());
  enc.segments(0, 1);
});

afterAll(async () => {
  await origin?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('a live channel whose encoder outputs start in another order than planned', () => {
  it('lists the renditions in the plan order in the multivariant playlist', async () => {
    const master = await text('/live/ch/master.m3u8');
    const audio = master.split('\n').filter((l) => l.startsWith('#EXT-X-MEDIA:TYPE=AUDIO'));
    expect(audio, master).toEqual([
      expect.stringContaining('LANGUAGE="en",DEFAULT=YES'),
      expect.stringContaining('LANGUAGE="fr",DEFAULT=NO'),
    ]);
    const variants = master.split('\n').filter((l) => l.endsWith('/index.m3u8') && !l.startsWith('#'));
    expect(variants).toEqual(['360p/index.m3u8', '720p/index.m3u8']);
    // and /health's list
    const health = JSON.parse(await text('/health')) as { channels: { id: string; renditions: string[] }[] };
    expect(health.channels.find((c) => c.id === 'ch')?.renditions).toEqual(['360p', '720p', 'audio-en', 'audio-fr']);
  });

  it('lists them in the plan order in the MPD', async () => {
    const mpd = await text('/live/ch/manifest.mpd');
    const ids = [...mpd.matchAll(/<Representation id="([^"]+)"/g)].map((m) => m[1]);
    expect(ids).toEqual(['360p', '720p', 'audio-en', 'audio-fr']);
  });

  it('keeps the plan order through a restart of the origin, before (or without) a new run', async () => {
    await origin!.close();
    origin = undefined;
    // the new run never starts (its source is down): the saved window is what is served
    const down = new FakeEncoder();
    down.failNextStart = 'source down';
    url = await startOrigin(down);
    const master = await text('/live/ch/master.m3u8');
    expect(
      master.split('\n').filter((l) => l.startsWith('#EXT-X-MEDIA:TYPE=AUDIO')),
      master,
    ).toEqual([
      expect.stringContaining('LANGUAGE="en",DEFAULT=YES'),
      expect.stringContaining('LANGUAGE="fr",DEFAULT=NO'),
    ]);
    const ids = [...(await text('/live/ch/manifest.mpd')).matchAll(/<Representation id="([^"]+)"/g)].map((m) => m[1]);
    expect(ids).toEqual(['360p', '720p', 'audio-en', 'audio-fr']);
  });
});
