/**
 * A run start the channel gives up (no media within the start timeout) is restarted once. The
 * give-up aborts the start, and the aborted start's rejection reported the same run's end a
 * second time: two restarts were scheduled, and when the feed was there by then (a publisher
 * that connected just as the start was given up) both started an encoder. The older one was no
 * longer the channel's run, so nothing ever stopped it: two encoders read one feed relay (seen
 * in CI as two ffmpeg on the relay in test/integration/live/live-rtmp-feed.test.ts).
 * The channel's timers are faked so the test steps through the backoff; the store is real lmdb.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { resolveChannelConfig } from '../../../packager/live/channel-config.js';
import { ChannelStateStore } from '../../../packager/live/channel-state-store.js';
import { LiveChannel, type RunHandle, type RunRequest } from '../../../packager/live/live-channel.js';

let dir: string;
let store: ChannelStateStore;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'se-run-start-'));
  store = new ChannelStateStore(join(dir, 'state.lmdb'));
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
});

afterEach(async () => {
  vi.useRealTimers();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A source that sends nothing until the first start is given up, then is there at once. */
function feedThatArrivesAtTheGiveUp() {
  let feedThere = false;
  const starts: RunRequest[] = [];
  const alive = new Set<number>();
  const startRun = (req: RunRequest): Promise<RunHandle> => {
    const n = starts.push(req);
    const handle = (): RunHandle => {
      alive.add(n);
      let exited = (): void => undefined;
      const done = new Promise<void>((resolve) => (exited = resolve));
      return {
        done,
        kill: () => {
          alive.delete(n);
          exited();
        },
      };
    };
    if (feedThere) return Promise.resolve(handle());
    return new Promise((_resolve, reject) => {
      req.signal!.addEventListener('abort', () => {
        feedThere = true; // the publisher connected just now
        reject(new Error('ABORTED: run start given up'));
      });
    });
  };
  return { startRun, starts, alive };
}

describe('a run start given up', () => {
  it('is restarted once: one encoder runs afterwards, not two', async () => {
    const feed = feedThatArrivesAtTheGiveUp();
    const channel = new LiveChannel(resolveChannelConfig({ id: 'c', source: 'rtmp://127.0.0.1:1935/live/key' }), {
      liveDir: dir,
      store,
      startRun: feed.startRun,
      startTimeoutMs: 1000,
      backoffInitialMs: 100,
      backoffMaxMs: 100,
    });
    await channel.start();
    expect(feed.starts).toHaveLength(1);

    await vi.advanceTimersByTimeAsync(1000); // the start timeout: the start is given up
    expect(feed.starts[0].signal!.aborted).toBe(true);
    expect(channel.status().state).toBe('failed');
    await vi.advanceTimersByTimeAsync(400); // past the backoff, short of the next start timeout

    expect(feed.starts).toHaveLength(2);
    expect(feed.alive.size).toBe(1);
    expect(channel.status().restarts).toBe(1);
    await channel.close();
    expect(feed.alive.size).toBe(0);
  });
});
