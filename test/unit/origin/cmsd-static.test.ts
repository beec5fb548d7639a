/**
 * The origin's CMSD-Static for live objects in each state: a segment in progress (the target as
 * its duration, no bitrate yet), complete (its own duration and bitrate), a part (the next part,
 * or the next segment's first after the last), a part not produced yet (the part target, no next),
 * a segment out of the window (its type alone).
 */
import { describe, expect, it } from 'vitest';
import {
  LIVE_INIT_CMSD,
  livePartCmsd,
  liveRetiredCmsd,
  liveSegmentCmsd,
  manifestCmsd,
} from '../../../packager/origin/cmsd-static.js';
import type { Rendition, Segment } from '../../../src/media/presentation.js';

const video: Rendition = {
  id: '180p',
  kind: 'video',
  codecs: 'avc1.4d400c',
  bandwidth: 300_000,
  averageBandwidth: 250_000,
  timescale: 90_000,
};
const audio: Rendition = { ...video, id: 'audio', kind: 'audio', codecs: 'mp4a.40.2', timescale: 48_000 };

function segment(complete: boolean, lastKnown?: boolean): Segment {
  return {
    number: 7,
    start: 0,
    duration: 180_000,
    bytes: 60_000,
    complete,
    parts: [0, 1, 2, 3].map((index) => ({
      index,
      duration: 45_000,
      bytes: 15_000,
      independent: index === 0,
      ...(lastKnown !== undefined ? { last: lastKnown && index === 3 } : {}),
    })),
  };
}

describe('CMSD-Static of live objects', () => {
  it('manifests and init', () => {
    expect(manifestCmsd('index.m3u8', true)).toBe('ot=m,sf=h,st=l');
    expect(manifestCmsd('manifest.mpd', false)).toBe('ot=m,sf=d,st=v');
    expect(LIVE_INIT_CMSD).toBe('ot=i,st=l');
  });

  it('a segment in progress, then complete', () => {
    expect(liveSegmentCmsd(video, segment(false), 2)).toBe('d=2000,nor="seg-8.m4s",ot=v,st=l');
    // 60,000 bytes over 2 s: 240 kbit/s
    expect(liveSegmentCmsd(video, segment(true), 2)).toBe('br=240,d=2000,nor="seg-8.m4s",ot=v,st=l');
    expect(liveSegmentCmsd(audio, segment(true), 2)).toContain('ot=a');
  });

  it('parts: the next part, the next segment after the last, none before a part exists', () => {
    expect(livePartCmsd(video, segment(false), 1, 0.5)).toBe('br=240,d=500,nor="seg-7.2.m4s",ot=v,st=l');
    expect(livePartCmsd(video, segment(false, true), 3, 0.5)).toContain('nor="seg-8.0.m4s"');
    // not known to be last while the segment is in progress; known once it is complete
    expect(livePartCmsd(video, segment(false), 3, 0.5)).toContain('nor="seg-7.4.m4s"');
    expect(livePartCmsd(video, segment(true), 3, 0.5)).toContain('nor="seg-8.0.m4s"');
    expect(livePartCmsd(video, segment(false), 4, 0.5)).toBe('d=500,ot=v,st=l');
    expect(livePartCmsd(video, undefined, 0, 0.5)).toBe('d=500,ot=v,st=l');
  });

  it('the availability time: a part when the origin had it, a segment when it had its first part', () => {
    const seg = segment(true);
    seg.parts = seg.parts.map((p, i) => ({ ...p, availableAt: 1_700_000_000_000 + i * 500 }));
    expect(livePartCmsd(video, seg, 2, 0.5)).toBe('at=1700000001000,br=240,d=500,nor="seg-7.3.m4s",ot=v,st=l');
    expect(liveSegmentCmsd(video, seg, 2)).toBe('at=1700000000000,br=240,d=2000,nor="seg-8.m4s",ot=v,st=l');
  });

  it('a segment out of the window: its type alone', () => {
    expect(liveRetiredCmsd(audio)).toBe('ot=a,st=l');
  });
});
