import { describe, expect, it } from 'vitest';
import { inferTargets, liveEdge, nextPart } from '../../../src/hls/live-edge.js';
import type { RenditionTimeline, Segment } from '../../../src/media/presentation.js';
import { writeMediaPlaylist } from '../../../src/hls/media-playlist.js';
import { livePresentation } from './fixture-presentations.js';
import { parseM3u8 } from './parsers.js';

const TS = 1000;

/** A window of `complete` 2 s segments (4 parts of 0.5 s each), then one in progress with `parts` (ms). */
function timeline(complete: number, parts?: number[]): RenditionTimeline {
  const segments: Segment[] = [];
  for (let i = 0; i < complete; i++) {
    segments.push({
      number: 100 + i,
      start: i * 2000,
      duration: 2000,
      bytes: 0,
      parts: [0, 1, 2, 3].map((index) => ({ index, duration: 500, bytes: 0, independent: index === 0 })),
      complete: true,
    });
  }
  if (parts) {
    segments.push({
      number: 100 + complete,
      start: complete * 2000,
      duration: parts.reduce((a, b) => a + b, 0),
      bytes: 0,
      parts: parts.map((duration, index) => ({ index, duration, bytes: 0, independent: index === 0 })),
      complete: false,
    });
  }
  return {
    rendition: { id: 'v', kind: 'video', codecs: 'avc1.4d401e', bandwidth: 1, averageBandwidth: 1, timescale: TS },
    segments,
  };
}

const targets = { segment: 2, part: 0.5 };

describe('nextPart (EXT-X-PRELOAD-HINT target)', () => {
  it('hints the next part of the segment in progress while it is short of its target', () => {
    expect(nextPart(timeline(3, [500]), targets)).toEqual({ msn: 103, part: 1 });
    expect(nextPart(timeline(3, [500, 500, 500]), targets)).toEqual({ msn: 103, part: 3 });
  });

  it('hints part 0 of the next segment once the segment in progress is within half a part of its target', () => {
    expect(nextPart(timeline(3, [500, 500, 500, 500]), targets)).toEqual({ msn: 104, part: 0 });
    // 1.75 s = target − part/2: the boundary counts as "about to close"
    expect(nextPart(timeline(3, [500, 500, 500, 250]), targets)).toEqual({ msn: 104, part: 0 });
    expect(nextPart(timeline(3, [500, 500, 500, 249]), targets)).toEqual({ msn: 103, part: 4 });
  });

  it("follows the producer's mark when the newest part carries one (Part.last), whatever the durations say", () => {
    // AAC drift: 1.536 s produced of a 2 s target, yet the producer knows the next fragment opens segment 104.
    const early = timeline(3, [512, 512, 512]);
    early.segments[3].parts[2].last = true;
    expect(nextPart(early, targets)).toEqual({ msn: 104, part: 0 });
    // Past the duration guess, but the producer says another part of 103 follows.
    const more = timeline(3, [500, 500, 500, 500]);
    more.segments[3].parts[3].last = false;
    expect(nextPart(more, targets)).toEqual({ msn: 103, part: 4 });
  });

  it('hints part 0 of the next segment after a complete one, and part 0 of a segment with no part yet', () => {
    expect(nextPart(timeline(3), targets)).toEqual({ msn: 103, part: 0 });
    expect(nextPart(timeline(3, []), targets)).toEqual({ msn: 103, part: 0 });
    expect(nextPart(timeline(0))).toBeUndefined();
  });

  it('infers the targets from the window when none are given (median segment, longest part)', () => {
    const t = timeline(5, [500, 500, 500, 500]);
    t.segments[1].duration = 1000; // a short segment (e.g. a run ended) does not move the median
    expect(inferTargets(t)).toEqual({ segment: 2, part: 0.5 });
    expect(nextPart(t)).toEqual({ msn: 106, part: 0 });
    expect(nextPart(timeline(5, [500, 500, 500]))).toEqual({ msn: 105, part: 3 });
  });

  it('falls back to the next part when the window cannot tell the targets (no complete segment yet)', () => {
    expect(inferTargets(timeline(0, [500, 500, 500, 500]))).toBeUndefined();
    expect(nextPart(timeline(0, [500, 500, 500, 500]))).toEqual({ msn: 100, part: 4 });
  });

  it('reports the live edge (LAST-MSN / LAST-PART)', () => {
    expect(liveEdge(timeline(3, [500, 500]))).toEqual({ msn: 103, part: 1 });
    expect(liveEdge(timeline(3, []))).toEqual({ msn: 102, part: 3 });
  });

  it('the media playlist hints the next segment when the part in progress completes its segment', () => {
    // fixture: 2 s segments of four 0.5 s parts; the segment in progress has 2 parts → hint part 2
    const p = livePresentation();
    expect(parseM3u8(writeMediaPlaylist(p, '720p')).preloadSegment.preloadHints[0].uri).toBe('seg-110.2.m4s');
    // with all four parts of segment 110 produced, the next part expected is 111.0
    for (const t of p.timelines) {
      const s = t.segments[t.segments.length - 1];
      const d = s.parts[0].duration;
      while (s.parts.length < 4) s.parts.push({ index: s.parts.length, duration: d, bytes: 1, independent: false });
      s.duration = d * 4;
    }
    const text = writeMediaPlaylist(p, '720p');
    expect(text).toContain('#EXT-X-PRELOAD-HINT:TYPE=PART,URI="seg-111.0.m4s"\n');
    expect(text).toContain('URI="seg-110.3.m4s"');
  });
});
