/**
 * A live channel's first manifests wait for every rendition its run planned. The presentation
 * was served as soon as any rendition had a part: a player that joined in the moment between the
 * video's first part and the audio's got a multivariant playlist without the audio group and
 * played video only for good (seen in CI: test/browser/player-retry.test.ts found one media
 * playlist asked for, not two). The run here is a fake that hands the channel its outputs by hand;
 * the store is real lmdb.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { resolveChannelConfig } from '../../../packager/live/channel-config.js';
import { ChannelStateStore } from '../../../packager/live/channel-state-store.js';
import { LiveChannel, type RunHandle, type RunSink } from '../../../packager/live/live-channel.js';
import type { Part, Rendition } from '../../../src/media/presentation.js';

let dir: string;
let store: ChannelStateStore;
let channel: LiveChannel | undefined;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'se-live-start-'));
  store = new ChannelStateStore(join(dir, 'state.lmdb'));
});

afterEach(async () => {
  await channel?.close();
  channel = undefined;
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

const video: Rendition = {
  id: '180p',
  kind: 'video',
  codecs: 'avc1.4d400d',
  bandwidth: 200_000,
  averageBandwidth: 200_000,
  timescale: 90_000,
  width: 320,
  height: 180,
};
const audio: Rendition = {
  id: 'audio',
  kind: 'audio',
  codecs: 'mp4a.40.2',
  bandwidth: 64_000,
  averageBandwidth: 64_000,
  timescale: 48_000,
  sampleRate: 48_000,
  channels: 2,
};

/** A channel whose run plans `180p` then `audio`; the test feeds the sink by hand. */
async function startChannel(): Promise<RunSink> {
  let sink: RunSink | undefined;
  let started = (): void => undefined;
  const running = new Promise<void>((resolve) => (started = resolve));
  channel = new LiveChannel(resolveChannelConfig({ id: 'c', source: 'rtmp://127.0.0.1:1935/live/key' }), {
    liveDir: dir,
    store,
    startRun: (req): Promise<RunHandle> => {
      sink = req.sink;
      let exited = (): void => undefined;
      const done = new Promise<void>((resolve) => (exited = resolve));
      queueMicrotask(started);
      return Promise.resolve({ done, kill: () => exited(), renditions: ['180p', 'audio'] });
    },
  });
  await channel.start();
  await running;
  await Promise.resolve(); // the channel takes the run's handle (and its plan) in a then()
  return sink!;
}

const bytes = Buffer.from('not a box');
function part(r: Rendition, index: number): Part {
  return { index, duration: r.timescale / 2, bytes: bytes.length, independent: index === 0 };
}

function ids(): string[] | undefined {
  return channel!.presentation()?.timelines.map((t) => t.rendition.id);
}

describe('a live channel starting', () => {
  it('serves no manifest while a planned rendition has no media, then one naming both', async () => {
    const sink = await startChannel();
    sink.init('180p', bytes, video);
    sink.part('180p', 0, part(video, 0), bytes);
    expect(ids()).toBeUndefined(); // video only so far: a manifest now would lack the audio
    sink.init('audio', bytes, audio);
    expect(ids()).toBeUndefined(); // a header is not media
    sink.part('audio', 0, part(audio, 0), bytes);
    expect(ids()).toEqual(['180p', 'audio']);
  });

  it('serves without a rendition that lags a whole segment behind the others', async () => {
    const sink = await startChannel();
    sink.init('180p', bytes, video);
    for (let i = 0; i < 4; i++) sink.part('180p', 0, part(video, i), bytes);
    expect(ids()).toBeUndefined();
    sink.segment('180p', {
      number: 0,
      start: 0,
      duration: 2 * video.timescale,
      bytes: 4 * bytes.length,
      parts: [],
      complete: true,
    });
    expect(ids()).toEqual(['180p']);
  });

  it('once served, keeps serving when a rendition goes missing later', async () => {
    const sink = await startChannel();
    for (const r of [video, audio]) {
      sink.init(r.id, bytes, r);
      sink.part(r.id, 0, part(r, 0), bytes);
    }
    expect(ids()).toEqual(['180p', 'audio']);
    channel!.windows.get('audio')!.close();
    channel!.windows.delete('audio');
    sink.part('180p', 0, part(video, 1), bytes); // a new version of the channel
    expect(ids()).toEqual(['180p']);
  });
});
