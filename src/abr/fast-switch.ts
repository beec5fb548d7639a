/**
 * Fast switching (VOD): after an up-switch, the lower-rung media already buffered ahead of the
 * playhead plays before the new rung reaches the screen. With a 12 s buffer that can be most of
 * a short session. This rule picks one buffered chunk worth fetching again at the new rung and
 * appending over the old one, or none.
 *
 * A chunk is replaced only when all of these hold:
 * - the link sustains the new rung with a margin (estimate × `safetyFactor` ≥ its bitrate);
 * - the chunk is of a lower rung than the new one;
 * - it starts at least `minLeadSec` + the time the replacement takes to arrive ahead of the
 *   playhead (never the chunk playing, nor the next one or two seconds: the replacement lands
 *   well before it is needed, and if it does not, the old chunk is still there);
 * - the buffer ahead less the time the replacement takes is still at least `minBufferSec`: the
 *   download delays the forward fetches by that much, and must never be what starves the buffer.
 * The earliest such chunk wins (it reaches the screen first). One chunk per call: the caller
 * asks again after each download, with the estimate and the buffer as they are then.
 *
 * Pure and browser-safe: the caller (the player) owns the buffer and the MSE mechanics.
 */

export interface BufferedChunk {
  /** Media time (seconds) where the chunk starts and ends. */
  startSec: number;
  endSec: number;
  /** bits/s of the rung it was fetched at. */
  bitrate: number;
}

export interface FastSwitchQuery {
  playheadSec: number;
  /** Seconds buffered contiguously ahead of the playhead. */
  bufferAheadSec: number;
  /** Buffered chunks, in media order (those behind the playhead are ignored). */
  chunks: readonly BufferedChunk[];
  /** bits/s of the rung the player now fetches. */
  targetBitrate: number;
  estimateBps: number;
  /** Expected time to first byte of a request, ms. */
  ttfbMs: number;
}

export interface FastSwitchOptions {
  /** Never replace media that starts within this of the playhead (seconds). */
  minLeadSec: number;
  /** Buffer that must remain ahead once the replacement has arrived (seconds). */
  minBufferSec: number;
  /** The link must sustain the new rung at estimate × this. */
  safetyFactor: number;
}

/** Seconds a chunk of `mediaSec` at `bitrate` takes to arrive at the margin-reduced estimate. */
export function replacementSeconds(
  bitrate: number,
  mediaSec: number,
  estimateBps: number,
  ttfbMs: number,
  safetyFactor: number,
): number {
  return ttfbMs / 1000 + (bitrate * mediaSec) / (estimateBps * safetyFactor);
}

/** Index (into `q.chunks`) of the chunk to fetch again at the target rung, or -1. */
export function chooseReplacement(q: FastSwitchQuery, o: FastSwitchOptions): number {
  if (!(q.estimateBps > 0) || !(o.safetyFactor > 0)) return -1;
  if (q.estimateBps * o.safetyFactor < q.targetBitrate) return -1;
  const bufferedEnd = q.playheadSec + q.bufferAheadSec;
  for (let i = 0; i < q.chunks.length; i++) {
    const c = q.chunks[i];
    if (c.bitrate >= q.targetBitrate || c.endSec <= q.playheadSec) continue;
    if (c.endSec > bufferedEnd + 0.1) break; // past the contiguous buffer: not ours to judge
    const takes = replacementSeconds(q.targetBitrate, c.endSec - c.startSec, q.estimateBps, q.ttfbMs, o.safetyFactor);
    // a later chunk takes about as long: if this one would thin the buffer too far, so would they
    if (q.bufferAheadSec - takes < o.minBufferSec) return -1;
    if (c.startSec - q.playheadSec >= o.minLeadSec + takes) return i;
  }
  return -1;
}

/**
 * Whether a replacement under way is still worth finishing: the playhead must still be more
 * than half the lead from the chunk it replaces, and the buffer ahead above half the floor.
 * Giving up loses nothing: the old chunk was never removed.
 */
export function replacementStillWorth(
  q: { playheadSec: number; bufferAheadSec: number; chunkStartSec: number },
  o: Pick<FastSwitchOptions, 'minLeadSec' | 'minBufferSec'>,
): boolean {
  return q.chunkStartSec - q.playheadSec >= o.minLeadSec / 2 && q.bufferAheadSec >= o.minBufferSec / 2;
}
