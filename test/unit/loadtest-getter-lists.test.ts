import { describe, expect, it } from 'vitest';
import type { Dispatcher } from 'undici';
import type { GetDispatcher, GetRequest } from '../../bench/loadtest/h1-client.js';
import { HttpGetter } from '../../bench/loadtest/http-get.js';
import { IntrusiveList, type Linked } from '../../bench/loadtest/intrusive-list.js';
import { LoadStats } from '../../bench/loadtest/load-stats.js';
import { parseProfile, Shaper } from '../../bench/loadtest/shaping.js';
import { TimerWheel } from '../../bench/loadtest/timer-wheel.js';

class Item implements Linked<Item> {
  prev: Item | undefined = undefined;
  next: Item | undefined = undefined;
  constructor(readonly id: number) {}
}

describe('IntrusiveList', () => {
  it('adds and removes in any order, ignores removing a non-member, and drains what is left', () => {
    const list = new IntrusiveList<Item>();
    const items = [0, 1, 2, 3, 4].map((i) => new Item(i));
    for (const x of items) list.add(x);
    list.remove(items[2]); // middle
    list.remove(items[4]); // head (newest)
    list.remove(items[0]); // tail
    list.remove(items[0]); // again: nothing
    list.remove(new Item(9)); // never added: nothing
    expect(list.empty).toBe(false);
    expect(list.drain().map((x) => x.id)).toEqual([3, 1]);
    expect(list.empty).toBe(true);
    expect(items.every((x) => x.prev === undefined && x.next === undefined)).toBe(true);
    // a drained member can be added again
    list.add(items[1]);
    expect(list.drain().map((x) => x.id)).toEqual([1]);
  });
});

/** A dispatcher that holds every request until the test answers or the getter aborts it. */
class HeldDispatcher implements GetDispatcher {
  readonly held: { opts: GetRequest; handler: Dispatcher.DispatchHandler; aborted?: Error }[] = [];
  dispatch(opts: GetRequest, handler: Dispatcher.DispatchHandler): boolean {
    const entry: (typeof this.held)[number] = { opts, handler };
    this.held.push(entry);
    handler.onRequestStart?.(
      {
        abort: (e: Error) => (entry.aborted = e),
        pause() {},
        resume() {},
        paused: false,
        aborted: false,
        reason: null,
      },
      undefined,
    );
    return true;
  }
  destroy(): Promise<void> {
    return Promise.resolve();
  }
}

describe('HttpGetter in-flight requests and waits (intrusive lists)', () => {
  it('ends waits on time, and on stop rejects the pending waits and aborts the requests in flight', async () => {
    const wheel = new TimerWheel();
    const dispatcher = new HeldDispatcher();
    const getter = new HttpGetter(dispatcher, new LoadStats(), new Shaper(parseProfile('unlimited'), 0), wheel);
    const signal = new AbortController().signal;

    const t0 = performance.now();
    await getter.wait(30, signal);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(25);
    expect(getter.waiting.empty).toBe(true);

    const waits = [getter.wait(60_000, signal), getter.wait(60_000, signal)];
    const gets = [
      getter.get('http://127.0.0.1:1/a.m3u8', { kind: 'playlist', bytes: true, signal }),
      getter.get('http://127.0.0.1:1/b.m4s', { kind: 'segment', signal }),
    ];
    expect(dispatcher.held.map((h) => h.opts.path)).toEqual(['/a.m3u8', '/b.m4s']);
    // one request answered: it leaves the in-flight list, the other stays
    const first = dispatcher.held[0];
    const controller = { abort() {}, pause() {}, resume() {}, paused: false, aborted: false, reason: null };
    first.handler.onResponseStart?.(controller, 200, { 'content-length': '7' });
    first.handler.onResponseData?.(controller, Buffer.from('#EXTM3U'));
    first.handler.onResponseEnd?.(controller, {});
    expect((await gets[0]).body?.toString()).toBe('#EXTM3U');

    getter.stop();
    const outcomes = await Promise.allSettled([...waits, gets[1]]);
    expect(outcomes.map((o) => o.status)).toEqual(['rejected', 'rejected', 'rejected']);
    expect(dispatcher.held[1].aborted?.message).toBe('load test over');
    expect(dispatcher.held[0].aborted).toBeUndefined();
    expect(getter.waiting.empty).toBe(true);
    expect(getter.inflight.empty).toBe(true);
    // after the stop, a new wait rejects at once
    await expect(getter.wait(10, signal)).rejects.toThrow('load test over');
    wheel.clear();
  });
});

describe('HttpGetter progress reports', () => {
  it('reports a download whose body stops arriving, and aborts it when the ABR gives it up', async () => {
    const wheel = new TimerWheel();
    const dispatcher = new HeldDispatcher();
    const getter = new HttpGetter(dispatcher, new LoadStats(), new Shaper(parseProfile('unlimited'), 0), wheel);
    const reports: { bytesLoaded: number; bytesTotal?: number; elapsedMs: number; ttfbMs: number }[] = [];
    let gaveUp: () => void = () => {};
    const reported = new Promise<void>((resolve) => (gaveUp = resolve));
    const get = getter.get('http://127.0.0.1:1/seg-2.m4s', {
      kind: 'segment',
      signal: new AbortController().signal,
      onProgress: (p) => {
        reports.push({ ...p });
        // given up once it has stood still for half a second
        if (p.elapsedMs < 500) return false;
        gaveUp();
        return true;
      },
    });
    const outcome = get.then(
      () => 'finished',
      (e: unknown) => (e as Error).message,
    );
    // headers and a quarter of the body, then nothing
    const held = dispatcher.held[0];
    const controller = { abort() {}, pause() {}, resume() {}, paused: false, aborted: false, reason: null };
    held.handler.onResponseStart?.(controller, 200, { 'content-length': '65536' });
    held.handler.onResponseData?.(controller, Buffer.alloc(16_384));
    await reported;
    expect(await outcome).toBe('download abandoned by ABR');
    expect(held.aborted?.message).toBe('download abandoned by ABR');
    expect(getter.inflight.empty).toBe(true);
    // the reports after the data event came from the timer: the same bytes, later each time
    const later = reports.slice(1);
    expect(later.length).toBeGreaterThanOrEqual(2);
    for (const p of later) expect(p).toMatchObject({ bytesLoaded: 16_384, bytesTotal: 65_536 });
    expect(later[later.length - 1].elapsedMs).toBeGreaterThan(later[0].elapsedMs);
    wheel.clear();
  }, 10_000);
});
