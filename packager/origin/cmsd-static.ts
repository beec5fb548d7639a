/**
 * The origin's `CMSD-Static` header (CTA-5006; src/http/cmsd.ts) for what it serves: manifests
 * (`ot=m` with their streaming format), init segments (`ot=i`), segments and parts (`ot=v` or
 * `a`, their duration `d` and encoded bitrate `br` when known, and `nor`, the next object a
 * player asks for, which an edge may prefetch: the one source of "next" for a DASH player, whose
 * segment template an edge does not read), subtitles (`ot=c`); `st` says VOD or live; live
 * segments and parts their availability time `at` (when the origin had their first byte). Segments
 * are CMAF, shared by HLS and DASH, so they carry no `sf`.
 *
 * VOD facts come from the rendition's own files: its media playlist (segment durations, which
 * segment comes next) and its init segment (video or audio), read once per rendition folder and
 * kept (published versions never change; an entry is re-read after REVALIDATE_MS at most).
 */
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { parseInit } from '../../src/cmaf/init-segment.js';
import { formatCmsdStatic, type CmsdObjectType, type CmsdStatic } from '../../src/http/cmsd.js';
import type { Rendition, Segment } from '../../src/media/presentation.js';

/** `CMSD-Static` of a manifest: HLS playlist or DASH MPD, VOD or live. */
export function manifestCmsd(name: string, live: boolean): string {
  return formatCmsdStatic({ ot: 'm', sf: name.endsWith('.mpd') ? 'd' : 'h', st: live ? 'l' : 'v' });
}

/** Media object type of a rendition kind. */
function mediaType(kind: string | undefined): CmsdObjectType {
  return kind === 'audio' ? 'a' : kind === 'video' ? 'v' : 'o';
}

/** Encoded bitrate (kbit/s) of `bytes` playing for `ms`. */
function kbps(bytes: number, ms: number): number | undefined {
  return ms > 0 ? Math.round((bytes * 8) / ms) : undefined;
}

function withBitrate(s: CmsdStatic, bytes: number | undefined): CmsdStatic {
  const br = bytes !== undefined && s.d !== undefined ? kbps(bytes, s.d) : undefined;
  return br !== undefined ? { ...s, br } : s;
}

// ------------------------------------------------------------------------------------ live

/** `CMSD-Static` of a thumbnail picture or sheet (CTA-5004 has no object type for images: "other"). */
const thumbnailCmsd = (st: 'v' | 'l'): string => formatCmsdStatic({ ot: 'o', st });
const VOD_THUMBNAIL_CMSD = thumbnailCmsd('v');
export const LIVE_THUMBNAIL_CMSD = thumbnailCmsd('l');

/** `CMSD-Static` of a live init segment. */
export const LIVE_INIT_CMSD = formatCmsdStatic({ ot: 'i', st: 'l' });

/**
 * A live segment: its duration (the target while it is being produced), bitrate once complete,
 * and the next segment (the origin holds a request for it until it starts).
 */
export function liveSegmentCmsd(rendition: Rendition | undefined, seg: Segment, targetSec: number): string {
  const timescale = rendition?.timescale ?? 0;
  const d = seg.complete && timescale > 0 ? (seg.duration / timescale) * 1000 : targetSec * 1000;
  const s: CmsdStatic = { d, nor: `seg-${seg.number + 1}.m4s`, ot: mediaType(rendition?.kind), st: 'l' };
  // its first byte was there when its first part was
  const at = seg.parts[0]?.availableAt;
  if (at !== undefined) s.at = at;
  return formatCmsdStatic(seg.complete ? withBitrate(s, seg.bytes) : s);
}

/** A live segment that has left the window (still served from disk for a while): its type alone. */
export function liveRetiredCmsd(rendition: Rendition | undefined): string {
  return formatCmsdStatic({ ot: mediaType(rendition?.kind), st: 'l' });
}

/**
 * A live part that exists: its duration and bitrate, and the next part (the first of the next
 * segment after a segment's last part). A held part (not produced yet) gets the part target as
 * its duration and no `nor` (its being last is not known yet).
 */
export function livePartCmsd(
  rendition: Rendition | undefined,
  seg: Segment | undefined,
  p: number,
  partTargetSec: number,
): string {
  const ot = mediaType(rendition?.kind);
  const part = seg?.parts[p];
  const timescale = rendition?.timescale ?? 0;
  if (!seg || !part || timescale <= 0) return formatCmsdStatic({ d: partTargetSec * 1000, ot, st: 'l' });
  const last = part.last ?? (seg.complete && p === seg.parts.length - 1);
  const nor = last ? `seg-${seg.number + 1}.0.m4s` : `seg-${seg.number}.${p + 1}.m4s`;
  const s: CmsdStatic = { d: (part.duration / timescale) * 1000, nor, ot, st: 'l' };
  if (part.availableAt !== undefined) s.at = part.availableAt;
  return formatCmsdStatic(withBitrate(s, part.bytes));
}

// ------------------------------------------------------------------------------------ VOD

/** Re-read a rendition's playlist and init after this long (a re-published unversioned asset). */
const REVALIDATE_MS = 10_000;
/** Rendition folders remembered. */
const MAX_RENDITIONS = 2_000;

interface RenditionFacts {
  type: CmsdObjectType;
  /** Segment number → duration, ms. */
  durations: Map<number, number>;
  readAt: number;
}

/** The facts of the VOD renditions the origin serves, by folder. */
export class VodCmsd {
  private readonly facts = new Map<string, RenditionFacts | Promise<RenditionFacts | undefined>>();

  constructor(private readonly now: () => number = Date.now) {}

  /**
   * `CMSD-Static` of a VOD file (its real path, name and size), or undefined for a file that is
   * not media or a manifest (JSON, the asset's history).
   */
  async forFile(file: string, name: string, size: number): Promise<string | undefined> {
    if (name.endsWith('.m3u8') || name.endsWith('.mpd')) return manifestCmsd(name, false);
    if (name.endsWith('.vtt')) return formatCmsdStatic({ ot: 'c', st: 'v' });
    if (name.endsWith('.jpg')) return VOD_THUMBNAIL_CMSD;
    if (name === 'init.mp4') return formatCmsdStatic({ ot: 'i', st: 'v' });
    const seg = /^seg-(\d{1,12})\.m4s$/.exec(name);
    if (!seg) return undefined;
    const facts = await this.factsOf(dirname(file));
    if (!facts) return formatCmsdStatic({ st: 'v' });
    const n = Number(seg[1]);
    const d = facts.durations.get(n);
    const s: CmsdStatic = { ot: facts.type, st: 'v' };
    if (d !== undefined) s.d = d;
    if (facts.durations.has(n + 1)) s.nor = `seg-${n + 1}.m4s`;
    return formatCmsdStatic(withBitrate(s, size));
  }

  private async factsOf(dir: string): Promise<RenditionFacts | undefined> {
    const known = this.facts.get(dir);
    if (known instanceof Promise) return known;
    if (known && this.now() - known.readAt < REVALIDATE_MS) return known;
    const reading = readFacts(dir, this.now()).then(
      (f) => {
        this.facts.delete(dir);
        if (f) this.facts.set(dir, f);
        while (this.facts.size > MAX_RENDITIONS) this.facts.delete(this.facts.keys().next().value!);
        return f;
      },
      () => {
        this.facts.delete(dir);
        return undefined;
      },
    );
    this.facts.set(dir, reading);
    return reading;
  }
}

/** A rendition folder's media playlist durations and its init's track type; undefined if unreadable. */
async function readFacts(dir: string, now: number): Promise<RenditionFacts | undefined> {
  let playlist: string;
  let init: Buffer;
  try {
    [playlist, init] = await Promise.all([readFile(join(dir, 'index.m3u8'), 'utf8'), readFile(join(dir, 'init.mp4'))]);
  } catch {
    return undefined;
  }
  let type: CmsdObjectType = 'o';
  try {
    type = mediaType(parseInit(init).tracks[0]?.kind);
  } catch {
    /* not a parsable init: the type stays "other" */
  }
  const durations = new Map<number, number>();
  let extinf: number | undefined;
  for (const line of playlist.split('\n')) {
    if (line.startsWith('#EXTINF:')) extinf = Number.parseFloat(line.slice(8));
    else if (!line.startsWith('#') && line.trim() !== '') {
      const m = /(?:^|\/)seg-(\d{1,12})\.m4s(?:\?|$)/.exec(line.trim());
      if (m && extinf !== undefined && Number.isFinite(extinf)) durations.set(Number(m[1]), Math.round(extinf * 1000));
      extinf = undefined;
    }
  }
  return { type, durations, readAt: now };
}
