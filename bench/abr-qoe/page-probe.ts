/**
 * Runs inside the demo page before its own scripts (bundled by probe-script.ts, injected with
 * addInitScript). Engine-independent instruments for the QoE bench:
 *  - a window.fetch wrapper UNDER the page's bandwidth limiter (the page wraps whatever fetch it
 *    finds, so it wraps this one): every download's URL, start, end, bytes and outcome
 *    (ok / aborted / error), as the player consumed it, for our player and hls.js alike;
 *  - the timestampOffset of the video SourceBuffer, so the bench can map video.currentTime to
 *    media decode time (and, on live, to wall-clock time through EXT-X-PROGRAM-DATE-TIME).
 * `window.__qoeProbe.sample()` returns one snapshot and drains the download log.
 */

export interface ProbeFetch {
  url: string;
  /** performance.now() at request and at the end of the body (or failure). */
  t0: number;
  t1: number;
  status: number;
  bytes: number;
  /** Largest single read from the network stream (the limiter charges per read). */
  maxChunk: number;
  outcome: 'ok' | 'aborted' | 'error';
}

export interface ProbeSample {
  perfNow: number;
  dateNow: number;
  currentTime: number;
  paused: boolean;
  ended: boolean;
  readyState: number;
  /** timestampOffset of the video SourceBuffer now (read live: MSE 'sequence' mode moves it itself). */
  videoTimestampOffset: number;
  /** Height of the frame on screen: which rendition is being shown, whatever the engine. */
  videoHeight: number;
  droppedFrames: number;
  totalFrames: number;
  fetches: ProbeFetch[];
  stats: Record<string, unknown> | null;
}

declare global {
  interface Window {
    __qoeProbe?: { sample: () => ProbeSample };
  }
}

const NULL_BODY_STATUS = new Set([101, 103, 204, 205, 304]);
/**
 * Shaping fidelity: hand bodies up in slices of at most this many bytes. The page's limiter charges
 * each read whole, at the rate in force when it arrives, and Chromium hands out reads of up to
 * 512 kB on loopback, so without slicing a 1 s dip can hold one read for ~10 s. 0 = no slicing
 * (set window.__qoeSliceBytes before this script runs).
 */
const sliceBytes = (window as unknown as { __qoeSliceBytes?: number }).__qoeSliceBytes ?? 16 * 1024;
const done: ProbeFetch[] = [];
let videoOffset = 0;
let videoBuffer: SourceBuffer | undefined;

function urlOf(input: RequestInfo | URL): string {
  if (typeof input === 'string') return new URL(input, location.href).href;
  if (input instanceof URL) return input.href;
  return input.url;
}

const originalFetch = window.fetch.bind(window);
window.fetch = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
  const rec: ProbeFetch = {
    url: urlOf(input),
    t0: performance.now(),
    t1: 0,
    status: 0,
    bytes: 0,
    maxChunk: 0,
    outcome: 'ok',
  };
  let res: Response;
  try {
    res = await originalFetch(input, init);
  } catch (e) {
    rec.t1 = performance.now();
    rec.outcome = (e as Error)?.name === 'AbortError' ? 'aborted' : 'error';
    done.push(rec);
    throw e;
  }
  rec.status = res.status;
  if (!res.body || NULL_BODY_STATUS.has(res.status)) {
    rec.t1 = performance.now();
    done.push(rec);
    return res;
  }
  const reader = res.body.getReader();
  const finish = (outcome: ProbeFetch['outcome']) => {
    if (rec.t1) return;
    rec.t1 = performance.now();
    rec.outcome = outcome;
    done.push(rec);
  };
  // highWaterMark 0: read from the network only when the layer above asks, so `t1` is when the
  // consumer got the last byte through the page's limiter, not one read earlier.
  let pending: Uint8Array | null = null;
  const body = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        if (!pending || pending.byteLength === 0) {
          let r: ReadableStreamReadResult<Uint8Array>;
          try {
            r = await reader.read();
          } catch (e) {
            finish((e as Error)?.name === 'AbortError' ? 'aborted' : 'error');
            throw e;
          }
          if (r.done) {
            finish('ok');
            controller.close();
            return;
          }
          pending = r.value;
          rec.maxChunk = Math.max(rec.maxChunk, r.value.byteLength);
        }
        // Copies (not views): a consumer may transfer a chunk's buffer to a worker.
        const n = sliceBytes > 0 ? Math.min(sliceBytes, pending.byteLength) : pending.byteLength;
        const out = pending.slice(0, n);
        pending = pending.subarray(n);
        rec.bytes += n;
        controller.enqueue(out);
      },
      cancel(reason) {
        finish('aborted');
        return reader.cancel(reason);
      },
    },
    { highWaterMark: 0 },
  );
  const wrapped = new Response(body, { status: res.status, statusText: res.statusText, headers: res.headers });
  // Keep what loaders read off the original response (hls.js resolves relative URIs with url).
  Object.defineProperty(wrapped, 'url', { value: res.url });
  Object.defineProperty(wrapped, 'redirected', { value: res.redirected });
  return wrapped;
};

// Workaround (opt-in, off with ?qoeUrlFix=0 semantics via window.__qoeUrlFix = false): the page's
// bandwidth limiter re-wraps responses with `new Response(...)`, whose `url` is '' by spec; hls.js
// resolves playlist URIs against response.url, so under a limit it would resolve them against
// nothing. When the page installs its wrapper, hand out one more wrapper that restores `url` from
// the request (no redirects on loopback).
const inner = globalThis.fetch; // the probe's wrapper installed above (globalThis is window here)
let installed: typeof window.fetch | undefined;
const restoreUrl = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
  const res = await installed!(input, init);
  if (res.url === '') Object.defineProperty(res, 'url', { value: urlOf(input) });
  return res;
};
if ((window as unknown as { __qoeUrlFix?: boolean }).__qoeUrlFix !== false) {
  Object.defineProperty(window, 'fetch', {
    configurable: true,
    enumerable: true,
    get: () => (installed ? restoreUrl : inner),
    set: (v: typeof window.fetch) => {
      installed = v;
    },
  });
}

// Which SourceBuffers carry video, and their timestampOffset.
const videoBuffers = new WeakSet<SourceBuffer>();
const { addSourceBuffer } = MediaSource.prototype as {
  addSourceBuffer: (this: MediaSource, type: string) => SourceBuffer;
};
MediaSource.prototype.addSourceBuffer = function (this: MediaSource, type: string): SourceBuffer {
  const sb = addSourceBuffer.call(this, type);
  if (/^video\//i.test(type)) {
    videoBuffers.add(sb);
    videoBuffer = sb;
    videoOffset = sb.timestampOffset;
  }
  return sb;
};
const offsetProp = Object.getOwnPropertyDescriptor(SourceBuffer.prototype, 'timestampOffset');
if (offsetProp?.set && offsetProp.get) {
  const { get, set } = offsetProp as {
    get: (this: SourceBuffer) => number;
    set: (this: SourceBuffer, v: number) => void;
  };
  Object.defineProperty(SourceBuffer.prototype, 'timestampOffset', {
    configurable: true,
    enumerable: offsetProp.enumerable,
    get(this: SourceBuffer) {
      return get.call(this);
    },
    set(this: SourceBuffer, v: number) {
      set.call(this, v);
      if (videoBuffers.has(this)) videoOffset = v;
    },
  });
}

function liveOffset(): number {
  try {
    return videoBuffer ? videoBuffer.timestampOffset : videoOffset;
  } catch {
    return videoOffset; // the SourceBuffer was removed from its MediaSource
  }
}

window.__qoeProbe = {
  sample(): ProbeSample {
    const video = document.querySelector('video');
    const q = video?.getVideoPlaybackQuality?.();
    let stats: Record<string, unknown> | null = null;
    try {
      const s = (
        window as unknown as { __streamedge?: { stats: () => Record<string, unknown> } }
      ).__streamedge?.stats();
      if (s) {
        // The request list is the page's own; the probe's log is the engine-independent one.
        const { requests: _requests, ...rest } = s;
        stats = rest;
      }
    } catch (e) {
      stats = { probeError: String(e) };
    }
    return {
      perfNow: performance.now(),
      dateNow: Date.now(),
      currentTime: video?.currentTime ?? 0,
      paused: video?.paused ?? true,
      ended: video?.ended ?? false,
      readyState: video?.readyState ?? 0,
      videoTimestampOffset: liveOffset(),
      videoHeight: video?.videoHeight ?? 0,
      droppedFrames: q?.droppedVideoFrames ?? 0,
      totalFrames: q?.totalVideoFrames ?? 0,
      fetches: done.splice(0, done.length),
      stats,
    };
  },
};
