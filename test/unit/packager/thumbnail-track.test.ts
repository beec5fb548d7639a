/**
 * The thumbnail track's planning and finishing (packager/thumbnail-track.ts) and its branch of
 * the encoder's command line: option rules with the message each refusal gives, the picture
 * height from the video's aspect ratio, one more split branch to a JPEG sheet output (no new
 * decode, no pipe), and the sheets ffmpeg wrote checked against the media's length.
 */
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { buildEncodeArgs } from '../../../packager/encode-args.js';
import type { LadderPlan } from '../../../packager/ladder.js';
import { finishThumbnails, planThumbnails } from '../../../packager/thumbnail-track.js';

const rung = { codec: 'h264' as const, bitrate: 1e6, maxrate: 1.2e6, bufsize: 2e6, profile: 'main' as const };
const plan: LadderPlan = {
  frameRate: [30, 1],
  video: [
    { id: '720p', width: 1280, height: 720, ...rung },
    { id: '360p', width: 640, height: 360, ...rung },
  ],
};

describe('planThumbnails', () => {
  it('defaults: one picture per segment, 240 wide, 3×3; the height keeps the aspect ratio, even', () => {
    expect(planThumbnails({}, plan, 4, '/x')).toEqual({
      dir: '/x',
      intervalSec: 4,
      width: 240,
      height: 136,
      columns: 3,
      rows: 3,
    });
    const portrait = { ...plan, video: [{ id: '1080p', width: 608, height: 1080, ...rung }] };
    expect(planThumbnails({ width: 120 }, portrait, 2, '/x').height).toBe(214);
  });

  it.each([
    [{ intervalSec: 0 }, /--thumbnail-interval 0: use between 0.1 and 600 seconds/],
    [{ intervalSec: 601 }, /--thumbnail-interval 601/],
    [{ width: 241 }, /--thumbnail-width 241: use an even number of pixels between 16 and 1920/],
    [{ width: 14 }, /--thumbnail-width 14/],
    [{ width: 1922 }, /--thumbnail-width 1922/],
    [{ columns: 0 }, /--thumbnail-layout: 0 columns; use 1 to 32/],
    [{ rows: 33 }, /--thumbnail-layout: 33 rows; use 1 to 32/],
    [{ columns: 1.5 }, /1.5 columns/],
    [{ width: 480, columns: 10 }, /--thumbnail-layout 10x3: sheets of 4800x810 pixels; keep them within 4096/],
  ])('refuses %j', (opts, message) => {
    expect(() => planThumbnails(opts, plan, 4, '/x')).toThrow(message);
  });

  it('refuses a ladder without video', () => {
    expect(() => planThumbnails({}, { ...plan, video: [] }, 4, '/x')).toThrow(/no video/);
  });
});

describe('the encoder branch', () => {
  it('one more split branch: fps round=up, scale, tile, to numbered JPEGs; the pipes are unchanged', () => {
    const sheets = planThumbnails({ intervalSec: 2.5, width: 160, columns: 5, rows: 3 }, plan, 4, '/out/thumbnails');
    const { args, outputs } = buildEncodeArgs({ args: ['-i', 'in.mp4'] }, plan, {
      segmentDuration: 4,
      partDuration: 1,
      thumbnails: sheets,
    });
    expect(outputs.map((o) => o.fd)).toEqual([3, 4]);
    expect(args.filter((a) => a === '-i')).toHaveLength(1);
    const graph = args[args.indexOf('-filter_complex') + 1];
    expect(graph).toContain('format=yuv420p,split=3[s0][s1][s2]');
    expect(graph).toContain('[s2]fps=fps=1000/2500:round=up,scale=w=160:h=90:flags=bicubic,setsar=1,tile=5x3[th]');
    const out = args.indexOf('[th]');
    expect(args.slice(out - 1, out + 1)).toEqual(['-map', '[th]']);
    expect(args.slice(out).join(' ')).toMatch(
      /-c:v mjpeg -q:v 5 -f image2 -start_number 1 \/out\/thumbnails\/tile-%d\.jpg/,
    );
    // without thumbnails, the graph is as before
    const plain = buildEncodeArgs({ args: ['-i', 'in.mp4'] }, plan, { segmentDuration: 4, partDuration: 1 }).args;
    expect(plain.join(' ')).not.toMatch(/mjpeg|tile=|split=3/);
  });
});

describe('finishThumbnails', () => {
  let dir = '';
  afterEach(() => rmSync(dir, { recursive: true, force: true }));
  const sheets = (names: Record<string, number>) => {
    dir = mkdtempSync(join(tmpdir(), 'thumbs-'));
    for (const [name, size] of Object.entries(names)) writeFileSync(join(dir, name), Buffer.alloc(size));
    return planThumbnails({ intervalSec: 1, width: 64, columns: 2, rows: 2 }, plan, 2, dir);
  };

  it('one sheet per 4 s of media; the peak bit rate from the largest sheet over the time it covers', () => {
    const track = finishThumbnails(sheets({ 'tile-1.jpg': 4000, 'tile-2.jpg': 1000 }), 6, 'log');
    expect(track).toEqual({
      id: 'thumbnails',
      width: 64,
      height: 36,
      columns: 2,
      rows: 2,
      intervalSec: 1,
      sheets: 2,
      bandwidth: 8000,
    });
    // shorter than one sheet: over the media's length
    expect(finishThumbnails(sheets({ 'tile-1.jpg': 1000 }), 2, 'log').bandwidth).toBe(4000);
  });

  it('an extra sheet past the end (the last frame on a sheet boundary) is removed', () => {
    const t = finishThumbnails(sheets({ 'tile-1.jpg': 10, 'tile-2.jpg': 10, 'tile-3.jpg': 10 }), 8, 'log');
    expect(t.sheets).toBe(2);
    expect(readdirSync(dir).sort()).toEqual(['tile-1.jpg', 'tile-2.jpg']);
  });

  it('too few sheets is the encoder failing, with its log named', () => {
    expect(() => finishThumbnails(sheets({ 'tile-1.jpg': 10 }), 6, '/logs/x.log')).toThrow(
      /ffmpeg wrote 1 thumbnail sheets where 6.0 s of video needs 2; full log: \/logs\/x.log/,
    );
  });
});
