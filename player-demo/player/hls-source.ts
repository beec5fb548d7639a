/**
 * HLS and LL-HLS for our player (m3u8-parser for the text): multivariant → renditions; media
 * playlists kept per rendition, merged across delta updates (_HLS_skip=YES); on live, the next
 * part is awaited with a blocking playlist reload (_HLS_msn/_HLS_part) rather than polling.
 * A playlist with several EXT-X-MAPs (or any live one: its window may list one MAP now and another
 * later) gives each chunk its own init segment. Where media times may start again at a
 * discontinuity (an ad break stitched in, a playout loop) each chunk says its discontinuity
 * sequence and where it starts on the playlist's timeline, for the player to place it: on VOD
 * with discontinuities, from the EXTINFs; on live, from its EXT-X-PROGRAM-DATE-TIME.
 * An EXT-X-IMAGE-STREAM-INF (seek-bar thumbnails) is no variant: its image playlist is read in the
 * background at load (thumbnails.ts), and on live again every target duration; never offered to
 * the ABR.
 */
import { Parser } from 'm3u8-parser';
import type {
  AudioTrack,
  ByteRange,
  ChunkRef,
  Cursor,
  PlayerRendition,
  SourceModel,
  TextTrackRef,
  AdMarker,
  CaptionServiceRef,
} from './source-model.js';
import { AdMarkerBook, type ParsedDateRange } from './ad-markers.js';
import { fetchText, type FetchOptions, type RequestTimeout } from './fetcher.js';
import { LiveEdgeClock, newestListedEndPdt } from '../../src/abr/live-edge.js';
import { extraAudioRenditions, multichannelName } from './hls-audio-groups.js';
import { captionServices, type ParsedCaptionService } from './caption-services.js';
import { firstAudioGroupVariants } from '../../src/hls/variant-choice.js';
import { playableVideo } from '../../src/media/video-family-choice.js';
import type { PathwaySteering } from './pathway-steering.js';
import { delay } from './delay.js';
import { listedRange, partRanges, type ParsedByteRange } from '../../src/hls/listed-byte-range.js';
import { segmentStartingAt, spanSec } from '../../src/hls/aligned-segment.js';
import { blockingPartReloadTimeout, fetchPlaylistText, type RetryNote } from './request-retry.js';
import { readHlsMediaKeys, readHlsSessionKeys, type TrackProtection } from './protection.js';
import { readHlsImagePlaylist, readHlsImageStream, type HlsImageStream, type ThumbnailModel } from './thumbnails.js';

type Loader = Pick<FetchOptions, 'throttle' | 'log' | 'cmcd' | 'serverAdvice'> & {
  /** Content steering: started from the multivariant playlist, it routes every request (give the player the same one). */
  steering?: PathwaySteering;
  /** Told of each playlist request tried again (the player's notePlaylistRetry). */
  onRetry?: (n: RetryNote) => void;
};

interface PartEntry {
  uri: string;
  duration: number;
  independent: boolean;
  byteRange?: ByteRange;
}

interface SegEntry {
  msn: number;
  uri: string;
  duration: number;
  byteRange?: ByteRange;
  pdt?: number;
  parts: PartEntry[];
  complete: boolean;
  /** Its EXT-X-MAP, resolved, when the playlist has more than one (an ad break's own init segment). */
  map?: { url: string; byteRange?: ByteRange };
  /** Its discontinuity sequence number (EXT-X-DISCONTINUITY-SEQUENCE plus the discontinuities before it). */
  timeline: number;
  /** The EXT-X-KEY in force for it (SAMPLE-AES / SAMPLE-AES-CTR identity); absent: clear. */
  protection?: TrackProtection;
}

interface MediaState {
  url: string;
  initUrl?: string;
  initByteRange?: ByteRange;
  segments: Map<number, SegEntry>;
  /** VOD with discontinuities: media times may restart at each (server-side ad insertion). Live places by PDT instead. */
  discontinuous: boolean;
  firstMsn: number;
  lastMsn: number; // last msn present (complete or in progress)
  endList: boolean;
  targetDuration: number;
  partTarget?: number;
  canBlockReload: boolean;
  canSkipUntil: number;
  partHoldBack?: number;
  holdBack?: number;
  loadedAt: number;
  /** The key of its first listed segment (else the one in force at its end): the rendition's. */
  protection?: TrackProtection;
}

interface ParsedPart {
  uri: string;
  duration: number;
  independent?: boolean;
  byterange?: ParsedByteRange;
}
interface ParsedMap {
  uri: string;
  byterange?: ParsedByteRange;
}
interface ParsedSegment {
  uri: string;
  duration: number;
  /** The discontinuity sequence number (m3u8-parser's count). */
  timeline?: number;
  programDateTime?: number;
  parts?: ParsedPart[];
  map?: ParsedMap;
  byterange?: ParsedByteRange;
}
interface ParsedMedia {
  uri?: string;
  default?: boolean;
  language?: string;
}
interface ParsedManifest {
  playlists?: { uri: string; attributes: Record<string, unknown> }[];
  mediaGroups?: {
    AUDIO?: Record<string, Record<string, ParsedMedia>>;
    SUBTITLES?: Record<string, Record<string, ParsedMedia>>;
    'CLOSED-CAPTIONS'?: Record<string, Record<string, ParsedCaptionService>>;
  };
  segments: ParsedSegment[];
  mediaSequence?: number;
  endList?: boolean;
  targetDuration?: number;
  partTargetDuration?: number;
  serverControl?: { canBlockReload?: boolean; canSkipUntil?: number; partHoldBack?: number; holdBack?: number };
  skip?: { skippedSegments: number };
  dateRanges?: ParsedDateRange[];
  preloadSegment?: {
    parts?: ParsedPart[];
    preloadHints?: { uri: string; type: string }[];
    map?: ParsedMap;
    /** Its discontinuity sequence number (counted past an EXT-X-DISCONTINUITY before its parts). */
    timeline?: number;
    /** Its own EXT-X-PROGRAM-DATE-TIME, when listed (m3u8-parser keeps the tag's text). */
    dateTimeString?: string;
  };
}

function parse(text: string): ParsedManifest {
  const p = new Parser();
  p.push(text);
  p.end();
  return p.manifest as unknown as ParsedManifest;
}

/** Live: how many target durations old a loaded media playlist may be before chunkAt reloads it. */
const STALE_TARGET_DURATIONS = 3;

export class HlsSource implements SourceModel {
  readonly protocol = 'hls' as const;
  live = false;
  lowLatency = false;
  targetLatency?: number;
  video: PlayerRendition[] = [];
  audio?: AudioTrack;
  audioTracks: AudioTrack[] = [];
  textTracks: TextTrackRef[] = [];
  captionServices: CaptionServiceRef[] = [];
  sessionKeys: TrackProtection[] = [];
  private media = new Map<string, MediaState>();
  private readonly ads = new AdMarkerBook();
  private urls = new Map<string, string>();
  private closed = new AbortController();
  /** Live: where the playlist's end is, from every media playlist that arrives (all renditions share one clock). */
  private readonly edge = new LiveEdgeClock();
  /** The thumbnail track, once its image playlist is read. */
  private thumbnailTrack: ThumbnailModel | null = null;

  constructor(
    private readonly masterUrl: string,
    private readonly loader: Loader,
  ) {}

  async open(signal: AbortSignal): Promise<void> {
    const text = await fetchPlaylistText(this.masterUrl, { signal, ...this.loader });
    const m = parse(text);
    if (!m.playlists?.length) throw new Error('not a multivariant playlist (no EXT-X-STREAM-INF)');
    this.sessionKeys = readHlsSessionKeys(text, this.masterUrl);
    this.loader.steering?.start(text, this.masterUrl, this.closed.signal);
    const images = readHlsImageStream(text, this.masterUrl);
    if (images) void this.loadThumbnails(images);
    for (const pl of firstAudioGroupVariants(m.playlists)) {
      const a = pl.attributes as {
        BANDWIDTH?: number;
        CODECS?: string;
        RESOLUTION?: { width: number; height: number };
        'FRAME-RATE'?: number;
        'VIDEO-RANGE'?: string;
      };
      const url = new URL(pl.uri, this.masterUrl).href;
      const id = this.idFor(url);
      const videoCodecs = (a.CODECS ?? '')
        .split(',')
        .filter((c) => !c.trim().startsWith('mp4a'))
        .join(',');
      this.urls.set(id, url);
      this.video.push({
        id,
        kind: 'video',
        bitrate: a.BANDWIDTH ?? 0,
        codecs: videoCodecs || 'avc1.42e01e',
        width: a.RESOLUTION?.width,
        height: a.RESOLUTION?.height,
        frameRate: a['FRAME-RATE'],
        ...(a['VIDEO-RANGE'] === 'PQ' || a['VIDEO-RANGE'] === 'HLG' ? { videoRange: a['VIDEO-RANGE'] } : {}),
        initUrl: '',
      });
    }
    this.video = playableVideo(this.video);
    this.video.sort((x, y) => x.bitrate - y.bitrate);
    // The variants' AUDIO group: one track per language (EXT-X-MEDIA TYPE=AUDIO).
    const audioCodecs =
      (m.playlists[0].attributes as { CODECS?: string }).CODECS?.split(',')
        .find((c) => c.trim().startsWith('mp4a'))
        ?.trim() ?? 'mp4a.40.2';
    const audioGroupId = (m.playlists[0].attributes as { AUDIO?: string }).AUDIO;
    const audioGroup = m.mediaGroups?.AUDIO?.[audioGroupId ?? ''] ?? Object.values(m.mediaGroups?.AUDIO ?? {})[0] ?? {};
    for (const [name, r] of Object.entries(audioGroup)) {
      if (!r.uri) continue;
      const url = new URL(r.uri, this.masterUrl).href;
      const id = this.idFor(url);
      this.urls.set(id, url);
      this.audioTracks.push({
        id,
        kind: 'audio',
        bitrate: 128_000,
        codecs: audioCodecs,
        initUrl: '',
        name,
        default: Boolean(r.default),
        ...(r.language ? { language: r.language } : {}),
      });
    }
    this.audio = this.audioTracks.find((t) => t.default) ?? this.audioTracks[0];
    // the 5.1 twins of the other groups, in a codec this browser's MSE plays, as extra tracks
    for (const r of extraAudioRenditions(text, m.playlists)) {
      if (!MediaSource.isTypeSupported(`audio/mp4; codecs="${r.codec}"`)) continue;
      const url = new URL(r.uri, this.masterUrl).href;
      const id = this.idFor(url);
      if (this.urls.has(id)) continue;
      this.urls.set(id, url);
      this.audioTracks.push({
        id,
        kind: 'audio',
        bitrate: 384_000,
        codecs: r.codec,
        initUrl: '',
        name: multichannelName(r.name, r.channels),
        default: false,
        ...(r.language ? { language: r.language } : {}),
      });
    }
    this.captionServices = captionServices(m.mediaGroups?.['CLOSED-CAPTIONS']);
    const subtitleGroup = Object.values(m.mediaGroups?.SUBTITLES ?? {})[0] ?? {};
    for (const [name, r] of Object.entries(subtitleGroup)) {
      if (!r.uri) continue;
      const url = new URL(r.uri, this.masterUrl).href;
      const id = this.idFor(url);
      this.urls.set(id, url); // (so the next playlist of its folder gets an id of its own)
      this.textTracks.push({
        id,
        language: r.language ?? 'und',
        name,
        default: Boolean(r.default),
        files: (signal) => this.subtitleFiles(url, signal),
      });
    }
    // Learn live/LL from the lowest rendition's playlist, and the init URLs of all.
    await Promise.all([...this.video, ...this.audioTracks].map((r) => this.reload(r.id, signal)));
    const first = this.media.get(this.video[0].id)!;
    this.live = !first.endList;
    this.lowLatency = this.live && first.partTarget !== undefined;
    if (this.live) this.targetLatency = first.partHoldBack ?? first.holdBack ?? 3 * first.targetDuration;
    for (const r of [...this.video, ...this.audioTracks]) {
      const st = this.media.get(r.id)!;
      r.initUrl = st.initUrl ?? '';
      if (st.initByteRange) r.initByteRange = st.initByteRange;
      if (st.protection) r.protection = st.protection;
    }
  }

  /** A WebVTT media playlist's segments, fetched in order (VOD subtitles). */
  private async subtitleFiles(playlistUrl: string, signal: AbortSignal): Promise<string[]> {
    const { text } = await fetchText(playlistUrl, { signal, ...this.loader });
    const segments = parse(text).segments;
    return Promise.all(
      segments.map(
        async (seg) => (await fetchText(new URL(seg.uri, playlistUrl).href, { signal, ...this.loader })).text,
      ),
    );
  }

  /**
   * Reads the image playlist, at load rather than at the first hover: one small request beside the
   * media playlists, not awaited (the start never waits for it), and the preview has its sheets
   * before a viewer reaches for the seek bar (thumbnailAt stays synchronous). Live (no
   * EXT-X-ENDLIST): read again every target duration of its own, until the source closes, as its
   * window slides on with the media playlists'. A failure leaves the track as it was (the request
   * log shows it) and playback goes on. A playlist never read yet is asked again 1 s later, then
   * 2, 4, up to 8 s apart, for as long as the stream is live (a channel's origin answers 503 until
   * its first picture exists: a viewer joining a young channel, or one just restarted, gets the
   * previews once they are there); VOD gives up after three tries. A live one read before is tried
   * again at the next refresh.
   */
  private async loadThumbnails(stream: HlsImageStream): Promise<void> {
    const signal = this.closed.signal;
    let refreshMs: number | undefined;
    let unread = 0;
    while (!signal.aborted) {
      try {
        const text = await fetchPlaylistText(stream.url, { signal, ...this.loader });
        this.thumbnailTrack = readHlsImagePlaylist(text, stream.url, stream);
        const m = parse(text);
        if (m.endList) return;
        refreshMs = (m.targetDuration ?? 6) * 1000;
      } catch {
        if (refreshMs === undefined) {
          unread++;
          if (!this.live && unread >= 3) return;
          await delay(Math.min(8_000, 1_000 * 2 ** (unread - 1)), signal).catch(() => {});
          continue;
        }
      }
      await delay(refreshMs, signal).catch(() => {});
    }
  }

  thumbnails(): ThumbnailModel | null {
    return this.thumbnailTrack;
  }

  close(): void {
    this.closed.abort();
  }

  adMarkers(): AdMarker[] {
    return this.ads.list();
  }

  liveEdgePdtMs(nowMs: number): number | null {
    return this.live ? this.edge.edgePdtAt(nowMs) : null;
  }

  /**
   * A rendition's id: its playlist's folder (`360p` of …/360p/index.m3u8), or, when another
   * playlist of that folder has it already (packagers that write every playlist into one
   * folder: Shaka Packager, ffmpeg's var_stream_map), the folder and the file's name
   * (`hls/video_360p`). Every playlist of one folder used to get the same id, so the renditions
   * overwrote each other.
   */
  private idFor(url: string): string {
    const parts = new URL(url).pathname.split('/');
    const dir = parts[parts.length - 2] ?? url;
    const taken = this.urls.get(dir);
    if (taken === undefined || taken === url) return dir;
    return `${dir}/${parts[parts.length - 1].replace(/\.m3u8$/i, '')}`;
  }

  async startCursor(renditionId: string, signal: AbortSignal): Promise<Cursor> {
    const st = this.media.get(renditionId) ?? (await this.reload(renditionId, signal));
    if (!this.live) return { msn: st.firstMsn, part: 0 };
    if (this.lowLatency) {
      // PART-HOLD-BACK behind the end of the newest part, then back to an independent part (a key
      // frame). Starting at the newest independent part instead put playback 0.5–1 s behind the
      // edge, below PART-HOLD-BACK, where a 5 % playback-rate slow-down takes tens of seconds to
      // get back to the advertised latency (the 1.25 s of bench/results/abr-qoe.json).
      const hold = this.targetLatency ?? 3;
      let acc = 0;
      let newestIndependent: Cursor | undefined;
      for (let msn = st.lastMsn; msn >= st.firstMsn; msn--) {
        const seg = st.segments.get(msn);
        if (!seg) continue;
        if (seg.parts.length === 0) {
          // an older segment listed without its parts: whole, from its start
          acc += seg.duration;
          if (acc >= hold - 1e-6) return { msn, part: 0 };
          continue;
        }
        for (let p = seg.parts.length - 1; p >= 0; p--) {
          acc += seg.parts[p].duration;
          if (!seg.parts[p].independent) continue;
          newestIndependent ??= { msn, part: p };
          if (acc >= hold - 1e-6) return { msn, part: p };
        }
      }
      if (newestIndependent) return newestIndependent;
    }
    // Classic live: three target durations from the end (HOLD-BACK).
    const lastComplete = st.segments.get(st.lastMsn)?.complete ? st.lastMsn : st.lastMsn - 1;
    return { msn: Math.max(st.firstMsn, lastComplete - 2), part: 0 };
  }

  vodDurationSec(renditionId: string): number | undefined {
    const st = this.media.get(renditionId);
    if (!st || this.live) return undefined;
    return startSecOf(st, st.lastMsn + 1);
  }

  async alignedCursor(to: string, from: string, cursor: Cursor, signal: AbortSignal): Promise<Cursor> {
    const src = this.media.get(from) ?? (await this.reload(from, signal));
    const dst = this.media.get(to) ?? (await this.reload(to, signal));
    const same = { msn: cursor.msn, part: 0 };
    if (this.live) {
      // the segment being produced (not listed in `from` yet) starts where the newest listed ends
      const seg = src.segments.get(cursor.msn);
      const prev = src.segments.get(cursor.msn - 1);
      const pdt = seg?.pdt ?? (prev?.pdt !== undefined ? prev.pdt + prev.duration * 1000 : undefined);
      if (pdt === undefined) return same;
      const msn = segmentStartingAt(pdt, dst.segments, cursor.msn, dst.targetDuration);
      // (past what `to` lists: the one after its newest)
      return msn !== undefined ? { msn, part: 0 } : (this.cursorForPdt(to, pdt) ?? same);
    }
    const t = startSecOf(src, cursor.msn);
    // numbered alike (a CMAF ladder): the same number, whose start is within half a segment
    const twin = dst.segments.get(cursor.msn);
    if (twin && Math.abs(startSecOf(dst, cursor.msn) - t) < twin.duration / 2) return same;
    return this.cursorForTime(to, t);
  }

  cursorForTime(renditionId: string, t: number): Cursor {
    const st = this.media.get(renditionId)!;
    let acc = 0;
    for (let msn = st.firstMsn; msn <= st.lastMsn; msn++) {
      const seg = st.segments.get(msn);
      if (!seg) continue;
      if (t < acc + seg.duration) return { msn, part: 0 };
      acc += seg.duration;
    }
    return { msn: st.lastMsn + 1, part: 0 };
  }

  cursorForPdt(renditionId: string, pdtMs: number): Cursor | null {
    const st = this.media.get(renditionId);
    if (!st) return null;
    for (let msn = st.firstMsn; msn <= st.lastMsn; msn++) {
      const seg = st.segments.get(msn);
      if (seg?.pdt === undefined) continue;
      // (the segment being produced lists no length yet: it spans at least a target duration)
      if (pdtMs < seg.pdt + spanSec(seg, st.targetDuration) * 1000) return { msn, part: 0 };
    }
    return { msn: st.lastMsn + 1, part: 0 };
  }

  windowStartPdtMs(renditionId: string): number | null {
    const st = this.media.get(renditionId);
    if (!st) return null;
    for (let msn = st.firstMsn; msn <= st.lastMsn; msn++) {
      const pdt = st.segments.get(msn)?.pdt;
      if (pdt !== undefined) return pdt;
    }
    return null;
  }

  /**
   * Where a chunk of `seg` lies on the playlist's timeline, for the player to place media whose
   * times start again after a discontinuity: VOD with discontinuities, the EXTINFs before it; live,
   * its PDT (`pdt`, the part's own for a part), what a sliding window keeps from one reload to the
   * next. Nothing for VOD without discontinuities, nor for live without PDT (media times as they are).
   */
  private placement(
    st: MediaState,
    seg: SegEntry,
    msn: number,
    pdt: number | undefined,
  ): { discontinuity?: { sequence: number; startSec: number } } {
    if (st.discontinuous) return { discontinuity: { sequence: seg.timeline, startSec: startSecOf(st, msn) } };
    if (this.live && pdt !== undefined) return { discontinuity: { sequence: seg.timeline, startSec: pdt / 1000 } };
    return {};
  }

  async chunkAt(renditionId: string, cursor: Cursor, signal: AbortSignal): Promise<ChunkRef | null> {
    let c = { ...cursor };
    for (let attempt = 0; attempt < 1000; attempt++) {
      let st = this.media.get(renditionId) ?? (await this.reload(renditionId, signal));
      // live: a playlist older than STALE_TARGET_DURATIONS is reloaded before it is used. Playing
      // at the edge keeps it fresh (each chunk waits on a reload); playing back in the DVR window
      // finds its segments in what was loaded, while the window moves on without it.
      if (this.live && Date.now() - st.loadedAt > st.targetDuration * 1000 * STALE_TARGET_DURATIONS)
        st = await this.reload(renditionId, signal);
      if (c.msn < st.firstMsn) c = { msn: st.firstMsn, part: 0 }; // fell out of the window: jump forward
      const seg = st.segments.get(c.msn);
      if (seg) {
        const base = new URL(st.url);
        if (seg.complete && (c.part === 0 || seg.parts.length === 0)) {
          return {
            url: new URL(seg.uri, base).href,
            msn: c.msn,
            duration: seg.duration,
            independent: true,
            next: { msn: c.msn + 1, part: 0 },
            programDateTime: seg.pdt,
            ...(seg.byteRange ? { byteRange: seg.byteRange } : {}),
            ...(seg.map ? { init: seg.map } : {}),
            ...(seg.protection ? { protection: seg.protection } : {}),
            ...this.placement(st, seg, c.msn, seg.pdt),
          };
        }
        const part = seg.parts[c.part];
        if (part) {
          const offset = seg.parts.slice(0, c.part).reduce((s, p) => s + p.duration, 0);
          const lastOfSegment = seg.complete && c.part === seg.parts.length - 1;
          const pdt = seg.pdt !== undefined ? seg.pdt + offset * 1000 : undefined;
          return {
            url: new URL(part.uri, base).href,
            msn: c.msn,
            part: c.part,
            duration: part.duration,
            independent: part.independent,
            next: lastOfSegment ? { msn: c.msn + 1, part: 0 } : { msn: c.msn, part: c.part + 1 },
            programDateTime: pdt,
            ...(part.byteRange ? { byteRange: part.byteRange } : {}),
            ...(seg.map ? { init: seg.map } : {}),
            ...(seg.protection ? { protection: seg.protection } : {}),
            ...this.placement(st, seg, c.msn, pdt),
          };
        }
        if (seg.complete) {
          c = { msn: c.msn + 1, part: 0 };
          continue;
        }
      }
      if (st.endList && c.msn > st.lastMsn) return null;
      await this.waitFor(renditionId, st, c, signal);
    }
    throw new Error(`no progress on ${renditionId} at ${cursor.msn}.${cursor.part}`);
  }

  /** Waits until the playlist can contain `c`: blocking reload when the server supports it. */
  private async waitFor(renditionId: string, st: MediaState, c: Cursor, signal: AbortSignal): Promise<void> {
    if (st.canBlockReload) {
      const params = new URLSearchParams({ _HLS_msn: String(c.msn) });
      if (this.lowLatency) params.set('_HLS_part', String(c.part));
      if (st.canSkipUntil > 0) params.set('_HLS_skip', 'YES');
      // a reload for the next part is due within about a part's duration: a short limit (a
      // longer one when it waits for a whole segment)
      const timeout =
        this.lowLatency && st.partTarget ? blockingPartReloadTimeout(st.partTarget, st.targetDuration) : undefined;
      await this.reload(renditionId, signal, params, timeout);
      return;
    }
    const waitMs = Math.max(100, (st.targetDuration * 1000) / 2 - (Date.now() - st.loadedAt));
    await delay(waitMs, signal);
    await this.reload(renditionId, signal);
  }

  private async reload(
    renditionId: string,
    signal: AbortSignal,
    params?: URLSearchParams,
    timeout?: RequestTimeout,
  ): Promise<MediaState> {
    const base = this.urls.get(renditionId);
    if (!base) throw new Error(`unknown rendition ${renditionId}`);
    const url = new URL(base);
    for (const [k, v] of params ?? []) url.searchParams.set(k, v);
    const text = await fetchPlaylistText(url.href, { signal, ...this.loader, timeout });
    const arrivedAt = Date.now();
    // (throws the ProtectionError of a key this player cannot use: AES-128, FairPlay, …)
    const keys = readHlsMediaKeys(text, base);
    const m = parse(text);
    const keyOf = (i: number) => (keys.segments.length === m.segments.length ? keys.segments[i] : keys.last);
    if (m.dateRanges?.length) this.ads.noteDateRanges(m.dateRanges);
    const prev = this.media.get(renditionId);
    const skipped = m.skip?.skippedSegments ?? 0;
    const seq = m.mediaSequence ?? 0;
    const segments = new Map<number, SegEntry>();
    if (skipped && prev)
      for (let msn = seq; msn < seq + skipped; msn++) {
        const old = prev.segments.get(msn);
        if (old) segments.set(msn, old);
      }
    let initMap: ParsedMap | undefined;
    // several EXT-X-MAPs (an ad break stitched in with its own init segment): each segment names its own
    const mapKey = (map: ParsedMap | undefined) => (map ? `${map.uri} ${map.byterange?.offset}` : '');
    const maps = new Set(m.segments.map((s) => mapKey(s.map)));
    m.segments.forEach((s, i) => {
      const msn = seq + skipped + i;
      initMap ??= s.map;
      const byteRange = listedRange(s.byterange);
      const protection = keyOf(i);
      segments.set(msn, {
        msn,
        uri: s.uri,
        duration: s.duration,
        pdt: s.programDateTime,
        parts: toParts(s.parts ?? []),
        complete: true,
        timeline: s.timeline ?? 0,
        ...(byteRange ? { byteRange } : {}),
        ...((maps.size > 1 || !m.endList) && s.map ? { map: resolvedMap(s.map, base) } : {}),
        ...(protection ? { protection } : {}),
      });
    });
    let lastMsn = seq + skipped + m.segments.length - 1;
    const pre = m.preloadSegment;
    if (pre?.parts?.length) {
      lastMsn += 1;
      const prevSeg = segments.get(lastMsn - 1);
      // Its own EXT-X-PROGRAM-DATE-TIME first: after a discontinuity (an encoder restart) it
      // starts after a gap, and the previous segment's end would date its parts (and so the live
      // edge and the latency) too early by the whole outage.
      const listed = pre.dateTimeString !== undefined ? Date.parse(pre.dateTimeString) : NaN;
      const pdt = Number.isFinite(listed)
        ? listed
        : prevSeg?.pdt !== undefined
          ? prevSeg.pdt + prevSeg.duration * 1000
          : undefined;
      segments.set(lastMsn, {
        msn: lastMsn,
        uri: '',
        duration: 0,
        pdt,
        parts: toParts(pre.parts),
        complete: false,
        timeline: pre.timeline ?? prevSeg?.timeline ?? 0,
        ...(pre.map ? { map: resolvedMap(pre.map, base) } : prevSeg?.map ? { map: prevSeg.map } : {}),
        ...(keys.last ? { protection: keys.last } : {}),
      });
    }
    initMap ??= pre?.map;
    const initByteRange = initMap ? listedRange(initMap.byterange) : prev?.initByteRange;
    const initUri = initMap?.uri ?? prev?.initUrl;
    const st: MediaState = {
      url: base,
      initUrl: initUri ? new URL(initUri, base).href : undefined,
      ...(initByteRange ? { initByteRange } : {}),
      segments,
      discontinuous: Boolean(m.endList) && new Set(m.segments.map((x) => x.timeline ?? 0)).size > 1,
      firstMsn: skipped && prev ? Math.max(seq, prev.firstMsn) : seq,
      lastMsn,
      endList: Boolean(m.endList),
      targetDuration: m.targetDuration ?? 6,
      partTarget: m.partTargetDuration,
      canBlockReload: Boolean(m.serverControl?.canBlockReload),
      canSkipUntil: m.serverControl?.canSkipUntil ?? 0,
      partHoldBack: m.serverControl?.partHoldBack,
      holdBack: m.serverControl?.holdBack,
      loadedAt: Date.now(),
    };
    const protection = segments.get(st.firstMsn)?.protection ?? keys.last ?? prev?.protection;
    if (protection) st.protection = protection;
    // A reply older than what we hold (a slower parallel reload) must not roll us back.
    if (prev && prev.lastMsn > st.lastMsn) return prev;
    this.media.set(renditionId, st);
    const newest = segments.get(lastMsn);
    const endPdt =
      !st.endList && newest
        ? newestListedEndPdt({
            pdtMs: newest.pdt,
            complete: newest.complete,
            durationSec: newest.duration,
            partDurationsSec: newest.parts.map((p) => p.duration),
          })
        : undefined;
    if (endPdt !== undefined) this.edge.observe(endPdt, arrivedAt);
    return st;
  }
}

/** A segment's parts, with their byte ranges made whole (src/hls/listed-byte-range.ts). */
function toParts(parts: ParsedPart[]): PartEntry[] {
  const ranges = partRanges(parts);
  return parts.map((p, i) => {
    const byteRange = ranges[i];
    return {
      uri: p.uri,
      duration: p.duration,
      independent: Boolean(p.independent),
      ...(byteRange ? { byteRange } : {}),
    };
  });
}

/** An EXT-X-MAP as a chunk names its init segment: the URI resolved against the playlist's. */
function resolvedMap(map: ParsedMap, base: string): { url: string; byteRange?: ByteRange } {
  const range = listedRange(map.byterange);
  return { url: new URL(map.uri, base).href, ...(range ? { byteRange: range } : {}) };
}

/** Seconds from the start of `st`'s listed segments to the start of segment `msn`. */
function startSecOf(st: MediaState, msn: number): number {
  let t = 0;
  for (let n = st.firstMsn; n < msn; n++) t += st.segments.get(n)?.duration ?? 0;
  return t;
}
