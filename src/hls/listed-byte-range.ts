/**
 * The byte ranges an HLS media playlist lists (RFC 8216bis 4.4.4.2 EXT-X-BYTERANGE, 4.4.4.5
 * EXT-X-MAP BYTERANGE, 4.4.4.9 EXT-X-PART BYTERANGE), as m3u8-parser gives them, made whole: an
 * offset the tag leaves out is filled in. Shared by our browser player and the load tester.
 */

/** A range as m3u8-parser gives it (it fills in a segment's offset; a part's or a map's may be absent). */
export interface ParsedByteRange {
  length?: number;
  offset?: number;
}

export interface ByteRange {
  offset: number;
  length: number;
}

/** A listed range with its offset; `follows` stands in for an offset the tag leaves out (a map's: 0). */
export function listedRange(r: ParsedByteRange | undefined, follows = 0): ByteRange | undefined {
  return r?.length === undefined ? undefined : { offset: r.offset ?? follows, length: r.length };
}

/**
 * A segment's parts' ranges, in order (undefined: the whole resource): a part's BYTERANGE with no
 * offset starts where the part before it ended, when that part was of the same resource.
 */
export function partRanges(parts: readonly { uri: string; byterange?: ParsedByteRange }[]): (ByteRange | undefined)[] {
  let follows = 0;
  let prevUri: string | undefined;
  return parts.map((p) => {
    const r = listedRange(p.byterange, p.uri === prevUri ? follows : 0);
    if (r) follows = r.offset + r.length;
    prevUri = p.uri;
    return r;
  });
}
