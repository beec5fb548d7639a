/**
 * Requests that fail are tried again before the player gives up, when a later try may not meet
 * the failure: no answer, a body that broke off midway, 5xx, 408 or 429.
 * - Media (segments, parts, init segments): up to four tries, 0.5, 1 and 2 s apart (longer when
 *   a Retry-After asks). hls.js (fragLoadPolicy), dash.js (retryAttempts) and Shaka
 *   (retryParameters) all retry a failed fragment; without it one edge restart or one cut
 *   connection ended playback for good.
 * - Live playlists and MPDs: for up to 30 s, after each Retry-After (1 s without one): the origin
 *   answers 503 to a blocking reload its channel could not satisfy within three target durations
 *   (RFC 8216bis 6.2.5.2), which is what an encoder restart looks like from here.
 * - Every try has a time limit (PLAYLIST_TIMEOUT, blockingPartReloadTimeout, MEDIA_TIMEOUT): one
 *   that runs over is a failure like no answer, tried again (a playlist at once).
 * Other 4xx (the object is not there), an abort (abandon, stop) and anything that is not a
 * network failure (a bad append) are not retried.
 */
import { fetchText, HttpError, NetworkError, type FetchOptions, type RequestTimeout } from './fetcher.js';
import { delay } from './delay.js';

/** Waits before the 2nd, 3rd and 4th try; after the 4th failure the player gives up. */
export const CHUNK_RETRY_DELAYS_MS: readonly number[] = [500, 1000, 2000];
/** A Retry-After longer than this is not waited for in full (a segment is due sooner than that). */
export const MAX_RETRY_AFTER_MS = 8000;

/**
 * How long to wait before trying again after the `failures`-th failure (1 = the first try
 * failed), or undefined: do not try again.
 */
export function retryDelayMs(e: unknown, failures: number): number | undefined {
  if (failures < 1 || failures > CHUNK_RETRY_DELAYS_MS.length || !retryable(e)) return undefined;
  const base = CHUNK_RETRY_DELAYS_MS[failures - 1];
  const after = e instanceof HttpError ? e.retryAfterSec : undefined;
  return after === undefined ? base : Math.min(MAX_RETRY_AFTER_MS, Math.max(base, after * 1000));
}

/** A failure a later try may not meet: no answer, a body cut short, 5xx, 408 or 429. */
export function retryable(e: unknown): boolean {
  if (e instanceof NetworkError) return true;
  return e instanceof HttpError && (e.status >= 500 || e.status === 408 || e.status === 429);
}

/** One retry about to happen, for the player's stats. */
export interface RetryNote {
  url: string;
  /** The failure (status or network message). */
  why: string;
  /** Tries so far, all failed. */
  failures: number;
  waitMs: number;
  /** Set when the chunk is asked of another rendition instead (its id), not tried again. */
  instead?: string;
  /** Set when a replacement failed and the chunk already buffered (this rendition id) stays. */
  keeping?: string;
}

/** A request that failed every try; its message names the URL, the last failure and the tries. */
export class GaveUpError extends Error {
  constructor(
    readonly url: string,
    readonly last: unknown,
    readonly tries: number,
  ) {
    super(`${describeFailure(last)} for ${url}, gave up after ${tries} tries`);
  }
}

/** A request that failed on the network or at the server (as opposed to a bug or an abort). */
export function isRequestFailure(e: unknown): boolean {
  return e instanceof HttpError || e instanceof NetworkError || e instanceof GaveUpError;
}

export function describeFailure(e: unknown): string {
  if (e instanceof HttpError) return `HTTP ${e.status}`;
  if (e instanceof NetworkError) return e.message;
  return String((e as Error)?.message ?? e);
}

/**
 * Runs `attempt` until it succeeds, the failure is not one to retry, or the tries run out.
 * `stillWanted` (optional) is asked after each wait: false ends the retries with `gaveUpValue`
 * (a replacement the playhead has caught up with). Waits end at once when `signal` aborts.
 */
export async function withRetries<T>(
  url: string,
  attempt: () => Promise<T>,
  o: { signal: AbortSignal; onRetry?: (n: RetryNote) => void; stillWanted?: () => boolean; gaveUpValue?: T },
): Promise<T> {
  for (let failures = 1; ; failures++) {
    try {
      return await attempt();
    } catch (e) {
      if (o.signal.aborted) throw e;
      const waitMs = retryDelayMs(e, failures);
      if (waitMs === undefined) {
        if (failures > 1) throw new GaveUpError(url, e, failures);
        throw e;
      }
      o.onRetry?.({ url, why: describeFailure(e), failures, waitMs });
      await delay(waitMs, o.signal);
      if (o.stillWanted && !o.stillWanted()) return o.gaveUpValue as T;
    }
  }
}

/** How long a live playlist (or MPD) is retried before the player gives up. */
export const PLAYLIST_RETRY_MS = 30_000;

/**
 * One try at a playlist or MPD: its headers within 10 s, all of it within 20 s (hls.js's
 * playlistLoadPolicy has the same limits). A server that never answers is asked again instead
 * of holding the player (and, through the playlist, its media) forever.
 */
export const PLAYLIST_TIMEOUT: RequestTimeout = { firstByteMs: 10_000, totalMs: 20_000 };

/**
 * One try at a blocking playlist reload for the next part (`_HLS_part`). The server answers it
 * once that part is out, about a part's duration away, so a much shorter limit than
 * PLAYLIST_TIMEOUT applies: three part targets, and not less than a target duration (hls.js takes
 * the same view: three parts, at most its playlist limit). A reload that runs over is asked again
 * at once rather than leaving the player a whole PLAYLIST_TIMEOUT behind the live edge.
 */
export function blockingPartReloadTimeout(partTargetSec: number, targetDurationSec: number): RequestTimeout {
  const ms = Math.min(PLAYLIST_TIMEOUT.firstByteMs, Math.max(3 * partTargetSec, targetDurationSec) * 1000);
  return { firstByteMs: ms, totalMs: ms };
}

/** Media (segments, parts, init segments): headers within 10 s (hls.js's fragLoadPolicy); a slow body is the ABR's call. */
export const MEDIA_TIMEOUT: RequestTimeout = { firstByteMs: 10_000, totalMs: Infinity };

/**
 * A playlist's or MPD's text, retried for up to PLAYLIST_RETRY_MS when the failure is retryable:
 * after a Retry-After (1 s without one), at once after a try that ran out of time. Each try has
 * `opts.timeout`, PLAYLIST_TIMEOUT when not given; `onRetry` hears of each retry.
 */
export async function fetchPlaylistText(
  url: string,
  opts: FetchOptions & { onRetry?: (n: RetryNote) => void },
): Promise<string> {
  const giveUpAt = Date.now() + PLAYLIST_RETRY_MS;
  const tryOpts = { ...opts, timeout: opts.timeout ?? PLAYLIST_TIMEOUT };
  for (let failures = 1; ; failures++) {
    try {
      return (await fetchText(url, tryOpts)).text;
    } catch (e) {
      if (opts.signal.aborted || !retryable(e) || Date.now() >= giveUpAt) throw e;
      const afterSec = e instanceof HttpError ? e.retryAfterSec : undefined;
      const base = e instanceof NetworkError && e.timedOut ? 0 : (afterSec ?? 1) * 1000;
      const waitMs = Math.min(base, Math.max(0, giveUpAt - Date.now()));
      opts.onRetry?.({ url, why: describeFailure(e), failures, waitMs });
      await delay(waitMs, opts.signal);
    }
  }
}
