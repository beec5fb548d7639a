import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ProgressParser } from '../../../packager/ffmpeg-run.js';
import { createProgressReporter } from '../../../packager/progress.js';
import { measureBandwidth } from '../../../packager/rendition-stats.js';
import { leadingStypLength, mergeTail } from '../../../packager/segment-merge.js';
import type { Segment } from '../../../src/media/presentation.js';
import { styp } from '../../../src/cmaf/writers.js';

describe('ProgressParser', () => {
  it('reports out_time_us at each progress= line, across split chunks', () => {
    const seen: number[] = [];
    const p = new ProgressParser((s) => seen.push(s));
    p.push('frame=10\nout_time_us=1500000\nout_time_ms=1500000\nout_ti');
    p.push(
      'me=00:00:01.500000\nprogress=continue\nout_time_ms=2500000\nprogress=continue\nout_time=00:01:02.250000\nprogress=end\n',
    );
    expect(seen).toEqual([1.5, 2.5, 62.25]);
  });
});

describe('progress reporter (non-TTY)', () => {
  it('prints a plain line per 10% and a final line', () => {
    const stream = new PassThrough();
    let text = '';
    stream.on('data', (d: Buffer) => (text += d.toString()));
    const r = createProgressReporter({
      totalSec: 10,
      label: 'job',
      stream: stream as unknown as NodeJS.WriteStream,
      tty: false,
    });
    for (const t of [0.5, 1, 1.2, 3.4, 9.9]) r.update(t);
    r.stop(true);
    expect(text.trim().split('\n')).toEqual([
      'job: 10% (1.0/10.0 s)',
      'job: 34% (3.4/10.0 s)',
      'job: 99% (9.9/10.0 s)',
      'job: 100% (10.0 s encoded)',
    ]);
  });
});

function seg(n: number, start: number, duration: number, bytes: number, iframes?: Segment['iframes']): Segment {
  return {
    number: n,
    start,
    duration,
    bytes,
    parts: [{ index: 0, duration, bytes, independent: true }],
    complete: true,
    iframes,
  };
}

describe('measureBandwidth', () => {
  it('peak is the worst segment, average is total bytes over total time', () => {
    const bw = measureBandwidth([seg(1, 0, 90000, 100_000), seg(2, 90000, 45000, 100_000)], 90000);
    expect(bw.peak).toBe(1_600_000);
    expect(bw.average).toBe(Math.ceil((200_000 * 8) / 1.5));
  });
});

describe('mergeTail', () => {
  it('appends the tail without its styp and keeps parts and I-frames consistent', () => {
    const s = styp();
    const tailBytes = Buffer.concat([s, Buffer.alloc(50, 1)]);
    expect(leadingStypLength(tailBytes)).toBe(s.length);
    const prev = seg(3, 0, 4000, 1000, [{ offset: 24, length: 500, duration: 4000 }]);
    const tail = seg(4, 4000, 10, tailBytes.length, []);
    const { append, merged } = mergeTail(prev, tail, tailBytes);
    expect(append.length).toBe(50);
    expect(merged).toMatchObject({ number: 3, start: 0, duration: 4010, bytes: 1050 });
    expect(merged.parts.map((p) => [p.index, p.bytes])).toEqual([
      [0, 1000],
      [1, 50],
    ]);
    expect(merged.iframes).toEqual([{ offset: 24, length: 500, duration: 4010 }]);
  });
});
