/**
 * DASH and LL-DASH for our player (mpd-parser for the MPD). On a low-latency live MPD the segment
 * being produced is requested as soon as its availability (start + duration - availabilityTimeOffset)
 * is reached, and its chunks are appended while the origin streams them (chunked transfer).
 * Segments are addressed by SegmentTemplate (src/dash/segment-template.ts), SegmentList or
 * SegmentBase: one file per Representation, whose sidx is fetched (its indexRange) and whose
 * segments are then asked for as byte ranges of it (src/dash/segment-base.ts).
 * An MPD of several Periods (an ad break stitched in, a pre-roll) is read Period by Period
 * (src/dash/mpd-periods.ts): each rung of the ladder (the richest Period's) plays the
 * Representation that fits it in each Period, each chunk with its Period's init segment and the
 * timestampOffset that puts its media at its place in the presentation.
 * An MPD's image AdaptationSet (seek-bar thumbnails) is read from the MPD's text (thumbnails.ts),
 * once for VOD, at every reload of a live MPD (its SegmentTimeline slides on with the video's):
 * mpd-parser leaves image AdaptationSets out of its playlists, so it is never a rendition of the
 * ladder.
 */
import { parse as parseMpd } from 'mpd-parser';
import type {
  AdMarker,
  AudioTrack,
  ChunkRef,
  Cursor,
  PlayerRendition,
  SourceModel,
  TextTrackRef,
  CaptionServiceRef,
} from './source-model.js';
import { fetchBytes, fetchText, type FetchOptions } from './fetcher.js';
import { delay } from './delay.js';
import { AdMarkerBook } from './ad-markers.js';
import { captionServices, type ParsedCaptionService } from './caption-services.js';
import { fetchPlaylistText, MEDIA_TIMEOUT, withRetries, type RetryNote } from './request-retry.js';
import { clockOffsetMs, readUtcTimings } from '../../src/dash/utc-timing.js';
import {
  listedSegmentStart,
  readSegmentInfo,
  segmentNumber,
  segmentUrl,
  type SegmentTemplateInfo,
} from '../../src/dash/segment-template.js';
import {
  indexedStartSec,
  segmentsFromIndex,
  type IndexedSegment,
  type MpdSegmentBase,
} from '../../src/dash/segment-base.js';
import {
  matchAcrossPeriods,
  PeriodCursors,
  richestPeriod,
  splitPeriods,
  withinPeriod,
  type MpdPeriod,
} from '../../src/dash/mpd-periods.js';
import { playableVideo } from '../../src/media/video-family-choice.js';
import { hdrRepresentations } from '../../src/dash/hdr-representations.js';
import type { ByteRange } from '../../src/hls/listed-byte-range.js';
import { parseXsDuration } from '../../src/dash/xs-duration.js';
import { ProtectionError, readDashProtection, type TrackProtection } from './protection.js';
import { readDashThumbnails, type ThumbnailModel } from './thumbnails.js';

type Loader = Pick<FetchOptions, 'throttle' | 'log' | 'cmcd' | 'serverAdvice'> & {
  /** Told of each MPD request tried again (the player's notePlaylistRetry). */
  onRetry?: (n: RetryNote) => void;
};

interface DashSeg {
  msn: number;
  url: string;
  start: number; // seconds of presentation time
  duration: number;
  /** SegmentBase: its bytes in the Representation's one file. */
  byteRange?: ByteRange;
  /** Its Period's Representation's init segment. */
  init?: { url: string; byteRange?: ByteRange };
  /** Seconds added to its media times on append (its Period's place in the presentation). */
  timestampOffset?: number;
  /** Several Periods: its Period's bounds on the media element's timeline. */
  appendWindow?: { start: number; end: number };
  /** Its Period's Representation is encrypted (ContentProtection). */
  protection?: TrackProtection;
}

interface RepState {
  segments: DashSeg[];
  initUrl: string;
  /** SegmentBase: the init segment's bytes in the Representation's one file. */
  initByteRange?: ByteRange;
  /** Its SegmentTemplate: the URL of a segment not listed yet (LL-DASH), the init segment's. */
  template?: SegmentTemplateInfo;
  /** The Period that template is of (the last one). */
  templatePeriod?: string;
}

/** One Period of the MPD, read by mpd-parser on its own. */
interface ReadPeriod {
  period: MpdPeriod;
  video: MpdPlaylist[];
  /** The first audio group's renditions, by label. */
  audio: [string, MpdMediaGroup][];
  subtitles: [string, MpdMediaGroup][];
  captions: CaptionServiceRef[];
  templates: Map<string, SegmentTemplateInfo>;
  /** SegmentBase@presentationTimeOffset (s) by Representation id, where not 0. */
  baseOffsets: Map<string, number>;
  /** ContentProtection by Representation id (encrypted ones only); an error for one we cannot decrypt. */
  protection: Map<string, TrackProtection | ProtectionError>;
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

/** A clock read (UTCTiming) is one small answer: a server that takes longer leaves the local clock. */
const CLOCK_TIMEOUT = { firstByteMs: 2000, totalMs: 3000 };
/**
 * The clock is read again at an MPD reload this long after the last read (dash.js backs off to
 * 10 min between reads too): a viewer on a 24/7 channel for hours keeps to the server's clock
 * while either machine's is stepped or drifts.
 */
const CLOCK_REREAD_MS = 10 * 60_000;
/**
 * LL join: how far before the MPD's target latency the first segment must begin, so that the
 * player's join point (its latency target, a little above the MPD's) lies in what it fetches.
 */
const JOIN_MARGIN_SEC = 0.25;

export class DashSource implements SourceModel {
  readonly protocol = 'dash' as const;
  live = false;
  lowLatency = false;
  targetLatency?: number;
  video: PlayerRendition[] = [];
  audio?: AudioTrack;
  audioTracks: AudioTrack[] = [];
  textTracks: TextTrackRef[] = [];
  captionServices: CaptionServiceRef[] = [];
  private reps = new Map<string, RepState>();
  private availabilityStart = 0;
  private availabilityTimeOffset = 0;
  /** The MPD's clock (UTCTiming) less the local one, ms; read at the first live MPD, then every CLOCK_REREAD_MS. */
  private clockOffset = 0;
  /** When the clock was last read (local ms); undefined: not yet. */
  private clockReadAt?: number;
  private minimumUpdatePeriod = 2;
  private loadedAt = 0;
  private reloading?: Promise<void>;
  /** SegmentBase indexes read so far, by file and index range (an MPD reload does not fetch them again). */
  private indexes = new Map<string, IndexedSegment[]>();
  private readonly cursors = new PeriodCursors();
  private readonly ads = new AdMarkerBook();
  /** The thumbnail track (null: the MPD has none); undefined until the MPD is read. Live: the latest MPD's. */
  private thumbnailTrack?: ThumbnailModel | null;

  constructor(
    private readonly mpdUrl: string,
    private readonly loader: Loader,
  ) {}

  async open(signal: AbortSignal): Promise<void> {
    await this.reload(signal);
    this.video.sort((a, b) => a.bitrate - b.bitrate);
  }

  close(): void {}

  /** Now on the MPD's clock (epoch ms). */
  private now(): number {
    return Date.now() + this.clockOffset;
  }

  /**
   * The live edge (epoch ms on the PDT scale of the chunks: availabilityStartTime + media time):
   * now, on the MPD's clock. DASH measures latency from the wall clock (ServiceDescription), and
   * an MPD lists no newer media than its clock allows.
   */
  liveEdgePdtMs(nowMs: number): number | null {
    return this.live ? nowMs + this.clockOffset : null;
  }

  adMarkers(): AdMarker[] {
    return this.ads.list();
  }

  thumbnails(): ThumbnailModel | null {
    return this.thumbnailTrack ?? null;
  }

  /** Reads the MPD's UTCTiming clock into clockOffset; a clock that gives no time leaves it as it was. */
  private async readClock(mpd: string, mpdArrivedAt: number, signal: AbortSignal): Promise<void> {
    const offset = await clockOffsetMs(
      readUtcTimings(mpd, this.mpdUrl),
      async (url) =>
        (await fetchText(url, { signal, ...this.loader, timeout: CLOCK_TIMEOUT, cmcdObject: { ot: 'o' } })).text,
      mpdArrivedAt,
    );
    if (offset !== null) this.clockOffset = offset;
  }

  private async reload(signal: AbortSignal): Promise<void> {
    const text = await fetchPlaylistText(this.mpdUrl, { signal, ...this.loader });
    const arrivedAt = Date.now();
    const periods = splitPeriods(text).map((p) => this.readPeriod(p));
    await this.readIndexes(
      periods.flatMap((p) => [...p.video, ...p.audio.flatMap(([, g]) => g.playlists)]),
      signal,
    );
    this.live = /type="dynamic"/.test(text);
    if (this.live && (this.clockReadAt === undefined || Date.now() - this.clockReadAt > CLOCK_REREAD_MS)) {
      // availability, the join point and the live edge are on the MPD's clock, not this machine's;
      // the first read holds the start, a later one runs beside playback
      const first = this.clockReadAt === undefined;
      this.clockReadAt = Date.now();
      const reading = this.readClock(text, arrivedAt, signal);
      if (first) await reading;
      else void reading.catch(() => undefined);
    }
    if (this.live || this.thumbnailTrack === undefined) this.thumbnailTrack = readDashThumbnails(text, this.mpdUrl);
    const ast = /availabilityStartTime="([^"]+)"/.exec(text)?.[1];
    this.availabilityStart = ast ? Date.parse(ast) : 0;
    // live breaks, and a VOD asset's ad cues, on the MPD's clock
    for (const p of periods) this.ads.notePeriod(p.period.text, p.period.startSec, this.availabilityStart);
    const ato = /availabilityTimeOffset="([\d.]+)"/.exec(text)?.[1];
    this.availabilityTimeOffset = ato ? Number(ato) : 0;
    this.lowLatency = this.live && this.availabilityTimeOffset > 0;
    // ServiceDescription's target latency, else the MPD's suggestedPresentationDelay (DASH-IF IOP:
    // the delay a client plays behind the live edge), else 3 s
    const latency = /<Latency[^>]*target="(\d+)"/.exec(text)?.[1];
    const spd = parseXsDuration(/suggestedPresentationDelay="([^"]+)"/.exec(text)?.[1]);
    if (this.live) this.targetLatency = latency ? Number(latency) / 1000 : (spd ?? 3);
    const mup = /minimumUpdatePeriod="([^"]+)"/.exec(text)?.[1];
    this.minimumUpdatePeriod = parseXsDuration(mup) ?? 2;
    this.loadedAt = Date.now();
    this.cursors.see(periods.map((p) => p.period.key));
    // the ladder and the audio languages are the richest Period's (the programme's, not an ad
    // break's), read once: the ABR holds rungs by index
    if (this.video.length === 0) this.readLadder(periods);
    for (const rung of this.video)
      this.reps.set(
        rung.id,
        this.track(rung.id, periods, (p) => matchAcrossPeriods(rung, p.video, nameOf, bandwidthOf)),
      );
    for (const t of this.audioTracks) {
      this.reps.set(
        t.id,
        this.track(t.id, periods, (p) => {
          const group =
            p.audio.find(([, g]) => g.playlists[0] && nameOf(g.playlists[0]) === t.id) ??
            p.audio.find(([label]) => label === t.name) ??
            p.audio.find(([, g]) => t.language !== undefined && g.language === t.language) ??
            p.audio[0];
          return group?.[1].playlists[0];
        }),
      );
    }
    // a live MPD read before its first segment named no init segment: take it from this one
    for (const r of [...this.video, ...this.audioTracks])
      if (!r.initUrl) r.initUrl = this.reps.get(r.id)?.initUrl ?? '';
  }

  private readPeriod(period: MpdPeriod): ReadPeriod {
    const m = parseMpd(period.text, { manifestUri: this.mpdUrl, NOW: Date.now(), clientOffset: 0 }) as unknown as {
      playlists: MpdPlaylist[];
      mediaGroups?: {
        AUDIO?: Record<string, Record<string, MpdMediaGroup>>;
        SUBTITLES?: Record<string, Record<string, MpdMediaGroup>>;
        'CLOSED-CAPTIONS'?: Record<string, Record<string, ParsedCaptionService>>;
      };
    };
    // an MPD with a BaseURL per CDN (content steering) has each Representation once per CDN: we
    // play from the first (the default service location), as we do not steer DASH
    const location = m.playlists[0]?.attributes.serviceLocation;
    return {
      period,
      video: m.playlists.filter((pl) => pl.attributes.serviceLocation === location),
      audio: Object.entries(Object.values(m.mediaGroups?.AUDIO ?? {})[0] ?? {}),
      subtitles: Object.entries(Object.values(m.mediaGroups?.SUBTITLES ?? {})[0] ?? {}),
      captions: captionServices(m.mediaGroups?.['CLOSED-CAPTIONS']),
      ...readSegmentInfo(period.text, this.mpdUrl),
      protection: readDashProtection(period.text, this.mpdUrl),
    };
  }

  /** The renditions offered: the video ladder, audio languages and subtitles of the richest Period. */
  private readLadder(periods: ReadPeriod[]): void {
    const richest = richestPeriod(periods);
    if (!richest) return;
    const ranges = hdrRepresentations(richest.period.text);
    for (const pl of richest.video) {
      const id = nameOf(pl);
      if (this.video.some((v) => v.id === id)) continue;
      const rep = this.repState(pl, richest.templates.get(id));
      const protection = protectionOf(richest, id);
      this.video.push({
        id,
        kind: 'video',
        bitrate: pl.attributes.BANDWIDTH ?? 0,
        codecs: pl.attributes.CODECS ?? '',
        width: pl.attributes.RESOLUTION?.width,
        height: pl.attributes.RESOLUTION?.height,
        frameRate: pl.attributes['FRAME-RATE'],
        ...(ranges.has(id) ? { videoRange: ranges.get(id) } : {}),
        initUrl: rep.initUrl,
        ...(rep.initByteRange ? { initByteRange: rep.initByteRange } : {}),
        ...(protection ? { protection } : {}),
      });
    }
    this.video = playableVideo(this.video);
    // One audio AdaptationSet per language (lang, Label, Role main/alternate).
    for (const [name, group] of richest.audio) {
      const pl = group.playlists[0];
      if (!pl) continue;
      const id = pl.attributes.NAME ?? 'audio';
      // a codec this browser's MSE cannot play (E-AC-3, AC-3 in Chromium) is not offered
      if (!playable(pl.attributes.CODECS)) continue;
      const rep = this.repState(pl, richest.templates.get(id));
      const protection = protectionOf(richest, id);
      this.audioTracks.push({
        id,
        kind: 'audio',
        bitrate: pl.attributes.BANDWIDTH ?? 128_000,
        codecs: pl.attributes.CODECS ?? 'mp4a.40.2',
        initUrl: rep.initUrl,
        ...(rep.initByteRange ? { initByteRange: rep.initByteRange } : {}),
        ...(protection ? { protection } : {}),
        name,
        default: Boolean(group.default),
        ...(group.language ? { language: group.language } : {}),
      });
    }
    this.audio ??= this.audioTracks.find((t) => t.default) ?? this.audioTracks[0];
    if (this.captionServices.length === 0) this.captionServices = richest.captions;
    for (const [name, group] of richest.subtitles) {
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

  /**
   * A rendition's segments through the Periods of the MPD just read, `pick` naming its
   * Representation in each: numbered by PeriodCursors, each with its Period's init segment and
   * timestampOffset. The offset puts a segment's media at its presentation time (the Period's
   * start, less its presentationTimeOffset), so the buffer's timeline is the MPD's: what seeking,
   * the duration and the append windows count in. (It used to be counted from the first Period's
   * own shift, which left an MPD whose first Period has a presentationTimeOffset with its media
   * at media times and its segments at presentation times: seeks fetched the wrong segment.)
   */
  private track(id: string, periods: ReadPeriod[], pick: (p: ReadPeriod) => MpdPlaylist | undefined): RepState {
    const out: RepState = { segments: [], initUrl: '' };
    for (const p of periods) {
      const pl = pick(p);
      if (!pl) continue;
      const key = p.period.key;
      const template = p.templates.get(nameOf(pl));
      const rep = this.repState(pl, template);
      // a one-file Representation's index gives media times, from its SegmentBase's offset on
      const indexed = pl.sidx !== undefined && pl.segments.length === 0;
      const pto = template
        ? template.presentationTimeOffset / template.timescale
        : indexed
          ? (p.baseOffsets.get(nameOf(pl)) ?? 0)
          : 0;
      const timestampOffset = p.period.startSec - pto;
      const begin = p.period.startSec;
      const end = p.period.durationSec !== undefined ? begin + p.period.durationSec : Infinity;
      const init = { url: rep.initUrl, ...(rep.initByteRange ? { byteRange: rep.initByteRange } : {}) };
      const protection = protectionOf(p, nameOf(pl));
      // with several Periods, each chunk's media is kept within its Period's bounds (MSE append
      // window): a segment that straddles a Period's edge (audio's 2.005 s against video's 2 s)
      // would otherwise overwrite the start of the next Period's media
      const appendWindow = periods.length > 1 ? { start: begin, end } : undefined;
      for (const seg of rep.segments) {
        const start = indexed ? indexedStartSec(seg.start, begin, pto) : seg.start;
        // (an index lists only its own segments)
        if (!indexed && !withinPeriod(p.period, start, seg.duration)) continue;
        out.segments.push({
          ...seg,
          start,
          msn: this.cursors.cursor(id, key, seg.msn),
          init,
          ...(timestampOffset !== 0 ? { timestampOffset } : {}),
          ...(appendWindow ? { appendWindow } : {}),
          ...(protection ? { protection } : {}),
        });
      }
      if (!out.initUrl) {
        out.initUrl = rep.initUrl;
        if (rep.initByteRange) out.initByteRange = rep.initByteRange;
      }
      out.template = template;
      out.templatePeriod = key;
    }
    return out;
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
          () => fetchBytes(sb.resolvedUri, { signal, ...this.loader, range: sb.byterange, timeout: MEDIA_TIMEOUT }),
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
    const nowSec = (this.now() - this.availabilityStart) / 1000;
    // LL: the segment holding the join point, the target latency behind now on the MPD's clock
    // (segments are the only places to start: each begins on a key frame); the one being produced
    // when that is past what the MPD lists. Joining the segment being produced whatever its phase
    // put the player as little as a part behind the edge, below the target, and it then played at
    // 0.9x for seconds to fall back.
    if (this.lowLatency) {
      const t = nowSec - (this.targetLatency ?? 3) - JOIN_MARGIN_SEC;
      const at = segs.find((x) => t < x.start + x.duration);
      return { msn: at ? at.msn : last.msn + 1, part: 0 };
    }
    // Otherwise the segment holding the presentation delay the MPD asks for (its
    // ServiceDescription latency, else suggestedPresentationDelay) behind now, and at least one
    // segment behind the newest. The newest but one alone put the start a few seconds behind
    // now, wherever the delay asked was (3.1-3.5 s in a test where 6 s was asked).
    const behind = Math.max(segs[0].msn, last.msn - 1);
    const t = nowSec - (this.targetLatency ?? 0);
    const at = segs.find((x) => t < x.start + x.duration);
    return { msn: at ? Math.min(at.msn, behind) : behind, part: 0 };
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
      // (a cursor past a Period's last segment: the next Period's first)
      const at = last && msn <= last.msn ? segs.findIndex((s) => s.msn >= msn) : -1;
      const seg = segs[at];
      // the MPD's clock (a static MPD's from 0): where live latency and the SCTE 35 Events are placed
      const pdt = (start: number) => this.availabilityStart + start * 1000;
      // live: an MPD older than three update periods (6 s at least) is refreshed before a listed
      // segment is taken from it (playing back in the DVR window, as hls-source does)
      if (seg && this.live && Date.now() - this.loadedAt > Math.max(6, 3 * this.minimumUpdatePeriod) * 1000) {
        await this.refresh(signal);
        continue;
      }
      if (seg) {
        // low latency: the newest listed segment, its end still to come, is the one being produced
        // (a low-latency MPD names it from its first part on): asked for at its availability,
        // appended as the origin streams it, and not read as the link's speed
        const end = pdt(seg.start + seg.duration);
        const producing = this.lowLatency && at === segs.length - 1 && this.now() < end;
        if (producing) {
          const availableAt = end - this.availabilityTimeOffset * 1000;
          if (this.now() < availableAt) await delay(availableAt - this.now(), signal);
        }
        return {
          url: seg.url,
          msn: seg.msn,
          duration: seg.duration,
          independent: true,
          next: { msn: segs[at + 1]?.msn ?? seg.msn + 1, part: 0 },
          programDateTime: pdt(seg.start),
          ...(producing ? { streaming: true } : {}),
          ...(seg.byteRange ? { byteRange: seg.byteRange } : {}),
          ...(seg.init ? { init: seg.init } : {}),
          ...(seg.timestampOffset !== undefined ? { timestampOffset: seg.timestampOffset } : {}),
          ...(seg.appendWindow ? { appendWindow: seg.appendWindow } : {}),
          ...(seg.protection ? { protection: seg.protection } : {}),
        };
      }
      if (!this.live) return null;
      // the segment being produced, when the MPD lists only complete ones (other packagers; ours
      // lists it from its first part on): named by the template. And the one after it, when the
      // template numbers segments ($Number$, not $Time$, whose time the MPD must give): edges
      // cache the MPD for a second or so, so waiting for a listing at each segment's end left the
      // player a second late on the next one's first part (at the MPD's target latency, a
      // stall). Its start is reckoned from the newest listed one's duration; the MPD is asked
      // again meanwhile.
      // (only within the Period whose template that is: numbers restart their count in each
      // Period, and a cursor of the Period before, once the MPD names a new one, asked for
      // $Number$ -4294967289)
      const ahead = last ? msn - last.msn : 0;
      const samePeriod =
        last !== undefined &&
        this.cursors.ordinalOf(msn) === this.cursors.ordinalOf(last.msn) &&
        this.cursors.ordinalOf(msn) === this.cursors.ordinal(rep.templatePeriod ?? '');
      if (
        this.lowLatency &&
        last &&
        rep.template &&
        samePeriod &&
        (ahead === 1 || (ahead === 2 && !/\$Time[%$]/.test(rep.template.media)))
      ) {
        if (ahead === 2) void this.refresh(signal).catch(() => undefined);
        const start = last.start + ahead * last.duration;
        const availableAt = this.availabilityStart + (start + last.duration - this.availabilityTimeOffset) * 1000;
        if (this.now() < availableAt) await delay(availableAt - this.now(), signal);
        const number = this.cursors.number(renditionId, rep.templatePeriod ?? '', msn);
        return {
          url: segmentUrl(rep.template, number, start),
          msn,
          duration: last.duration,
          independent: true,
          next: { msn: msn + 1, part: 0 },
          programDateTime: pdt(start),
          streaming: true,
          ...(last.init ? { init: last.init } : {}),
          ...(last.timestampOffset !== undefined ? { timestampOffset: last.timestampOffset } : {}),
          ...(last.appendWindow ? { appendWindow: last.appendWindow } : {}),
          ...(last.protection ? { protection: last.protection } : {}),
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
      msn: template ? segmentNumber(template, i, listedSegmentStart(template, s.presentationTime ?? 0)) : i,
      url: s.resolvedUri,
      start: listedSegmentStart(template, s.presentationTime ?? 0),
      duration: s.duration,
      ...(s.byterange ? { byteRange: s.byterange } : {}),
    })),
  };
}

/** A Representation's protection in a Period (undefined: clear); throws the error of one this player cannot decrypt. */
function protectionOf(p: ReadPeriod, id: string): TrackProtection | undefined {
  const found = p.protection.get(id);
  if (found instanceof ProtectionError) throw found;
  return found;
}

const nameOf = (pl: MpdPlaylist): string => pl.attributes.NAME ?? `v${pl.attributes.BANDWIDTH}`;
const bandwidthOf = (pl: MpdPlaylist): number => pl.attributes.BANDWIDTH ?? 0;

function indexKey(sb: MpdSegmentBase): string {
  return `${sb.resolvedUri} ${sb.byterange.offset}+${sb.byterange.length}`;
}

/** Can this browser's MSE play audio of `codecs` (true outside a browser, and when unsaid)? */
function playable(codecs: string | undefined): boolean {
  if (codecs === undefined || typeof MediaSource === 'undefined') return true;
  return MediaSource.isTypeSupported(`audio/mp4; codecs="${codecs}"`);
}
