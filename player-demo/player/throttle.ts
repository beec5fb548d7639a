/**
 * A token bucket shared by every download of a page: the demo's bandwidth limiter.
 * `rateBps` of 0 means unlimited. Bytes are charged after they arrive, so a limited link
 * delivers at most `rateBps` on average with one burst of `burstBytes`.
 */
export class Throttle {
  private tokens = 0;
  private last = performance.now();
  constructor(
    public rateBps = 0,
    private readonly burstBytes = 16 * 1024,
  ) {}

  setRate(bitsPerSecond: number): void {
    this.refill();
    this.rateBps = bitsPerSecond;
    this.tokens = Math.min(this.tokens, this.burstBytes);
  }

  private refill(): void {
    const now = performance.now();
    if (this.rateBps > 0) {
      this.tokens = Math.min(this.burstBytes, this.tokens + ((now - this.last) / 1000) * (this.rateBps / 8));
    }
    this.last = now;
  }

  /**
   * Charges `bytes`, waiting while the bucket is in debt. The wait is re-checked in short steps,
   * so a rate change (or lifting the limit) applies to reads already waiting. Aborted, it
   * rejects at once and hands back what it had not paid off yet: bytes a caller gave up never
   * cross the limited link, so they must not hold up the others.
   */
  async take(bytes: number, signal?: AbortSignal): Promise<void> {
    if (this.rateBps <= 0) return;
    if (signal?.aborted) throw abortReason(signal);
    this.refill();
    this.tokens -= bytes;
    while (this.rateBps > 0) {
      this.refill();
      if (this.tokens >= 0) return;
      const waitMs = Math.min(100, (-this.tokens / (this.rateBps / 8)) * 1000);
      try {
        await wait(waitMs, signal);
      } catch (e) {
        this.refill();
        if (this.tokens < 0) this.tokens += Math.min(bytes, -this.tokens);
        throw e;
      }
    }
    this.tokens = Math.max(this.tokens, 0);
  }
}

function abortReason(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new DOMException('aborted', 'AbortError');
}

function wait(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(t);
      reject(abortReason(signal!));
    };
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
