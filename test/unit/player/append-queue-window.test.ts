/**
 * The append window of a SourceBuffer's queue: a DASH Period's bounds, and the floor an audio
 * switch sets (frames before the switch point are dropped, so the new language replaces the old
 * from there on, not under the playhead). Before, a multi-Period MPD's window, set again for each
 * chunk, wiped the switch point out: the new track's first chunk was appended from its Period's
 * start, over the audio being played. And a switch point past the last Period window's end threw
 * (MSE refuses an appendWindowStart at or past appendWindowEnd). The fake SourceBuffer keeps
 * MSE's rules for those setters and records the window each append met.
 */
import { describe, expect, it } from 'vitest';
import { AppendQueue } from '../../../player-demo/player/append-queue.js';

/** A SourceBuffer as far as the queue uses it, with MSE's checks on the append window setters. */
class FakeSourceBuffer extends EventTarget {
  timestampOffset = 0;
  private start = 0;
  private end = Infinity;
  /** The append window each appendBuffer call met. */
  readonly appends: [number, number][] = [];
  readonly buffered = { length: 0, start: () => 0, end: () => 0 };

  get appendWindowStart(): number {
    return this.start;
  }
  set appendWindowStart(v: number) {
    if (v < 0 || v >= this.end) throw new TypeError(`appendWindowStart ${v} not below appendWindowEnd ${this.end}`);
    this.start = v;
  }
  get appendWindowEnd(): number {
    return this.end;
  }
  set appendWindowEnd(v: number) {
    if (Number.isNaN(v) || v <= this.start)
      throw new TypeError(`appendWindowEnd ${v} not above appendWindowStart ${this.start}`);
    this.end = v;
  }
  appendBuffer(): void {
    this.appends.push([this.start, this.end]);
    queueMicrotask(() => this.dispatchEvent(new Event('updateend')));
  }
  remove(): void {
    queueMicrotask(() => this.dispatchEvent(new Event('updateend')));
  }
}

function queue(): { q: AppendQueue; sb: FakeSourceBuffer } {
  const sb = new FakeSourceBuffer();
  const video = { currentTime: 0 } as HTMLMediaElement;
  return { q: new AppendQueue(sb as unknown as SourceBuffer, video), sb };
}

const bytes = new Uint8Array(4);

describe('the append window of a SourceBuffer queue', () => {
  it("keeps an audio switch's point through the Period window set for its first chunk", async () => {
    const { q, sb } = queue();
    await q.window(0, 4);
    await q.append(bytes);
    // switched at 5.2 s; the first chunk of the new track is in the Period [4, 8)
    await q.dropBefore(5.2);
    await q.window(4, 8);
    await q.append(bytes);
    // the switch is over: the next chunk gets its Period's whole window
    await q.dropBefore(0);
    await q.window(4, 8);
    await q.append(bytes);
    expect(sb.appends).toEqual([
      [0, 4],
      [5.2, 8],
      [4, 8],
    ]);
  });

  it('sets a switch point past the last Period window end without an error', async () => {
    const { q, sb } = queue();
    await q.window(0, 4);
    await q.append(bytes);
    await expect(q.dropBefore(4.5)).resolves.toBeUndefined();
    await q.window(4, 8);
    await q.append(bytes);
    expect(sb.appends).toEqual([
      [0, 4],
      [4.5, 8],
    ]);
  });

  it('gives a chunk wholly before the switch point a sliver of its window, not an error', async () => {
    const { q, sb } = queue();
    await q.dropBefore(9);
    await q.window(4, 8);
    await q.append(bytes);
    expect(sb.appends[0][0]).toBeCloseTo(7.999, 6);
    expect(sb.appends[0][1]).toBe(8);
  });

  it('drops frames before the switch point in a single-Period stream too, and stops at dropBefore(0)', async () => {
    const { q, sb } = queue();
    await q.dropBefore(3);
    await q.append(bytes);
    await q.dropBefore(0);
    await q.append(bytes);
    expect(sb.appends).toEqual([
      [3, Infinity],
      [0, Infinity],
    ]);
  });
});
