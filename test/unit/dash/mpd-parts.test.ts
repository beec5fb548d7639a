import { describe, expect, it } from 'vitest';
import { dashFrameRate, ratio } from '../../../src/dash/frame-rate.js';
import { segmentTimeline } from '../../../src/dash/segment-timeline.js';
import { escapeXml } from '../../../src/dash/xml-element.js';
import { xsDuration } from '../../../src/dash/xs-duration.js';
import { isStreamedgeError } from '../../../src/errors.js';
import type { Segment } from '../../../src/media/presentation.js';

function seg(number: number, start: number, duration: number): Segment {
  return { number, start, duration, bytes: 0, parts: [], complete: true };
}

describe('segmentTimeline', () => {
  it('run-length compresses equal back-to-back durations', () => {
    const segs = [seg(1, 0, 10), seg(2, 10, 10), seg(3, 20, 10), seg(4, 30, 11), seg(5, 41, 10)];
    expect(segmentTimeline(segs)).toEqual([
      { t: 0, d: 10, r: 2 },
      { d: 11, r: 0 },
      { d: 10, r: 0 },
    ]);
  });
  it('restates t after a gap or a jump in media time', () => {
    const segs = [seg(1, 100, 10), seg(2, 110, 10), seg(3, 125, 10), seg(4, 135, 10)];
    expect(segmentTimeline(segs)).toEqual([
      { t: 100, d: 10, r: 1 },
      { t: 125, d: 10, r: 1 },
    ]);
  });
  it('refuses non-consecutive numbers ($Number$ counts S entries)', () => {
    try {
      segmentTimeline([seg(1, 0, 10), seg(3, 10, 10)]);
      expect.unreachable();
    } catch (e) {
      expect(isStreamedgeError(e) && e.code).toBe('INVALID_PRESENTATION');
    }
  });
  it('is empty for no segments', () => {
    expect(segmentTimeline([])).toEqual([]);
  });
});

describe('MPD value formats', () => {
  it('writes xs:duration', () => {
    expect(xsDuration(0)).toBe('PT0S');
    expect(xsDuration(4)).toBe('PT4S');
    expect(xsDuration(4.0333333)).toBe('PT4.033S');
    expect(xsDuration(90)).toBe('PT1M30S');
    expect(xsDuration(3600)).toBe('PT1H');
    expect(xsDuration(3723.5)).toBe('PT1H2M3.5S');
  });
  it('writes frame rates as reduced fractions', () => {
    expect(dashFrameRate([30, 1])).toBe('30');
    expect(dashFrameRate([30000, 1001])).toBe('30000/1001');
    expect(dashFrameRate([60, 2])).toBe('30');
    expect(dashFrameRate([25, 1])).toBe('25');
    expect(dashFrameRate([29.97, 1])).toBe('2997/100');
  });
  it('reduces aspect ratios and escapes XML', () => {
    expect(ratio(1920, 1080)).toBe('16:9');
    expect(ratio(642, 362)).toBe('321:181');
    expect(escapeXml(`a&b<"c'>`)).toBe('a&amp;b&lt;&quot;c&apos;&gt;');
  });
});
