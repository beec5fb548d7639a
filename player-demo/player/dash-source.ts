/**
 * DASH and LL-DASH for our player (mpd-parser for the MPD). On a low-latency live MPD the segment
 * being produced is requested as soon as its availability (start + duration - availabilityTimeOffset)
 * is reached, and its chunks are appended while the origin streams them (chunked transfer).
 * Segments are addressed by SegmentTemplate (src/dash/segment-template.ts), SegmentList or
 * SegmentBase: one file per Representation, whose sidx is fetched (its indexRange) and whose
 * segments are then asked for as byte ranges of it (src/dash/segment-base.ts).
 */
import { parse as parseMpd } from 'mpd-parser';
import type { AudioTrack, ChunkRef, Cursor, PlayerRendition, SourceModel, TextTrackRef } from './source-model.js';
import { fetchBytes, fetchText, type FetchOptions } from './fetcher.js';
import { delay } from './delay.js';
import { fetchPlaylistText, withRetries } from './request-retry.js';
import {
  readSegmentTemplates,
  segmentNumber,
  segmentUrl,
  type SegmentTemplateInfo,
} from '../../src/dash/segment-template.js';
import { segmentsFromIndex, type IndexedSegment, type MpdSegmentBase } from '../../src/dash/segment-base.js';
import type { ByteRange } from '../../src/hls/listed-byte-range.js';

type Loader = Pick<FetchOptions, 'throttle' | 'log' | 'cmcd' | 'serverAdvice'>;

interface DashSeg {
  msn: number;
  url: string;
  start: number; // seconds of media time
  duration: number;
  /** SegmentBase: its bytes in the Representation's one file. */
  byteRange?: ByteRange;
}

interface RepState {
  segments: DashSeg[];
  initUrl: string;
  /** SegmentBase: the init segment's bytes in the Representation's one file. */
  initByteRange?: ByteRange;
  /** Its SegmentTemplate: the URL of a segment not listed yet (LL-DASH), the init segment's. */
  template?: SegmentTemplateInfo;
}

interface MpdPlaylist {
  attributes: {
    NAME?: string;
    BANDWIDTH?: number;
    /** The CDN of the BaseURL this copy of the Representation resolves against (content steering). */
    serviceLocation?: string;
    CODECS?: string;
    RESOLUTION?: { width: number; height: number };
    'FRAME-RATE'?: number;
  };
  segments: {
    uri: string;
    resolvedUri: string;
    duration: number;
    presentationTime?: number;
    /** SegmentList's SegmentURL@mediaRange (Initialization@range for the map). */
    byterange?: ByteRange;
    map?: { resolvedUri: string; byterange?: ByteRange };
  }[];
  /** SegmentBase (one file, indexed by a sidx): where its index and init segment are. */
  sidx?: MpdSegmentBase;
}

interface MpdMediaGroup {
  language?: string;
  default?: boolean;
  playlists: (MpdPlaylist & { resolvedUri?: string })[];
}

/** Live: how long a player starting on an MPD that lists no segment yet asks again for one. */
const START_WAIT_MS = 30_000;

export class DashSource implements SourceModel {
  readonly protocol = 'dash' as const;
  live = false;
  lowLatency = false;
  targetLatency?: number;
  video: PlayerRendition[] = [];
  audio?: AudioTrack;
  audioTracks: AudioTrack[] = [];
  textTracks: TextTrackRef[] = [];
  private reps = new Map<string, RepState>();
  private availabilityStart = 0;
  private availabilityTimeOffset = 0;
  private minimumUpdatePeriod = 2;
  private loadedAt = 0;
  private reloading?: Promise<void>;
  /** SegmentBase indexes read so far, by file and index range (an MPD reload does not fetch them again). */
  private indexes = new Map<string, IndexedSegment[]>();

  constructor(
    private readonly mpdUrl: string,
    private readonly loader: Loader,
  ) {}

  async open(signal: AbortSignal): Promise<void> {
    await this.reload(signal);
    this.video.sort((a, b) => a.bitrate - b.bitrate);
  }

  close(): void {}

  private async reload(signal: AbortSignal): Promise<void> {
    const text = await fetchPlaylistText(this.mpdUrl, { signal, ...this.loader });
    const m = parseMpd(text, { manifestUri: this.mpdUrl, NOW: Date.now(), clientOffset: 0 }) as unknown as {
      playlists: MpdPlaylist[];
      mediaGroups?: {
        AUDIO?: Record<string, Record<string, MpdMediaGroup>>;
        SUBTITLES?: Record<string, Record<string, MpdMediaGroup>>;
      };
      minimumUpdatePeriod?: number;
    };
    const templates = readSegmentTemplates(text, this.mpdUrl);
    await this.readIndexes(
      [
        ...m.playlists,
        ...Object.values(Object.values(m.mediaGroups?.AUDIO ?? {})[0] ?? {}).flatMap((g) => g.playlists),
      ],
      signal,
    );
    this.live = /type="dynamic"/.test(text);
    const ast = /availabilityStartTime="([^"]+)"/.exec(text)?.[1];
    this.availabilityStart = ast ? Date.parse(ast) : 0;
    const ato = /availabilityTimeOffset="([\d.]+)"/.exec(text)?.[1];
    this.availabilityTimeOffset = ato ? Number(ato) : 0;
    this.lowLatency = this.live && this.availabilityTimeOffset > 0;
    const latency = /<Latency[^>]*target="(\d+)"/.exec(text)?.[1];
    if (this.live) this.targetLatency = latency ? Number(latency) / 1000 : 3;
    this.minimumUpdatePeriod = (m.minimumUpdatePeriod ?? 2000) / 1000;
    this.loadedAt = Date.now();
    const seen = new Set(this.video.map((v) => v.id));
    // an MPD with a BaseURL per CDN (content steering) has each Representation once per CDN: we
    // play from the first (the default service location), as we do not steer DASH
    const location = m.playlists[0]?.attributes.serviceLocation;
    for (const pl of m.playlists) {
      if (pl.attributes.serviceLocation !== location) continue;
      const id = pl.attributes.NAME ?? `v${pl.attributes.BANDWIDTH}`;
      this.reps.set(id, this.repState(pl, templates.get(id)));
      if (!seen.has(id)) {
        this.video.push({
          id,
          kind: 'video',
          bitrate: pl.attributes.BANDWIDTH ?? 0,
          codecs: pl.attributes.CODECS ?? '',
          width: pl.attributes.RESOLUTION?.width,
          height: pl.attributes.RESOLUTION?.height,
          frameRate: pl.attributes['FRAME-RATE'],
          initUrl: this.reps.get(id)!.initUrl,
          ...this.initRangeOf(id),
        });
      }
    }
    // One audio AdaptationSet per language (lang, Label, Role main/alternate).
    const known = new Set(this.audioTracks.map((t) => t.id));
    for (const [name, group] of Object.entries(Object.values(m.mediaGroups?.AUDIO ?? {})[0] ?? {})) {
      const pl = group.playlists[0];
      if (!pl) continue;
      const id = pl.attributes.NAME ?? 'audio';
      // a codec this browser's MSE cannot play (E-AC-3, AC-3 in Chromium) is not offered
      if (!playable(pl.attributes.CODECS)) continue;
      this.reps.set(id, this.repState(pl, templates.get(id)));
      if (known.has(id)) continue;
      this.audioTracks.push({
        id,
        kind: 'audio',
        bitrate: pl.attributes.BANDWIDTH ?? 128_000,
        codecs: pl.attributes.CODECS ?? 'mp4a.40.2',
        initUrl: this.reps.get(id)!.initUrl,
        ...this.initRangeOf(id),
        name,
        default: Boolean(group.default),
        ...(group.language ? { language: group.language } : {}),
      });
    }
    // a live MPD read before its first segment named no init segment: take it from this one
    for (const r of [...this.video, ...this.audioTracks])
      if (!r.initUrl) r.initUrl = this.reps.get(r.id)?.initUrl ?? '';
    this.audio ??= this.audioTracks.find((t) => t.default) ?? this.audioTracks[0];
    if (this.textTracks.length === 0) {
      for (const [name, group] of Object.entries(Object.values(m.mediaGroups?.SUBTITLES ?? {})[0] ?? {})) {
        const pl = group.playlists[0];
        const url = pl?.resolvedUri;
        if (!pl || !url) continue;
        this.textTracks.push({
          id: pl.attributes.NAME ?? name,
          language: group.language ?? 'und',
          name,
          default: Boolean(group.default),
          files: async (signal) => [(await fetchText(url, { signal, ...this.loader })).text],
        });
      }
    }
  }

  /** Fetches the sidx of each SegmentBase Representation not read yet (in parallel). */
  private async readIndexes(playlists: MpdPlaylist[], signal: AbortSignal): Promise<void> {
    const wanted = new Map<string, MpdSegmentBase>();
    for (const pl of playlists)
      if (pl.sidx && pl.segments.length === 0 && !this.indexes.has(indexKey(pl.sidx)))
        wanted.set(indexKey(pl.sidx), pl.sidx);
    await Promise.all(
      [...wanted].map(async ([key, sb]) => {
        const { bytes } = await withRetries(
          sb.resolvedUri,
          () => fetchBytes(sb.resolvedUri, { signal, ...this.loader, range: sb.byterange }),
          { signal },
        );
        this.indexes.set(key, segmentsFromIndex(bytes, sb.byterange, sb.resolvedUri));
      }),
    );
  }

  private repState(pl: MpdPlaylist, template: SegmentTemplateInfo | undefined): RepState {
    const indexed = pl.sidx && pl.segments.length === 0 ? this.indexes.get(indexKey(pl.sidx)) : undefined;
    if (!pl.sidx || !indexed) return toRepState(pl, template);
    const file = pl.sidx.resolvedUri;
    const init = pl.sidx.map;
    return {
      initUrl: init?.resolvedUri || file,
      ...(init?.byterange ? { initByteRange: init.byterange } : {}),
      segments: indexed.map((s, i) => ({
        msn: i,
        url: file,
        start: s.startSec,
        duration: s.durationSec,
        byteRange: s.range,
      })),
    };
  }

  private initRangeOf(id: string): { initByteRange?: ByteRange } {
    const r = this.reps.get(id)?.initByteRange;
    return r ? { initByteRange: r } : {};
  }

  private refresh(signal: AbortSignal): Promise<void> {
    this.reloading ??= this.reload(signal).finally(() => (this.reloading = undefined));
    return this.reloading;
  }

  async startCursor(renditionId: string, signal: AbortSignal): Promise<Cursor> {
    let segs = this.reps.get(renditionId)?.segments ?? [];
    // live, a channel that has just started: its MPD may list no segment yet; ask again, for
    // START_WAIT_MS at most (a viewer joining then used to get "no segments" and no playback)
    for (const until = Date.now() + START_WAIT_MS; this.live && !segs.length && Date.now() < until;) {
      await delay(Math.max(500, this.minimumUpdatePeriod * 1000), signal);
      await this.refresh(signal);
      segs = this.reps.get(renditionId)?.segments ?? [];
    }
    if (!segs.length) throw new Error(`no segments for ${renditionId}`);
    if (!this.live) return { msn: segs[0].msn, part: 0 };
    const last = segs[segs.length - 1];
    // LL: join the segment being produced; otherwise stay a couple of segments behind the edge.
    if (this.lowLatency) return { msn: last.msn + 1, part: 0 };
    return { msn: Math.max(segs[0].msn, last.msn - 1), part: 0 };
  }

  vodDurationSec(renditionId: string): number | undefined {
    const segs = this.reps.get(renditionId)?.segments ?? [];
    const last = segs[segs.length - 1];
    return this.live || !last ? undefined : last.start + last.duration;
  }

  async alignedCursor(to: string, from: string, cursor: Cursor): Promise<Cursor> {
    const src = this.reps.get(from)?.segments ?? [];
    const seg = src.find((x) => x.msn === cursor.msn);
    const last = src[src.length - 1];
    // (live: the segment being produced starts where the newest listed one ends)
    const t = seg ? seg.start : last && cursor.msn === last.msn + 1 ? last.start + last.duration : undefined;
    const dst = this.reps.get(to)?.segments ?? [];
    const same = { msn: cursor.msn, part: 0 };
    if (t === undefined || dst.length === 0) return same;
    // numbered alike: the same number, whose start is within half a segment
    const twin = dst.find((x) => x.msn === cursor.msn);
    if (twin && Math.abs(twin.start - t) < twin.duration / 2) return same;
    const hit = dst.find((x) => t < x.start + x.duration);
    if (hit) return { msn: hit.msn, part: 0 };
    // past the newest listed (live): counted on from it
    const end = dst[dst.length - 1];
    return { msn: end.msn + 1 + Math.max(0, Math.round((t - end.start - end.duration) / end.duration)), part: 0 };
  }

  cursorForTime(renditionId: string, t: number): Cursor {
    const segs = this.reps.get(renditionId)?.segments ?? [];
    const s = segs.find((x) => t < x.start + x.duration) ?? segs[segs.length - 1];
    return { msn: s?.msn ?? 0, part: 0 };
  }

  cursorForPdt(renditionId: string, pdtMs: number): Cursor | null {
    if (!this.live) return null;
    const t = (pdtMs - this.availabilityStart) / 1000;
    const segs = this.reps.get(renditionId)?.segments ?? [];
    const s = segs.find((x) => t < x.start + x.duration);
    if (s) return { msn: s.msn, part: 0 };
    const last = segs[segs.length - 1];
    return last ? { msn: last.msn + 1, part: 0 } : null;
  }

  windowStartPdtMs(renditionId: string): number | null {
    const first = this.reps.get(renditionId)?.segments[0];
    return this.live && first ? this.availabilityStart + first.start * 1000 : null;
  }

  async chunkAt(renditionId: string, cursor: Cursor, signal: AbortSignal): Promise<ChunkRef | null> {
    for (;;) {
      const rep = this.reps.get(renditionId);
      if (!rep) throw new Error(`unknown representation ${renditionId}`);
      const segs = rep.segments;
      const first = segs[0];
      const last = segs[segs.length - 1];
      let msn = cursor.msn;
      if (first && msn < first.msn) msn = first.msn;
      const seg = segs.find((s) => s.msn === msn);
      const pdt = (start: number) => (this.live ? this.availabilityStart + start * 1000 : undefined);
      // live: an MPD older than three update periods (6 s at least) is refreshed before a listed
      // segment is taken from it (playing back in the DVR window, as hls-source does)
      if (seg && this.live && Date.now() - this.loadedAt > Math.max(6, 3 * this.minimumUpdatePeriod) * 1000) {
        await this.refresh(signal);
        continue;
      }
      if (seg) {
        return {
          url: seg.url,
          msn,
          duration: seg.duration,
          independent: true,
          next: { msn: msn + 1, part: 0 },
          programDateTime: pdt(seg.start),
          ...(seg.byteRange ? { byteRange: seg.byteRange } : {}),
        };
      }
      if (!this.live) return null;
      // the segment being produced: named by the template, as no MPD lists it yet
      if (this.lowLatency && last && msn === last.msn + 1 && rep.template) {
        const start = last.start + last.duration;
        const availableAt = this.availabilityStart + (start + last.duration - this.availabilityTimeOffset) * 1000;
        if (Date.now() < availableAt) await delay(availableAt - Date.now(), signal);
        return {
          url: segmentUrl(rep.template, msn, start),
          msn,
          duration: last.duration,
          independent: true,
          next: { msn: msn + 1, part: 0 },
          programDateTime: pdt(start),
          streaming: true,
        };
      }
      const due = this.loadedAt + this.minimumUpdatePeriod * 1000 - Date.now();
      if (due > 0) await delay(Math.min(due, 1000), signal);
      await this.refresh(signal);
    }
  }
}

function toRepState(pl: MpdPlaylist, template: SegmentTemplateInfo | undefined): RepState {
  const initByteRange = pl.segments[0]?.map?.byterange;
  return {
    // a live MPD that lists no segment yet still names the init segment in its template
    initUrl: pl.segments[0]?.map?.resolvedUri ?? template?.initUrl ?? '',
    ...(initByteRange ? { initByteRange } : {}),
    template,
    segments: pl.segments.map((s, i) => ({
      // mpd-parser numbers segments from 0 whatever the MPD says: $Number$ comes from the template
      msn: template ? segmentNumber(template, i, s.presentationTime ?? 0) : i,
      url: s.resolvedUri,
      start: s.presentationTime ?? 0,
      duration: s.duration,
      ...(s.byterange ? { byteRange: s.byterange } : {}),
    })),
  };
}

function indexKey(sb: MpdSegmentBase): string {
  return `${sb.resolvedUri} ${sb.byterange.offset}+${sb.byterange.length}`;
}

/** Can this browser's MSE play audio of `codecs` (true outside a browser, and when unsaid)? */
function playable(codecs: string | undefined): boolean {
  if (codecs === undefined || typeof MediaSource === 'undefined') return true;
  return MediaSource.isTypeSupported(`audio/mp4; codecs="${codecs}"`);
}
