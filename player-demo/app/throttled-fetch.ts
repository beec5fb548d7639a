/**
 * The page's bandwidth limiter: wraps window.fetch so every response body (our player's and
 * hls.js's, which is set to use its fetch loader) is read through one shared token bucket.
 */
import { Throttle } from '../player/throttle.js';

export const pageThrottle = new Throttle(0);

export function installThrottledFetch(): void {
  const original = window.fetch.bind(window);
  window.fetch = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const res = await original(input, init);
    if (pageThrottle.rateBps <= 0 || !res.body) return res;
    const reader = res.body.getReader();
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        const { done, value } = await reader.read();
        if (done) return controller.close();
        await pageThrottle.take(value.byteLength);
        controller.enqueue(value);
      },
      cancel(reason) {
        return reader.cancel(reason);
      },
    });
    return new Response(body, { status: res.status, statusText: res.statusText, headers: res.headers });
  };
}
