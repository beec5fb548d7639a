/**
 * LiveThumbnails (packager/live/live-thumbnails.ts) with a stand-in for its ffmpeg picture
 * stream: which rendition the pictures come from, that only a segment's first part is pictured,
 * a bound on pictures owed, a new ffmpeg per init and after a failure (reported once per
 * streak), the window's pruning, the pictures on disk across a restart, and the track the
 * manifests get. The JPEG splitter that reads
 * ffmpeg's output. The channel config's rules.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LiveThumbnails } from '../../../packager/live/live-thumbnails.js';
import type { OpenPictureStream } from '../../../packager/live/picture-stream.js';
import { JpegSplitter } from '../../../packager/live/jpeg-splitter.js';
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

/** Picture streams whose pictures come back when the test says so, in order, as ffmpeg's do. */
function manualStreams() {
  const streams: {
    init: string;
    size: [number, number];
    fragments: string[];
    closed: boolean;
    owed: ((e?: Error) => void)[];
  }[] = [];
  const open: OpenPictureStream = (init, width, height) => {
    const s = {
      init: init.toString(),
      size: [width, height] as [number, number],
      fragments: [] as string[],
      closed: false,
      owed: [] as ((e?: Error) => void)[],
    };
    streams.push(s);
    return {
      take(fragment) {
        s.fragments.push(fragment.toString());
        return new Promise<Buffer>((resolve, reject) =>
          s.owed.push((e) => (e ? reject(e) : resolve(Buffer.from(`jpeg:${fragment.toString()}`)))),
        );
      },
      get pending() {
        return s.owed.length;
      },
      close() {
        s.closed = true;
        return Promise.resolve();
      },
    };
  };
  /** Stream k hands over its next owed picture (or fails it). */
  const give = async (k: number, e?: Error) => {
    streams[k].owed.shift()!(e);
    await new Promise((r) => setImmediate(r));
  };
  return { streams, open, give };
}

function setup(width = 160, dir?: string) {
  const m = manualStreams();
  const events = { pictures: 0, errors: [] as string[] };
  const thumbs = new LiveThumbnails({
    width,
    segmentSec: 2,
    ...(dir ? { dir } : {}),
    openStream: m.open,
    onPicture: () => events.pictures++,
    onError: (e) => events.errors.push(e.message),
  });
  return { thumbs, ...m, events };
}

describe('LiveThumbnails', () => {
  it('pictures come from the smallest video rendition at least as wide; the height keeps its aspect', () => {
    const { thumbs, streams } = setup(160);
    thumbs.init(video('360p', 640, 360), Buffer.from('I360'));
    thumbs.init(audio, Buffer.from('IA'));
    thumbs.init(video('180p', 320, 180), Buffer.from('I180'));
    thumbs.init(video('90p', 150, 84), Buffer.from('I90')); // narrower than the pictures
    thumbs.part('360p', 5, part(0), () => Buffer.from('P'));
    thumbs.part('90p', 5, part(0), () => Buffer.from('P'));
    expect(streams).toHaveLength(0);
    thumbs.part('180p', 5, part(0), () => Buffer.from('P5'));
    expect(streams.map((s) => [s.init, s.size, s.fragments])).toEqual([['I180', [160, 90], ['P5']]]);
  });

  it('only first parts, once each, into one ffmpeg; pictures land by segment number', async () => {
    const { thumbs, streams, give, events } = setup();
    thumbs.init(video('180p', 320, 180), Buffer.from('I'));
    thumbs.part('180p', 1, part(0), () => Buffer.from('1'));
    thumbs.part('180p', 1, part(1), () => Buffer.from('x'));
    thumbs.part('180p', 1, part(0), () => Buffer.from('1')); // already being taken
    thumbs.part('180p', 2, part(0), () => Buffer.from('2'));
    expect(streams).toHaveLength(1);
    expect(streams[0].fragments).toEqual(['1', '2']);
    await give(0);
    await give(0);
    expect(events.pictures).toBe(2);
    expect(thumbs.get(1)?.toString()).toBe('jpeg:1');
    expect(thumbs.get(2)?.toString()).toBe('jpeg:2');
    thumbs.part('180p', 2, part(0), () => Buffer.from('2')); // pictured already
    expect(streams[0].fragments).toEqual(['1', '2']);
  });

  it('when ffmpeg owes 3 pictures, new segments are skipped, not queued', () => {
    const { thumbs, streams } = setup();
    thumbs.init(video('180p', 320, 180), Buffer.from('I'));
    for (const n of [1, 2, 3, 4, 5]) thumbs.part('180p', n, part(0), () => Buffer.from(String(n)));
    expect(streams[0].fragments).toEqual(['1', '2', '3']);
  });

  it('a new init (encoder restart) closes the ffmpeg, which still hands over what it owes', async () => {
    const { thumbs, streams, give } = setup();
    thumbs.init(video('180p', 320, 180), Buffer.from('I1'));
    thumbs.part('180p', 1, part(0), () => Buffer.from('1'));
    thumbs.init(video('180p', 320, 180), Buffer.from('I2'));
    expect(streams[0].closed).toBe(true);
    thumbs.part('180p', 2, part(0), () => Buffer.from('2'));
    expect(streams.map((s) => [s.init, s.fragments])).toEqual([
      ['I1', ['1']],
      ['I2', ['2']],
    ]);
    await give(0);
    expect(thumbs.get(1)?.toString()).toBe('jpeg:1');
    await thumbs.close();
    expect(streams[1].closed).toBe(true);
  });

  it('a failure is reported once per streak; the next segment gets a fresh ffmpeg', async () => {
    const { thumbs, streams, give, events } = setup();
    thumbs.init(video('180p', 320, 180), Buffer.from('I'));
    thumbs.part('180p', 1, part(0), () => Buffer.from('1'));
    await give(0, new Error('bad 1'));
    thumbs.part('180p', 2, part(0), () => Buffer.from('2'));
    expect(streams).toHaveLength(2);
    await give(1, new Error('bad 2'));
    expect(events.errors).toEqual(['bad 1']);
    thumbs.part('180p', 3, part(0), () => Buffer.from('3'));
    await give(2);
    thumbs.part('180p', 4, part(0), () => Buffer.from('4'));
    await give(2, new Error('bad 4'));
    expect(events.errors).toEqual(['bad 1', 'bad 4']);
    expect(thumbs.get(3)?.toString()).toBe('jpeg:3');
    // what /health shows: failing now, with the latest error; fine again after a picture
    expect(thumbs.status()).toEqual({ pictures: 1, failing: 'bad 4' });
    thumbs.part('180p', 5, part(0), () => Buffer.from('5'));
    await give(3);
    expect(thumbs.status()).toEqual({ pictures: 2 });
  });

  it('the track: none before the init; listed from it, before the first picture; 1×1, the segment duration, the numbers; pruned with the window', async () => {
    const { thumbs, give } = setup();
    expect(thumbs.track()).toBeUndefined();
    thumbs.init(video('180p', 320, 180), Buffer.from('I'));
    // a joining HLS player reads the multivariant once: the image stream is there already
    expect(thumbs.track()).toMatchObject({ width: 160, height: 90, bandwidth: 14400, pictures: new Set() });
    for (const n of [7, 8, 9])
      thumbs.part('180p', n, part(0), () => Buffer.from(n === 8 ? 'x'.repeat(4990) : String(n)));
    for (let i = 0; i < 3; i++) await give(0);
    expect(thumbs.track()).toEqual({
      id: 'thumbnails',
      width: 160,
      height: 90,
      columns: 1,
      rows: 1,
      intervalSec: 2,
      sheets: 0,
      bandwidth: 19980, // the largest picture: 4,995 bytes over 2 s
      pictures: new Set([7, 8, 9]),
    });
    thumbs.prune((n) => n >= 9);
    expect([...thumbs.track()!.pictures!]).toEqual([9]);
    expect(thumbs.get(7)).toBeUndefined();
  });
});

describe('LiveThumbnails on disk', () => {
  it('writes each picture, deletes it with the window, and a restart reads back what the window keeps', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'live-thumbs-'));
    try {
      const { thumbs, give } = setup(160, dir);
      thumbs.init(video('180p', 320, 180), Buffer.from('I'));
      for (const n of [4, 5, 6]) thumbs.part('180p', n, part(0), () => Buffer.from(String(n)));
      for (let i = 0; i < 3; i++) await give(0);
      thumbs.prune((n) => n >= 5);
      await thumbs.close();
      expect(readdirSync(dir).sort()).toEqual(['tile-5.jpg', 'tile-6.jpg']);
      expect(readFileSync(join(dir, 'tile-6.jpg')).toString()).toBe('jpeg:6');
      writeFileSync(join(dir, 'tile-6.jpg.tmp-1-1'), 'half');

      // the restart: the restored window keeps segment 6 only
      const again = setup(160, dir);
      await again.thumbs.restore((n) => n >= 6);
      expect(readdirSync(dir)).toEqual(['tile-6.jpg']);
      expect(again.thumbs.get(6)?.toString()).toBe('jpeg:6');
      expect(again.thumbs.get(5)).toBeUndefined();
      // listed once the new run says which rendition the pictures come from (their size)
      expect(again.thumbs.track()).toBeUndefined();
      again.thumbs.init(video('180p', 320, 180), Buffer.from('I'));
      expect([...again.thumbs.track()!.pictures!]).toEqual([6]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a picture that cannot be written is reported once, and kept in memory', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'live-thumbs-')), 'not-a-folder');
    writeFileSync(file, 'x');
    const { thumbs, give, events } = setup(160, file);
    thumbs.init(video('180p', 320, 180), Buffer.from('I'));
    for (const n of [1, 2]) thumbs.part('180p', n, part(0), () => Buffer.from(String(n)));
    await give(0);
    await give(0);
    await thumbs.close();
    expect(events.errors).toHaveLength(1);
    expect(events.errors[0]).toMatch(/EEXIST|ENOTDIR/);
    expect(thumbs.get(2)?.toString()).toBe('jpeg:2');
    rmSync(dirname(file), { recursive: true, force: true });
  });
});

describe('JpegSplitter', () => {
  /** A minimal baseline JPEG: SOI, a table segment holding FF D9 bytes, SOS, stuffed scan data, EOI. */
  const jpeg = (fill: number) =>
    Buffer.from([
      0xff,
      0xd8,
      0xff,
      0xdb,
      0x00,
      0x05,
      0xff,
      0xd9,
      fill,
      0xff,
      0xda,
      0x00,
      0x02,
      0x12,
      0xff,
      0x00,
      0xff,
      0xd3,
      fill,
      0xff,
      0xd9,
    ]);

  it('cuts whole images whatever the chunking; FF D9 inside a table or stuffed data does not end one', () => {
    const stream = Buffer.concat([jpeg(1), jpeg(2), jpeg(3)]);
    for (const cut of [1, 2, 7, 13]) {
      const splitter = new JpegSplitter();
      const images: Buffer[] = [];
      for (let i = 0; i < stream.length; i += cut) images.push(...splitter.push(stream.subarray(i, i + cut)));
      expect(
        images.map((b) => b.toString('hex')),
        `chunks of ${cut}`,
      ).toEqual([jpeg(1), jpeg(2), jpeg(3)].map((b) => b.toString('hex')));
    }
  });

  it('refuses what is not a JPEG stream', () => {
    expect(() => new JpegSplitter().push(Buffer.from('hello'))).toThrow(/no SOI/);
  });
});

describe('channel config', () => {
  it('refuses a bad width; takes an encrypted channel (its pictures come from the chunks before encryption)', () => {
    const base = { id: 'ch', source: 'lavfi' };
    expect(resolveChannelConfig({ ...base, thumbnails: { width: 160 } }).thumbnails).toEqual({ width: 160 });
    expect(() => resolveChannelConfig({ ...base, thumbnails: { width: 161 } })).toThrow(
      /--live-thumbnails 161: use an even number of pixels between 16 and 1920/,
    );
    const key = { kid: '00'.repeat(16), key: Buffer.alloc(16) };
    const encrypted = { ...base, thumbnails: { width: 160 }, protection: { scheme: 'cbcs' as const, key } };
    expect(resolveChannelConfig(encrypted).thumbnails).toEqual({ width: 160 });
  });
});
