import { seconds, type Presentation, type RenditionTimeline } from '../media/presentation.js';
import { targetDuration } from './target-duration.js';

/**
 * The timing parameters of a media playlist and of its EXT-X-SERVER-CONTROL / EXT-X-PART-INF
 * tags (RFC 8216bis 4.4.3.7, 4.4.3.8). Exported so the origin's blocking reload can use the
 * same numbers the playlist advertises (e.g. give up after 3 target durations).
 */
export interface PlaylistTiming {
  /** EXT-X-TARGETDURATION, integer seconds. */
  targetDuration: number;
  /** PART-TARGET in seconds: >= every part duration, rounded up to the millisecond. */
  partTarget: number;
  /** HOLD-BACK: 3 x target duration (the spec minimum). */
  holdBack: number;
  /** PART-HOLD-BACK: 3 x PART-TARGET, or the configured target latency if larger. */
  partHoldBack: number;
  /** CAN-SKIP-UNTIL (the Skip Boundary): 6 x target duration (the spec minimum). */
  canSkipUntil: number;
}

const EPS = 1e-9;

/**
 * Target duration of one rendition's playlist. VOD: the largest rounded EXTINF. Live: never
 * below the configured segment duration rounded up, so the value stays put while the window
 * slides over segments that are a frame shorter or longer (it MUST NOT change in a live playlist).
 */
export function playlistTargetDuration(p: Presentation, t: RenditionTimeline): number {
  const ts = t.rendition.timescale;
  const computed = targetDuration(t.segments.filter((s) => s.complete).map((s) => seconds(s.duration, ts)));
  return p.type === 'live' ? Math.max(computed, Math.ceil(p.segmentDuration - EPS)) : computed;
}

/**
 * PART-TARGET shared by every rendition of the presentation: the configured part duration, or
 * the longest part in any rendition rounded up to the millisecond if that is longer (AAC parts
 * are whole 1024-sample frames and overshoot the configured duration slightly). One value for
 * all renditions keeps PART-HOLD-BACK meaningful across switches (4.4.3.8 SHOULD).
 */
export function partTarget(p: Presentation): number {
  let longest = 0;
  for (const t of p.timelines) {
    for (const s of t.segments) {
      for (const part of s.parts) longest = Math.max(longest, seconds(part.duration, t.rendition.timescale));
    }
  }
  const ceilMs = (x: number) => Math.ceil(x * 1000 - 1e-6) / 1000;
  return Math.max(ceilMs(p.partDuration), ceilMs(longest));
}

/** PART-HOLD-BACK of every playlist of the presentation: 3 x PART-TARGET, or the target latency if larger. */
export function partHoldBack(p: Presentation): number {
  return Math.max(3 * partTarget(p), p.live?.targetLatency ?? 0);
}

export function playlistTiming(p: Presentation, t: RenditionTimeline): PlaylistTiming {
  const td = playlistTargetDuration(p, t);
  return {
    targetDuration: td,
    partTarget: partTarget(p),
    holdBack: 3 * td,
    partHoldBack: partHoldBack(p),
    canSkipUntil: 6 * td,
  };
}
