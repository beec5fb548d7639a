/**
 * Preload hints that come true: a real live channel (ffmpeg lavfi video + AAC audio, 2 s segments
 * of 0.5 s parts, as the origin runs by default) is played for a minute on its video and its
 * audio rendition at once, following every EXT-X-PRELOAD-HINT. No hint may name a part that then
 * 404s. AAC frames (1024 samples) do not divide a 0.5 s part, so audio fragments drift against
 * the segment grid: the live segmenter splits the fragment running across a grid point there,
 * publishing the segment's last part and the next one's first together, so audio hints name the
 * next part of the new segment (a hint of the next segment's first part is for video, and for
 * the rare fragment that ends on the grid point). The five-minute version of this check is
 * bench/preload-hint-bench.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LiveOrigin, startTestChannel, type TestChannel } from './live-helpers.js';
import { auditHints } from './hint-audit.js';

const RUN_MS = 60_000;
let ch: TestChannel;
let o: LiveOrigin;

beforeAll(async () => {
  ch = await startTestChannel('se-hints-true-', {}, [
    ['180p', 1],
    ['audio', 1],
  ]);
  o = ch.o;
}, 60_000);

afterAll(async () => {
  await ch?.close();
});

describe('preload hints come true', () => {
  it(
    'for a minute, on video and audio at once, every hinted part arrives (none 404s)',
    async () => {
      const [video, audio] = await Promise.all([
        auditHints(o.base, 'ch', '180p', RUN_MS),
        auditHints(o.base, 'ch', 'audio', RUN_MS),
      ]);
      for (const a of [video, audio]) {
        expect(a.notFound, `${a.rendition}: hinted parts that 404ed`).toEqual([]);
        expect(a.otherFailures, a.rendition).toEqual([]);
        // About two parts a second were followed, both kinds of hint among them.
        expect(a.hints).toBeGreaterThan(RUN_MS / 1000);
        expect(a.kept).toBe(a.hints);
        expect(a.nextPartHints).toBeGreaterThan(10);
      }
      expect(video.nextSegmentHints).toBeGreaterThan(10);
    },
    RUN_MS + 60_000,
  );
});
