import { describe, expect, it } from 'vitest';
import { isStreamedgeError } from '../../../src/errors.js';
import { writeMediaPlaylist } from '../../../src/hls/media-playlist.js';
import type { Presentation } from '../../../src/media/presentation.js';
import {
  AST,
  AUDIO_TS,
  DISCONTINUITY_AT,
  LIVE_FIRST,
  livePresentation,
  VIDEO_TS,
  vodAudioDurations,
  vodPresentation,
  vodVideoDurations,
} from './fixture-presentations.js';
import { parseM3u8 } from './parsers.js';
import { playlistUris } from './uri-check.js';

function thrownCode(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    return isStreamedgeError(e) ? e.code : 'not a StreamedgeError';
  }
  return undefined;
}

describe('writeMediaPlaylist: VOD', () => {
  const vod = vodPresentation();
  const text = writeMediaPlaylist(vod, '720p');
  const m = parseM3u8(text);

  it('writes the header tags', () => {
    expect(
      text.startsWith(
        '#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-TARGETDURATION:4\n#EXT-X-MEDIA-SEQUENCE:1\n#EXT-X-PLAYLIST-TYPE:VOD\n#EXT-X-INDEPENDENT-SEGMENTS\n#EXT-X-MAP:URI="init.mp4"\n',
      ),
    ).toBe(true);
    expect(text.endsWith('#EXT-X-ENDLIST\n')).toBe(true);
    expect(m).toMatchObject({ version: 6, targetDuration: 4, mediaSequence: 1, playlistType: 'VOD', endList: true });
  });

  it('lists every segment with its exact duration and relative URI', () => {
    expect(m.segments).toHaveLength(vodVideoDurations.length);
    m.segments.forEach((s: { duration: number; uri: string; map: { uri: string } }, i: number) => {
      expect(s.uri).toBe(`seg-${i + 1}.m4s`);
      expect(s.duration).toBeCloseTo(vodVideoDurations[i] / VIDEO_TS, 5);
      expect(s.map.uri).toBe('init.mp4');
    });
    expect(text).toContain('#EXTINF:4.03333,\nseg-3.m4s\n#EXTINF:3.96667,\nseg-4.m4s\n');
    expect(text).not.toContain('PROGRAM-DATE-TIME');
    expect(text).not.toContain('EXT-X-PART');
  });

  it('writes the audio playlist with AAC-frame durations', () => {
    const a = parseM3u8(writeMediaPlaylist(vod, 'audio'));
    expect(a.targetDuration).toBe(4);
    expect(a.segments.map((s: { duration: number }) => s.duration)).toEqual(
      vodAudioDurations.map((d) => Number((d / AUDIO_TS).toFixed(5))),
    );
  });

  it('appends the query to the map and every segment', () => {
    const signed = writeMediaPlaylist(vod, '720p', { query: 'token=abc' });
    const uris = playlistUris(signed);
    expect(uris).toHaveLength(1 + vodVideoDurations.length);
    for (const u of uris) expect(u).toMatch(/\?token=abc$/);
    expect(signed).toContain('#EXT-X-MAP:URI="init.mp4?token=abc"');
  });

  it('ignores a delta update request (no CAN-SKIP-UNTIL on VOD)', () => {
    expect(writeMediaPlaylist(vod, '720p', { skip: 'YES' })).toBe(text);
  });

  it('rejects unknown renditions and incomplete VOD segments with typed errors', () => {
    expect(thrownCode(() => writeMediaPlaylist(vod, '4k'))).toBe('UNKNOWN_RENDITION');
    const broken = vodPresentation();
    broken.timelines[0].segments[7].complete = false;
    expect(thrownCode(() => writeMediaPlaylist(broken, '1080p'))).toBe('INVALID_PRESENTATION');
  });
});

describe('writeMediaPlaylist: live without low latency', () => {
  const p = livePresentation({ lowLatency: false });
  const text = writeMediaPlaylist(p, '720p', { discontinuitySequence: 3 });
  const m = parseM3u8(text);

  it('is a plain sliding window of complete segments', () => {
    expect(text).not.toContain('PLAYLIST-TYPE');
    expect(text).not.toContain('ENDLIST');
    expect(text).not.toMatch(/SERVER-CONTROL|PART|PRELOAD-HINT|RENDITION-REPORT|SKIP/);
    expect(m.mediaSequence).toBe(LIVE_FIRST);
    expect(m.targetDuration).toBe(2);
    expect(m.segments.map((s: { uri: string }) => s.uri)).toEqual(
      Array.from({ length: 10 }, (_, i) => `seg-${LIVE_FIRST + i}.m4s`),
    );
  });

  it('puts a millisecond UTC PROGRAM-DATE-TIME on every segment', () => {
    const pdts = text.split('\n').filter((l) => l.startsWith('#EXT-X-PROGRAM-DATE-TIME:'));
    expect(pdts).toHaveLength(10);
    for (const l of pdts) expect(l).toMatch(/^#EXT-X-PROGRAM-DATE-TIME:\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    m.segments.forEach((s: { dateTimeString: string }, i: number) => {
      expect(s.dateTimeString).toBe(new Date(AST + (LIVE_FIRST + i) * 2000).toISOString());
    });
    expect(pdts[0]).toBe('#EXT-X-PROGRAM-DATE-TIME:2023-11-14T22:16:40.123Z');
  });

  it('marks the discontinuity and carries the discontinuity sequence', () => {
    expect(m.discontinuitySequence).toBe(3);
    const flagged = m.segments.filter((s: { discontinuity?: boolean }) => s.discontinuity);
    expect(flagged.map((s: { uri: string }) => s.uri)).toEqual([`seg-${DISCONTINUITY_AT}.m4s`]);
    expect(text).toContain(`#EXT-X-DISCONTINUITY\n#EXT-X-PROGRAM-DATE-TIME:`);
    expect(writeMediaPlaylist(p, '720p')).toContain('#EXT-X-DISCONTINUITY-SEQUENCE:0\n');
  });

  it('ignores delta update requests (no CAN-SKIP-UNTIL advertised)', () => {
    expect(writeMediaPlaylist(p, '720p', { skip: 'YES', discontinuitySequence: 3 })).toBe(text);
  });
});

describe('writeMediaPlaylist: LL-HLS', () => {
  const p = livePresentation();
  const text = writeMediaPlaylist(p, '720p');
  const m = parseM3u8(text);

  it('advertises server control and the part target', () => {
    expect(text).toContain(
      '#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,CAN-SKIP-UNTIL=12,HOLD-BACK=6,PART-HOLD-BACK=1.536\n',
    );
    // audio parts are 24 AAC frames (0.512 s) at most: PART-TARGET covers them for every rendition
    expect(text).toContain('#EXT-X-PART-INF:PART-TARGET=0.512\n');
    expect(m.serverControl).toEqual({ canBlockReload: true, canSkipUntil: 12, holdBack: 6, partHoldBack: 1.536 });
    expect(m.partTargetDuration).toBe(0.512);
    expect(m.serverControl.holdBack).toBeGreaterThanOrEqual(3 * m.targetDuration);
    expect(m.serverControl.canSkipUntil).toBeGreaterThanOrEqual(6 * m.targetDuration);
    expect(m.serverControl.partHoldBack).toBeGreaterThanOrEqual(3 * m.partTargetDuration);
  });

  it('uses the target latency for PART-HOLD-BACK when it is larger', () => {
    const t = parseM3u8(writeMediaPlaylist(livePresentation({ targetLatency: 3 }), '720p'));
    expect(t.serverControl.partHoldBack).toBe(3);
  });

  it('lists parts only for segments within three target durations of the end, and for the segment in progress', () => {
    const withParts = m.segments.filter((s: { parts?: unknown[] }) => s.parts).map((s: { uri: string }) => s.uri);
    expect(withParts).toEqual(['seg-108.m4s', 'seg-109.m4s']);
    expect(m.segments[m.segments.length - 1].parts.map((x: { uri: string }) => x.uri)).toEqual(
      [0, 1, 2, 3].map((i) => `seg-109.${i}.m4s`),
    );
    expect(m.segments[m.segments.length - 1].parts[0].independent).toBe(true);
    expect(m.preloadSegment.parts.map((x: { uri: string; duration: number }) => [x.uri, x.duration])).toEqual([
      ['seg-110.0.m4s', 0.5],
      ['seg-110.1.m4s', 0.5],
    ]);
    // tags of the parent segment come before its first part
    expect(text).toContain(
      '#EXT-X-PROGRAM-DATE-TIME:2023-11-14T22:17:00.123Z\n#EXT-X-PART:DURATION=0.50000,URI="seg-110.0.m4s",INDEPENDENT=YES\n',
    );
  });

  it('keeps every part within PART-TARGET in every rendition', () => {
    for (const id of ['720p', '360p', 'audio']) {
      const r = parseM3u8(writeMediaPlaylist(p, id));
      const parts = [
        ...r.segments.flatMap((s: { parts?: unknown[] }) => s.parts ?? []),
        ...(r.preloadSegment?.parts ?? []),
      ];
      expect(parts.length).toBeGreaterThan(0);
      for (const part of parts as Array<{ duration: number }>)
        expect(part.duration).toBeLessThanOrEqual(r.partTargetDuration);
    }
  });

  it('hints the next part and reports the other renditions', () => {
    expect(m.preloadSegment.preloadHints).toEqual([{ type: 'PART', uri: 'seg-110.2.m4s' }]);
    expect(m.renditionReports).toEqual([
      { uri: '../360p/index.m3u8', lastMsn: 110, lastPart: 1 },
      { uri: '../audio/index.m3u8', lastMsn: 110, lastPart: 1 },
    ]);
    expect(text).not.toContain('ENDLIST');
  });

  it('hints part 0 when the segment in progress has no part yet, and reports the previous segment', () => {
    const q = livePresentation({ inProgressParts: 0 });
    const r = parseM3u8(writeMediaPlaylist(q, 'audio'));
    expect(r.preloadSegment.preloadHints[0].uri).toBe('seg-110.0.m4s');
    expect(r.preloadSegment.parts).toBeUndefined();
    expect(r.renditionReports[0]).toEqual({ uri: '../720p/index.m3u8', lastMsn: 109, lastPart: 3 });
  });

  it('hints the next segment when the window ends on a complete segment', () => {
    const q = livePresentation();
    for (const t of q.timelines) t.segments.pop();
    const text2 = writeMediaPlaylist(q, '720p');
    expect(text2).toContain('#EXT-X-PRELOAD-HINT:TYPE=PART,URI="seg-110.0.m4s"\n');
    expect(parseM3u8(text2).renditionReports[0]).toEqual({ uri: '../360p/index.m3u8', lastMsn: 109, lastPart: 3 });
  });

  it('appends the query to map, segments, parts, preload hint and rendition reports', () => {
    const signed = writeMediaPlaylist(p, '720p', { query: 'token=abc' });
    const uris = playlistUris(signed);
    // map + 10 segments + 10 parts + preload hint + 2 reports
    expect(uris).toHaveLength(1 + 10 + 10 + 1 + 2);
    for (const u of uris) expect(u).toMatch(/\?token=abc$/);
    expect(signed).toContain('#EXT-X-PRELOAD-HINT:TYPE=PART,URI="seg-110.2.m4s?token=abc"');
    expect(signed).toContain('#EXT-X-RENDITION-REPORT:URI="../360p/index.m3u8?token=abc",LAST-MSN=110,LAST-PART=1');
  });
});

describe('writeMediaPlaylist: delta updates', () => {
  /** End of each complete segment relative to the window start, and the end of the last one. */
  function ends(p: Presentation, id: string): { ends: number[]; last: number } {
    const t = p.timelines.find((x) => x.rendition.id === id)!;
    let at = 0;
    const out = t.segments.filter((s) => s.complete).map((s) => (at += s.duration / t.rendition.timescale));
    return { ends: out, last: at };
  }

  it('skips exactly the segments lying beyond CAN-SKIP-UNTIL from the end', () => {
    const p = livePresentation();
    const full = parseM3u8(writeMediaPlaylist(p, '720p'));
    const text = writeMediaPlaylist(p, '720p', { skip: 'YES' });
    const d = parseM3u8(text);
    expect(d.skip).toEqual({ skippedSegments: 4 });
    expect(d.version).toBe(9);
    expect(text).toContain('#EXT-X-MAP:URI="init.mp4"\n#EXT-X-SKIP:SKIPPED-SEGMENTS=4\n#EXT-X-PROGRAM-DATE-TIME');
    expect(d.mediaSequence).toBe(LIVE_FIRST);
    expect(d.segments[0].uri).toBe('seg-104.m4s');
    expect(d.segments).toHaveLength(full.segments.length - 4);
    // everything after the skip is unchanged, including parts, hint and reports
    expect(d.segments).toEqual(full.segments.slice(4).map((s: object) => ({ ...s, timeline: expect.any(Number) })));
    expect(d.preloadSegment.preloadHints).toEqual(full.preloadSegment.preloadHints);
    expect(d.renditionReports).toEqual(full.renditionReports);
    // boundary: segment 103 ends exactly 12 s (CAN-SKIP-UNTIL) before the end, segment 104 less
    const { ends: e, last } = ends(p, '720p');
    expect(last - e[3]).toBeCloseTo(12, 9);
    expect(last - e[4]).toBeLessThan(d.serverControl.canSkipUntil);
  });

  it('keeps a segment that straddles the skip boundary', () => {
    const p = livePresentation();
    // a frame shorter last complete segment moves the boundary into segment 103
    const seg109 = p.timelines[0].segments[9];
    seg109.duration -= 512;
    const { ends: e, last } = ends(p, '720p');
    expect(last - e[3]).toBeLessThan(12);
    expect(last - e[2]).toBeGreaterThanOrEqual(12);
    const d = parseM3u8(writeMediaPlaylist(p, '720p', { skip: 'YES' }));
    expect(d.skip.skippedSegments).toBe(3);
    expect(d.segments[0].uri).toBe('seg-103.m4s');
  });

  it('skips nothing when the window is shorter than the skip boundary', () => {
    const p = livePresentation();
    for (const t of p.timelines) t.segments.splice(0, 5);
    const text = writeMediaPlaylist(p, '720p', { skip: 'YES' });
    expect(text).not.toContain('EXT-X-SKIP');
    expect(text).toContain('#EXT-X-VERSION:6\n');
  });

  it('v2 requests carry an empty RECENTLY-REMOVED-DATERANGES (we write no date ranges)', () => {
    const text = writeMediaPlaylist(livePresentation(), '720p', { skip: 'v2' });
    expect(text).toContain('#EXT-X-SKIP:SKIPPED-SEGMENTS=4,RECENTLY-REMOVED-DATERANGES=""\n');
    expect(parseM3u8(text).skip.skippedSegments).toBe(4);
  });

  it('keeps the discontinuity sequence when skipping past a discontinuity', () => {
    const p = livePresentation();
    for (const t of p.timelines) {
      for (const s of t.segments) s.discontinuity = s.number === 101;
    }
    const text = writeMediaPlaylist(p, '720p', { skip: 'YES', discontinuitySequence: 7 });
    expect(text).toContain('#EXT-X-DISCONTINUITY-SEQUENCE:7\n');
    expect(text).not.toContain('#EXT-X-DISCONTINUITY\n');
  });
});
