/**
 * A hand-driven stand-in for the ffmpeg live run (unit tests only): the test decides when each
 * init, part and segment event happens, so the LL-HLS server rules can be checked exactly.
 */
import type { Part, Rendition, Segment } from '../../../src/media/presentation.js';
import type { RunHandle, RunRequest, RunSink, StartRun } from '../../../packager/live/live-channel.js';
import { createOrigin, type Origin, type OriginOptions } from '../../../packager/origin/server.js';

export const TIMESCALE = 1000;

export function rendition(id: string, kind: 'video' | 'audio'): Rendition {
  return kind === 'video'
    ? {
        id,
        kind,
        codecs: 'avc1.4d401e',
        bandwidth: 800_000,
        averageBandwidth: 600_000,
        timescale: TIMESCALE,
        width: 640,
        height: 360,
        frameRate: [30, 1],
      }
    : {
        id,
        kind,
        codecs: 'mp4a.40.2',
        bandwidth: 100_000,
        averageBandwidth: 96_000,
        timescale: TIMESCALE,
        sampleRate: 48000,
        channels: 2,
      };
}

export class FakeEncoder {
  runs: RunRequest[] = [];
  private sink?: RunSink;
  private endRun?: () => void;
  private failRun?: (e: Error) => void;
  /** Parts emitted per rendition per segment: `${rid}:${n}` → bytes. */
  readonly parts = new Map<string, Buffer[]>();
  renditions = [rendition('v', 'video'), rendition('a', 'audio')];
  private runWaiters: (() => void)[] = [];
  /** The rendition order the run says it planned (RunHandle.renditions); unset, it says none. */
  planned?: string[];
  /** When set, the next start fails with this message. */
  failNextStart?: string;
  /**
   * Segment events carry their media start (the sum of the rendition's segments before, from 0),
   * as the segmenter's do; unset, every one says 0 (nothing but ad-break placement reads it).
   */
  timedSegments = false;
  /** Duration (ms) of each part the encoder emits; segments are their sum. */
  partMs = 500;
  /**
   * When set, every part says its segment will end at (n + 1) × this (ms; `Part.segmentEnd`), as
   * the live segmenter's do: segment n planned from n × this, segments of this length before it.
   */
  plannedSegmentMs?: number;
  private readonly segmentEnds = new Map<string, number>();

  readonly start: StartRun = async (req) => {
    if (this.failNextStart) {
      const msg = this.failNextStart;
      throw new Error(msg);
    }
    this.runs.push(req);
    this.sink = req.sink;
    const done = new Promise<void>((resolve, reject) => {
      this.endRun = resolve;
      this.failRun = reject;
    });
    done.catch(() => undefined);
    for (const w of this.runWaiters.splice(0)) w();
    const handle: RunHandle = {
      done,
      kill: () => this.failRun?.(new Error('killed')),
      pid: undefined,
      ...(this.planned ? { renditions: this.planned } : {}),
    };
    return handle;
  };

  /** Resolves once `count` runs have started. */
  async runStarted(count: number): Promise<RunRequest> {
    while (this.runs.length < count) await new Promise<void>((r) => this.runWaiters.push(r));
    return this.runs[count - 1];
  }

  /** Each rendition's init segment, in `order` (default: the renditions' own order). */
  init(order: readonly Rendition[] = this.renditions): void {
    for (const r of order) this.sink!.init(r.id, Buffer.from(`init-${r.id}`), r);
  }

  /** Emits part p of segment n (`partMs` long, 500 ms unless set) for every rendition, or only `only`. */
  part(n: number, p: number, only?: string): void {
    for (const r of this.renditions) {
      if (only && r.id !== only) continue;
      const bytes = Buffer.from(`${r.id}:seg-${n}.${p}:${'x'.repeat(40)}`);
      const key = `${r.id}:${n}`;
      this.parts.set(key, [...(this.parts.get(key) ?? []), bytes]);
      const part: Part = { index: p, duration: this.partMs, bytes: bytes.length, independent: p === 0 };
      if (this.plannedSegmentMs !== undefined) part.segmentEnd = (n + 1) * this.plannedSegmentMs;
      this.sink!.part(r.id, n, part, bytes);
    }
  }

  segment(n: number, only?: string): void {
    for (const r of this.renditions) {
      if (only && r.id !== only) continue;
      const parts = this.parts.get(`${r.id}:${n}`) ?? [];
      const start = this.timedSegments ? (this.segmentEnds.get(r.id) ?? 0) : 0;
      this.segmentEnds.set(r.id, start + parts.length * this.partMs);
      const seg: Segment = {
        number: n,
        start,
        duration: parts.length * this.partMs,
        bytes: parts.reduce((s, b) => s + b.length, 0),
        parts: parts.map((b, i) => ({ index: i, duration: this.partMs, bytes: b.length, independent: i === 0 })),
        complete: true,
      };
      this.sink!.segment(r.id, seg);
    }
  }

  /** Whole segments n..m (2 parts each). */
  segments(from: number, to: number): void {
    for (let n = from; n <= to; n++) {
      this.part(n, 0);
      this.part(n, 1);
      this.segment(n);
    }
  }

  bytesOf(rid: string, n: number): Buffer {
    return Buffer.concat(this.parts.get(`${rid}:${n}`) ?? []);
  }

  /** The source ends (encoder exits). */
  stop(): void {
    this.endRun?.();
  }
}

/** Polls a real condition until true (bounded). */
export async function until(
  cond: () => boolean | Promise<boolean>,
  timeoutMs = 5000,
  what = 'condition',
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/**
 * An origin on loopback with one live channel `ch` (1 s segments, 0.5 s parts) that `enc` drives,
 * its init and segments 0–1 already produced; `opts` adds to the origin's options.
 */
export async function originWithFakeChannel(
  enc: FakeEncoder,
  opts: Omit<OriginOptions, 'live' | 'startRun' | 'channelOptions'>,
): Promise<{ origin: Origin; url: string }> {
  const origin = await createOrigin({
    processMetrics: false,
    ...opts,
    live: [{ id: 'ch', source: 'fake', segmentDuration: 1, partDuration: 0.5, dvrWindow: 120 }],
    channelOptions: { stallTimeoutMs: 60_000 },
    startRun: enc.start,
  });
  const url = await origin.listen(0, '127.0.0.1');
  await enc.runStarted(1);
  enc.init();
  enc.segments(0, 1);
  return { origin, url };
}
