/**
 * Measures a download's bursts: the bytes that arrived back-to-back and the time they took.
 * A part streamed while it is produced arrives as a series of bursts (one per encoder chunk)
 * separated by idle gaps; the bursts travel at the link's speed, the gaps are the encoder's.
 * The first chunk of each burst is not counted (when it started to travel is unknown).
 * Shared by the browser player and the load tester; browser-safe.
 */

/** A gap between two chunks longer than this ends a burst (the sender was waiting, not sending). */
const BURST_GAP_MS = 20;

export class BurstMeter {
  burstBytes = 0;
  burstMs = 0;
  private last = -1;

  /** Call with each body chunk as it arrives (`nowMs`: a monotonic clock). */
  onChunk(bytes: number, nowMs: number): void {
    if (this.last >= 0 && nowMs - this.last <= BURST_GAP_MS) {
      this.burstBytes += bytes;
      this.burstMs += nowMs - this.last;
    }
    this.last = nowMs;
  }
}
