/**
 * LiveThumbnails (packager/live/live-thumbnails.ts) with a stand-in for ffmpeg: which rendition
 * the pictures come from, that only a segment's first part is pictured, one picture at a time
 * (the newest waiting next), failures logged once per streak, the window's pruning, and the
 * track the manifests get. The channel config refuses thumbnails of an encrypted channel.
 */
import { describe, expect, it } from 'vitest';
import { LiveThumbnails, type TakePicture } from '../../../packager/live/live-thumbnails.js';
import { resolveChannelConfig } from '../../../packager/live/channel-config.js';
import type { Part, Rendition } from '../../../src/media/presentation.js';

const video = (id: string, width: number, height: number): Rendition => ({
  id,
  kind: 'video',
  codecs: 'avc1.4d401e',
  bandwidth: 1,
  averageBandwidth: 1,
  timescale: 90000,
  width,
  height,
});
const audio: Rendition = {
  id: 'audio',
  kind: 'audio',
  codecs: 'mp4a.40.2',
  bandwidth: 1,
  averageBandwidth: 1,
  timescale: 48000,
};
const part = (index: number): Part => ({ index, duration: 45000, bytes: 10, independent: index === 0 });

/** A picture taker whose pictures resolve when the test says so. */
function manualTaker() {
  const calls: {
    media: string;
    width: number;
    height: number;
    resolve: (b: Buffer) => void;
    reject: (e: Error) => void;
  }[] = [];
  const take: TakePicture = (media, width, height) =>
    new Promise((resolve, reject) => calls.push({ media: media.toString(), width, height, resolve, reject }));
  return { calls, take };
}

const settle = () => new Promise((r) => setImmediate(r));

function setup(width = 160) {
  const t = manualTaker();
  const events = { pictures: 0, errors: [] as string[] };
  const thumbs = new LiveThumbnails({
    width,
    takePicture: t.take,
    onPicture: () => events.pictures++,
    onError: (e) => events.errors.push(e.message),
  });
  return { thumbs, calls: t.calls, events };
}

describe('LiveThumbnails', () => {
  it('pictures come from the smallest video rendition at least as wide; the height keeps its aspect', () => {
    const { thumbs, calls } = setup(160);
    thumbs.init(video('360p', 640, 360), Buffer.from('I360'));
    thumbs.init(audio, Buffer.from('IA'));
    thumbs.init(video('180p', 320, 180), Buffer.from('I180'));
    thumbs.init(video('90p', 150, 84), Buffer.from('I90')); // narrower than the pictures
    thumbs.part('360p', 5, part(0), Buffer.from('P'), 2);
    thumbs.part('90p', 5, part(0), Buffer.from('P'), 2);
    expect(calls).toHaveLength(0);
    thumbs.part('180p', 5, part(0), Buffer.from('P5'), 2);
    expect(calls.map((c) => [c.media, c.width, c.height])).toEqual([['I180P5', 160, 90]]);
  });

  it('only the first part of a segment, once; one picture at a time, the newest waiting next', async () => {
    const { thumbs, calls, events } = setup();
    thumbs.init(video('180p', 320, 180), Buffer.from('I'));
    thumbs.part('180p', 1, part(0), Buffer.from('1'), 2);
    thumbs.part('180p', 1, part(1), Buffer.from('x'), 2);
    thumbs.part('180p', 2, part(0), Buffer.from('2'), 2);
    thumbs.part('180p', 3, part(0), Buffer.from('3'), 2);
    expect(calls.map((c) => c.media)).toEqual(['I1']);
    calls[0].resolve(Buffer.from('jpeg1'));
    await settle();
    // segment 2 was overtaken by 3 while 1 was being taken
    expect(calls.map((c) => c.media)).toEqual(['I1', 'I3']);
    calls[1].resolve(Buffer.from('jpeg3'));
    await settle();
    expect(events.pictures).toBe(2);
    expect(thumbs.get(1)?.toString()).toBe('jpeg1');
    expect(thumbs.get(2)).toBeUndefined();
    expect(thumbs.get(3)?.toString()).toBe('jpeg3');
    // a segment already pictured is not taken again (a restarted run repeating a number)
    thumbs.part('180p', 3, part(0), Buffer.from('3'), 2);
    expect(calls).toHaveLength(2);
  });

  it('a failure is reported once per streak, and the channel goes on', async () => {
    const { thumbs, calls, events } = setup();
    thumbs.init(video('180p', 320, 180), Buffer.from('I'));
    for (const n of [1, 2]) {
      thumbs.part('180p', n, part(0), Buffer.from(String(n)), 2);
      calls.at(-1)!.reject(new Error(`bad ${n}`));
      await settle();
    }
    expect(events.errors).toEqual(['bad 1']);
    thumbs.part('180p', 3, part(0), Buffer.from('3'), 2);
    calls.at(-1)!.resolve(Buffer.from('ok'));
    await settle();
    thumbs.part('180p', 4, part(0), Buffer.from('4'), 2);
    calls.at(-1)!.reject(new Error('bad 4'));
    await settle();
    expect(events.errors).toEqual(['bad 1', 'bad 4']);
  });

  it('the track: none before the first picture; then 1×1, the segment duration, the numbers; pruned with the window', async () => {
    const { thumbs, calls } = setup();
    thumbs.init(video('180p', 320, 180), Buffer.from('I'));
    expect(thumbs.track()).toBeUndefined();
    for (const n of [7, 8, 9]) {
      thumbs.part('180p', n, part(0), Buffer.from(String(n)), 2);
      calls.at(-1)!.resolve(Buffer.alloc(n === 8 ? 5000 : 1000));
      await settle();
    }
    expect(thumbs.track()).toEqual({
      id: 'thumbnails',
      width: 160,
      height: 90,
      columns: 1,
      rows: 1,
      intervalSec: 2,
      sheets: 0,
      bandwidth: 20000,
      pictures: new Set([7, 8, 9]),
    });
    thumbs.prune((n) => n >= 9);
    expect([...thumbs.track()!.pictures!]).toEqual([9]);
    expect(thumbs.get(7)).toBeUndefined();
  });
});

describe('channel config', () => {
  it('refuses a bad width, and thumbnails of an encrypted channel', () => {
    const base = { id: 'ch', source: 'lavfi' };
    expect(resolveChannelConfig({ ...base, thumbnails: { width: 160 } }).thumbnails).toEqual({ width: 160 });
    expect(() => resolveChannelConfig({ ...base, thumbnails: { width: 161 } })).toThrow(
      /--live-thumbnails 161: use an even number of pixels between 16 and 1920/,
    );
    const key = { kid: '00'.repeat(16), key: Buffer.alloc(16) };
    expect(() =>
      resolveChannelConfig({ ...base, thumbnails: { width: 160 }, protection: { scheme: 'cbcs', key } }),
    ).toThrow(/--live-thumbnails cannot be combined with --live-encrypt/);
  });
});
