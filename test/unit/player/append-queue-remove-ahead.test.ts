/**
 * What a seek out of the buffer drops (AppendQueue.removeAhead): the media buffered past the
 * range holding the seek position, worked out when the removal runs. Computed when it was queued,
 * an append queued before it that extended that range lost its media past the old end, while the
 * fetch loop went on from the new end: a hole that was never filled (seen in CI: the audio of a
 * seek never reached 3 s past it).
 */
import { describe, expect, it } from 'vitest';
import { AppendQueue } from '../../../player-demo/player/append-queue.js';

type Range = [number, number];

/** A SourceBuffer's buffered ranges and its async appends and removals, as far as the queue uses them. */
class FakeSourceBuffer extends EventTarget {
  timestampOffset = 0;
  appendWindowStart = 0;
  appendWindowEnd = Infinity;
  ranges: Range[] = [];
  /** The media each append adds, in order. */
  readonly pending: Range[] = [];
  readonly removals: Range[] = [];

  get buffered(): { length: number; start(i: number): number; end(i: number): number } {
    const r = this.ranges;
    return { length: r.length, start: (i) => r[i][0], end: (i) => r[i][1] };
  }
  appendBuffer(): void {
    const add = this.pending.shift()!;
    // (a turn later, as MSE's segment parser loop runs)
    setImmediate(() => {
      this.ranges = merge([...this.ranges, add]);
      this.dispatchEvent(new Event('updateend'));
    });
  }
  remove(start: number, end: number): void {
    this.removals.push([start, end]);
    setImmediate(() => {
      this.ranges = this.ranges
        .flatMap(([a, b]): Range[] => [
          [a, Math.min(b, start)],
          [Math.max(a, end), b],
        ])
        .filter(([a, b]) => b > a);
      this.dispatchEvent(new Event('updateend'));
    });
  }
}

function merge(rs: Range[]): Range[] {
  const out: Range[] = [];
  for (const [a, b] of [...rs].sort((x, y) => x[0] - y[0])) {
    const last = out.at(-1);
    if (last && a <= last[1]) last[1] = Math.max(last[1], b);
    else out.push([a, b]);
  }
  return out;
}

function queue(ranges: Range[]): { q: AppendQueue; sb: FakeSourceBuffer } {
  const sb = new FakeSourceBuffer();
  sb.ranges = ranges;
  const video = { currentTime: 0 } as HTMLMediaElement;
  return { q: new AppendQueue(sb as unknown as SourceBuffer, video), sb };
}

describe('AppendQueue.removeAhead (a seek out of the buffer)', () => {
  it('keeps the range holding the position, as far as an append queued before the removal took it', async () => {
    const { q, sb } = queue([
      [0, 4.5],
      [10, 14],
    ]);
    sb.pending.push([4.5, 6]);
    const appended = q.append(new Uint8Array(4));
    await q.removeAhead(4.3);
    await appended;
    expect(sb.ranges).toEqual([[0, 6]]);
    expect(sb.removals).toEqual([[6, Infinity]]);
  });

  it('drops everything from the position when no range holds it', async () => {
    const { q, sb } = queue([
      [0, 2],
      [10, 14],
    ]);
    await q.removeAhead(5);
    expect(sb.ranges).toEqual([[0, 2]]);
    expect(sb.removals).toEqual([[5, Infinity]]);
  });

  it('removes nothing when nothing lies past the range holding the position', async () => {
    const { q, sb } = queue([[0, 8]]);
    await q.removeAhead(4.3);
    expect(sb.ranges).toEqual([[0, 8]]);
    expect(sb.removals).toEqual([]);
  });
});
