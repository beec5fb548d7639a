/**
 * The page's bandwidth limiter: wraps window.fetch so every response body (our player's and
 * hls.js's, which is set to use its fetch loader) is read through one shared token bucket.
 */
import { Throttle } from '../player/throttle.js';

export const pageThrottle = new Throttle(0);
const SLICE_BYTES = 16 * 1024;

export function installThrottledFetch(): void {
  const original = window.fetch.bind(window);
  window.fetch = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const res = await original(input, init);
    if (pageThrottle.rateBps <= 0 || !res.body) return res;
    // The caller's abort must stop the limited body too, not only the network read under it:
    // an abandoned download that went on draining its buffered bytes through the bucket kept the
    // link busy for seconds after the player had given it up (and starved the replacement).
    const signal = init?.signal ?? (input instanceof Request ? input.signal : undefined) ?? undefined;
    const reader = res.body.getReader();
    let pending: Uint8Array | null = null;
    const body = new ReadableStream<Uint8Array>({
      // Hand bytes on in small slices, each charged as it goes, so a slow link shows as steady
      // progress (ABR can measure it and abandon) rather than one long silent wait.
      async pull(controller) {
        if (!pending || pending.byteLength === 0) {
          const { done, value } = await reader.read();
          if (done) return controller.close();
          pending = value;
        }
        const slice = pending.subarray(0, SLICE_BYTES);
        pending = pending.subarray(slice.byteLength);
        try {
          await pageThrottle.take(slice.byteLength, signal);
        } catch (e) {
          await reader.cancel(e).catch(() => {});
          throw e;
        }
        controller.enqueue(slice);
      },
      cancel(reason) {
        return reader.cancel(reason);
      },
    });
    const wrapped = new Response(body, { status: res.status, statusText: res.statusText, headers: res.headers });
    // Players resolve relative URIs against response.url, which a constructed Response lacks.
    Object.defineProperty(wrapped, 'url', { value: res.url });
    Object.defineProperty(wrapped, 'redirected', { value: res.redirected });
    return wrapped;
  };
}
