/**
 * A load-test HttpGetter (bench/loadtest/http-get.ts) that answers from memory at once: for unit
 * tests of the viewers' stream clients, which read only the status, text and body of playlists.
 */
import type { HttpGetter } from '../../bench/loadtest/http-get.js';

/** Answers each URL with `textOf(url)` (200); every URL asked is pushed onto `asked`. */
export function fakeHttpGetter(textOf: (url: string) => string, asked: string[] = []): HttpGetter {
  return {
    stats: { error: () => undefined },
    get: (url: string) => {
      asked.push(url);
      const text = textOf(url);
      return Promise.resolve({
        status: 200,
        bytes: text.length,
        ttfbMs: 0,
        durationMs: 0,
        text,
        body: Buffer.from(text),
      });
    },
    wait: () => Promise.resolve(),
  } as unknown as HttpGetter;
}
