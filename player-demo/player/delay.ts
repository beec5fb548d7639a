/**
 * Resolves after `ms`; rejects at once (with the signal's reason) when `signal` aborts, also when
 * it already has. The abort listener goes when the wait ends, so a long-lived signal (the
 * player's own) does not collect one per wait.
 */
export function delay(ms: number, signal: AbortSignal): Promise<void> {
  const reason = () => (signal.reason instanceof Error ? signal.reason : new DOMException('aborted', 'AbortError'));
  if (signal.aborted) return Promise.reject(reason());
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(t);
      reject(reason());
    };
    const t = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
