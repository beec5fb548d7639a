/**
 * The schedule of a live viewer's periodic reloads (HLS playlists without blocking reload, RFC
 * 8216bis 6.3.4; DASH MPD refreshes, ISO/IEC 23009-1 minimumUpdatePeriod): each reload is due an
 * interval after the previous one began, and counts from when it was due, not from when the
 * viewer's thread got round to it.
 *
 * Thousands of viewers share a thread: when it is late (a GC pause, a busy turn, a core taken by
 * the server under test) every viewer due meanwhile runs in the same turn. Counted from then,
 * those viewers would keep that common phase for the rest of the run, every hiccup would merge
 * more of them, and the spread of a ramp would clump into bursts that keep the thread late. A
 * player on its own device would have reloaded on time, so its schedule is kept; only a viewer
 * a whole interval or more behind starts a new schedule from now.
 */

/** What a reload due at `due` counts from, sent at `now`, the previous one having begun at `prevBegunAt`. */
export function reloadBegunAt(due: number, prevBegunAt: number, now: number): number {
  return now - due < due - prevBegunAt ? due : now;
}

/** Where a viewer's schedule starts: when the ramp had it due to join, if that is not in the future. */
export function scheduleStart(joinAt: number | undefined, now: number): number {
  return joinAt !== undefined && joinAt < now ? joinAt : now;
}
