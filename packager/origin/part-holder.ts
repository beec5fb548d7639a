/**
 * Media of a live rendition that may not exist yet:
 *   - a part (`seg-<n>.<p>.m4s`), e.g. the one the preload hint names, is held until produced;
 *   - the segment in progress (or the next one) is streamed with chunked transfer as its parts
 *     arrive and ends when the segment completes: the body equals the segment file.
 */
import { PassThrough, type Readable } from 'node:stream';
import { SEGMENT_END } from '../live/position-waiters.js';
import type { RenditionWindow, WindowSegment } from '../live/rendition-window.js';

/** Whether (n, p) is the next part or at most `limit` parts beyond the live edge. */
export function partIsComing(
  w: RenditionWindow,
  n: number,
  p: number,
  limit: number,
  partsPerSegment: number,
): boolean {
  const edge = w.edge();
  if (!edge) return false;
  const [eMsn, ePart] = edge.part === SEGMENT_END ? [edge.msn + 1, -1] : [edge.msn, edge.part];
  if (n < eMsn || (n === eMsn && p <= ePart)) return false;
  const ahead = (n - eMsn) * partsPerSegment + (p - ePart);
  return ahead <= limit;
}

/**
 * A Readable that yields the bytes of segment `seg` (in progress): the parts so far, then each
 * new part, ending when the segment completes; destroyed if the segment is dropped.
 */
export function streamGrowingSegment(w: RenditionWindow, seg: WindowSegment, signal: AbortSignal): Readable {
  const n = seg.meta.number;
  const out = new PassThrough();
  let sent = 0;
  const flush = (): void => {
    const parts = seg.partBytes ?? [];
    while (sent < parts.length) out.write(parts[sent++]);
  };
  const onPart = (segNo: number): void => {
    if (segNo === n) flush();
  };
  const onComplete = (segNo: number): void => {
    if (segNo !== n) return;
    flush();
    cleanup();
    out.end();
  };
  const onAbandoned = (segNo: number): void => {
    if (segNo !== n || seg.meta.complete) return;
    cleanup();
    out.destroy(new Error(`segment ${n} was dropped before it completed`));
  };
  const cleanup = (): void => {
    w.off('part', onPart);
    w.off('complete', onComplete);
    w.off('abandoned', onAbandoned);
    signal.removeEventListener('abort', onAbort);
  };
  const onAbort = (): void => {
    cleanup();
    out.destroy();
  };
  w.on('part', onPart);
  w.on('complete', onComplete);
  w.on('abandoned', onAbandoned);
  signal.addEventListener('abort', onAbort, { once: true });
  flush();
  if (seg.meta.complete) {
    cleanup();
    out.end();
  }
  return out;
}
