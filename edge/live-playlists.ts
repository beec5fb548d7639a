/**
 * Past `_HLS_msn` values on a live playlist (RFC 8216bis §6.2.5.2): a blocking request for a
 * segment or part the playlist already holds may be answered at once, so the edge answers it
 * from the newest copy it has instead of keying (and fetching) one more URL. Without this, every
 * past `_HLS_msn` a client invents would be a new key and a new origin request.
 *
 * For each playlist URL (its key without the delivery directives), the newest copy seen: the
 * last complete segment and the last part it lists, and the key it is stored under.
 */

export interface PlaylistPosition {
  /** Media sequence number of the last complete segment (-1: none). */
  lastSegment: number;
  /** The segment the trailing parts belong to, and the last part index (-1: no trailing parts). */
  partSegment: number;
  lastPart: number;
  /** EXT-X-PART lines the playlist lists for the last complete segment (0: none listed). */
  lastSegmentParts: number;
}

/** Where a media playlist stands (EXT-X-MEDIA-SEQUENCE, EXTINF count, trailing EXT-X-PART lines). */
export function playlistPosition(text: string): PlaylistPosition | undefined {
  const seq = /^#EXT-X-MEDIA-SEQUENCE:(\d+)\s*$/m.exec(text);
  if (!seq) return undefined;
  let segments = 0;
  let trailingParts = 0;
  let lastSegmentParts = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith('#EXTINF:')) {
      segments++;
      lastSegmentParts = trailingParts; // the parts listed before a segment's EXTINF are its own
      trailingParts = 0;
    } else if (line.startsWith('#EXT-X-PART:')) trailingParts++;
  }
  const lastSegment = Number(seq[1]) + segments - 1;
  return { lastSegment, partSegment: lastSegment + 1, lastPart: trailingParts - 1, lastSegmentParts };
}

/** Does a playlist at `pos` already satisfy `_HLS_msn=msn` (and `_HLS_part=part`)? */
export function satisfies(pos: PlaylistPosition, msn: number, part: number | undefined): boolean {
  if (msn < pos.lastSegment) return true;
  if (msn === pos.lastSegment) {
    // RFC 8216bis 6.2.5.2: a Part Index beyond the final part of its segment asks for part 0 of the
    // next segment, which this copy holds only once it lists a trailing part
    if (part === undefined || pos.lastSegmentParts === 0 || part < pos.lastSegmentParts) return true;
    return pos.lastPart >= 0;
  }
  if (part === undefined) return false;
  return msn === pos.partSegment && part <= pos.lastPart;
}

function newer(a: PlaylistPosition, b: PlaylistPosition): boolean {
  return a.partSegment > b.partSegment || (a.partSegment === b.partSegment && a.lastPart > b.lastPart);
}

/** The newest known copy of each live playlist. Bounded: oldest entries are dropped. */
export class LivePlaylists {
  private readonly newest = new Map<string, { pos: PlaylistPosition; key: string }>();

  constructor(private readonly max = 10_000) {}

  /** A copy of playlist `base` stored under `key` lists `text`. */
  seen(base: string, key: string, text: string): void {
    const pos = playlistPosition(text);
    if (!pos) return;
    const cur = this.newest.get(base);
    if (cur && !newer(pos, cur.pos)) return;
    this.newest.delete(base);
    this.newest.set(base, { pos, key });
    if (this.newest.size > this.max) this.newest.delete(this.newest.keys().next().value!);
  }

  /** The key of a copy that already answers `_HLS_msn=msn&_HLS_part=part`, if one is known. */
  answering(base: string, msn: number, part: number | undefined): string | undefined {
    const cur = this.newest.get(base);
    return cur && satisfies(cur.pos, msn, part) ? cur.key : undefined;
  }
}

/** `_HLS_msn` / `_HLS_part` of a request target and its target without the delivery directives. */
export function deliveryDirectives(
  target: string,
): { base: string; msn: number; part: number | undefined } | undefined {
  const q = target.indexOf('?');
  if (q === -1) return undefined;
  let msn: number | undefined;
  let part: number | undefined;
  const rest: string[] = [];
  for (const p of target.slice(q + 1).split('&')) {
    const m = /^_HLS_(msn|part|skip)=(.*)$/.exec(p);
    if (!m) {
      if (p !== '') rest.push(p);
      continue;
    }
    if (m[1] === 'msn' && /^\d{1,15}$/.test(m[2])) msn = Number(m[2]);
    else if (m[1] === 'part' && /^\d{1,15}$/.test(m[2])) part = Number(m[2]);
    else if (m[1] === 'skip') return undefined; // delta updates: not answered from a full copy
  }
  if (msn === undefined) return undefined;
  const path = target.slice(0, q);
  return { base: rest.length > 0 ? `${path}?${rest.join('&')}` : path, msn, part };
}
