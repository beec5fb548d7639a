import { describe, expect, it } from 'vitest';
import { playlistPosition, satisfies } from '../../../edge/live-playlists.js';

/** An LL-HLS media playlist: segments `first`..`last` complete with 4 parts listed for the last two, then `trailing` parts of the next. */
function playlist(first: number, last: number, trailing: number): string {
  const lines = [
    '#EXTM3U',
    '#EXT-X-TARGETDURATION:2',
    '#EXT-X-PART-INF:PART-TARGET=0.5',
    `#EXT-X-MEDIA-SEQUENCE:${first}`,
  ];
  for (let n = first; n <= last; n++) {
    if (n >= last - 1) for (let p = 0; p < 4; p++) lines.push(`#EXT-X-PART:DURATION=0.5,URI="seg-${n}.${p}.m4s"`);
    lines.push('#EXTINF:2.0,', `seg-${n}.m4s`);
  }
  for (let p = 0; p < trailing; p++) lines.push(`#EXT-X-PART:DURATION=0.5,URI="seg-${last + 1}.${p}.m4s"`);
  return lines.join('\n') + '\n';
}

describe('a cached live playlist answering a blocking reload', () => {
  it('knows the last complete segment, its listed parts and the trailing parts', () => {
    expect(playlistPosition(playlist(3, 9, 2))).toEqual({
      lastSegment: 9,
      partSegment: 10,
      lastPart: 1,
      lastSegmentParts: 4,
    });
    expect(playlistPosition(playlist(3, 9, 0))).toEqual({
      lastSegment: 9,
      partSegment: 10,
      lastPart: -1,
      lastSegmentParts: 4,
    });
  });

  it('answers what it lists, and holds what it does not', () => {
    const pos = playlistPosition(playlist(3, 9, 2))!;
    expect(satisfies(pos, 9, undefined)).toBe(true);
    expect(satisfies(pos, 9, 3)).toBe(true);
    expect(satisfies(pos, 10, 1)).toBe(true);
    expect(satisfies(pos, 10, 2)).toBe(false);
    expect(satisfies(pos, 10, undefined)).toBe(false);
  });

  it('takes a Part Index beyond the last part of a segment as part 0 of the next (RFC 8216bis 6.2.5.2)', () => {
    // 9.4 is 10.0: answered by a copy that lists 10.0, not by one that ends at segment 9
    expect(satisfies(playlistPosition(playlist(3, 9, 1))!, 9, 4)).toBe(true);
    expect(satisfies(playlistPosition(playlist(3, 9, 0))!, 9, 4)).toBe(false);
    // an older segment's next one is complete: answered
    expect(satisfies(playlistPosition(playlist(3, 9, 0))!, 8, 7)).toBe(true);
  });
});
