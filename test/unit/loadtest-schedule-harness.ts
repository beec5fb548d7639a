/**
 * The harness and the shared cases of the live reload-schedule tests (plain HLS playlist reloads,
 * DASH MPD refreshes): one virtual viewer on a fake clock against a fake 2 s-segment live
 * document; its waits end `lateMs(k)` ms after they were due, each document response takes 5 ms,
 * and the viewer may be busy `busyMs(k)` ms after its k-th chunk. Whatever the client, a late
 * timer or a stalled thread makes one request late and the next ones are back on the viewer's own
 * phase (bench/loadtest/reload-schedule.ts).
 */
import { expect, it } from 'vitest';
import type { HttpGetter } from '../../bench/loadtest/http-get.js';

export const SEGMENT_MS = 2000;
export const RESPONSE_MS = 5;
/** 0.3 s after segment 4 completed. */
export const JOIN_MS = 10_300;

/** One client under test: opens, then fetches chunk after chunk at the live edge. */
export interface ScheduleViewer {
  start(signal: AbortSignal): Promise<void>;
  step(signal: AbortSignal): Promise<void>;
}

export interface ScheduleSubject {
  url: string;
  /** The live document (playlist, MPD) at `nowMs`. */
  document(nowMs: number): string;
  viewer(http: HttpGetter, now: () => number, joinAt: number | undefined): ScheduleViewer;
}

/** When each of the first `count` + 1 document requests was sent. */
export type RequestTimes = (
  joinMs: number,
  lateMs: (wait: number) => number,
  count: number,
  /** Time the viewer spends after getting its k-th chunk (its downloads answered late). */
  busyMs?: (chunk: number) => number,
  /** When the ramp had the viewer join (it opens at `joinMs`). */
  joinAt?: number,
) => Promise<number[]>;

export function requestTimes(subject: ScheduleSubject): RequestTimes {
  return async (joinMs, lateMs, count, busyMs = () => 0, joinAt) => {
    let now = joinMs;
    const sent: number[] = [];
    let waits = 0;
    const http = {
      stats: { error: () => undefined },
      get: (url: string) => {
        expect(url).toBe(subject.url);
        sent.push(now);
        const text = subject.document(now);
        now += RESPONSE_MS;
        return Promise.resolve({
          status: 200,
          bytes: text.length,
          ttfbMs: 0,
          durationMs: 0,
          burstBytes: 0,
          burstMs: 0,
          text,
          body: Buffer.from(text),
        });
      },
      wait: (ms: number) => {
        now += Math.max(0, ms) + lateMs(waits++);
        return Promise.resolve();
      },
    } as unknown as HttpGetter;
    const viewer = subject.viewer(http, () => now, joinAt);
    const signal = new AbortController().signal;
    await viewer.start(signal);
    for (let k = 0; sent.length <= count; k++) {
      await viewer.step(signal);
      now += busyMs(k);
    }
    return sent.slice(0, count + 1);
  };
}

/** The cases every live client shares; `what` names its request ("reload", "refresh"). */
export function sharedScheduleCases(what: string, times: RequestTimes): void {
  it(`${what}s every period from the first, though each timer runs 30 ms late`, async () => {
    const sent = await times(JOIN_MS, () => 30, 12);
    expect(sent).toHaveLength(13);
    for (let k = 1; k < sent.length; k++) {
      // due at join + k·2 s; sent when the late timer ran: 30 ms after, never more
      expect(sent[k] - (JOIN_MS + k * SEGMENT_MS)).toBeCloseTo(30, 6);
    }
  });

  it(`after one 700 ms stall of the thread, the following ${what}s are back on the viewer's own phase`, async () => {
    const sent = await times(JOIN_MS, (w) => (w === 3 ? 700 : 0), 10);
    const offsets = sent.map((t, k) => t - (JOIN_MS + k * SEGMENT_MS));
    // the request after the stalled wait is late; the others are on time
    for (let k = 0; k < offsets.length; k++) {
      if (k === 4) expect(offsets[k]).toBeCloseTo(700, 6);
      else expect(offsets[k]).toBeCloseTo(0, 6);
    }
  });

  it('a viewer its thread started late keeps the schedule of the time it was due to join', async () => {
    // due to join at 10.0 s, started by a busy thread at 10.3 s: requests at 12.0 s, 14.0 s, ...
    const dueAt = JOIN_MS - 300;
    const sent = await times(JOIN_MS, () => 0, 6, undefined, dueAt);
    expect(sent[0]).toBe(JOIN_MS);
    for (let k = 1; k < sent.length; k++) expect(sent[k]).toBeCloseTo(dueAt + k * SEGMENT_MS, 6);
  });
}
