/**
 * HLS for virtual viewers: multivariant + media playlists (m3u8-parser), VOD and live, and
 * LL-HLS: parts, preload hints, blocking playlist reload (_HLS_msn/_HLS_part, RFC 8216bis
 * 6.2.5.2) and delta updates (_HLS_skip=YES, 6.2.5.1) merged into the playlist we hold.
 */
import { holdBackSteering } from '../../src/abr/low-latency.js';
import { Parser } from 'm3u8-parser';
import { StreamedgeError } from '../../src/errors.js';
import { firstAudioGroupVariants } from '../../src/hls/variant-choice.js';
import { chooseVideoFamily, chosenFamily } from '../../src/media/video-family-choice.js';
import { readContentSteering } from '../../src/hls/content-steering.js';
import { readIdentitySessionKey } from '../../src/hls/key-tags.js';
import { listedRange, partRanges, type ParsedByteRange } from '../../src/hls/listed-byte-range.js';
import { rangeRequest } from '../../src/http/range.js';
import { segmentStartingAt } from '../../src/hls/aligned-segment.js';
import type { HttpGetter } from './http-get.js';
import { reloadBegunAt, scheduleStart } from './reload-schedule.js';
import type { Chunk, Cursor, StreamClient, StreamRendition } from './stream-client.js';

interface PartInfo {
  url: string;
  duration: number;
  independent: boolean;
  /** BYTERANGE=: the Range header value for `url`. */
  range?: string;
}

interface SegmentInfo {
  msn: number;
  url: string;
  duration: number;
  pdt?: number;
  parts: PartInfo[];
  complete: boolean;
  initUrl: string;
  /** EXT-X-BYTERANGE / EXT-X-MAP BYTERANGE: Range header values for `url` and `initUrl`. */
  range?: string;
  initRange?: string;
}

interface PlaylistState {
  url: string;
  segments: Map<number, SegmentInfo>;
  firstMsn: number;
  /** Last complete segment (-1 when none). */
  lastMsn: number;
  endList: boolean;
  hint?: { msn: number; part: number; url: string; range?: string };
  canBlockReload: boolean;
  canSkip: boolean;
  holdBack?: number;
  partHoldBack?: number;
  partTarget?: number;
  targetDuration: number;
  /**
   * When the load that gave this state began (performance.now() ms): RFC 8216bis 6.3.4 measures
   * the reload interval from the time the client began loading the playlist. A reload that waited
   * for its due time counts from that due time, not from when the timer got to run: see reloadAt.
   */
  loadBegunAt: number;
  /** The newest edge this rendition's playlists showed (program date-time, epoch ms) and when it was first seen (epoch ms). */
  edge?: { pdtMs: number; seenAtMs: number };
  /** A reload that did not change the playlist halves the next reload interval (RFC 8216bis 6.3.4). */
  unchanged: boolean;
}

/** The parts of an m3u8-parser manifest this client reads. */
interface HlsPart {
  uri: string;
  duration?: number;
  independent?: boolean;
  byterange?: ParsedByteRange;
}

interface HlsTimed {
  programDateTime?: number;
  dateTimeString?: string;
}

interface HlsSegment extends HlsTimed {
  uri: string;
  duration?: number;
  map?: { uri?: string; byterange?: ParsedByteRange };
  parts?: HlsPart[];
  byterange?: ParsedByteRange;
}

interface HlsPreloadSegment extends HlsTimed {
  map?: { uri?: string; byterange?: ParsedByteRange };
  parts?: HlsPart[];
  preloadHints?: { type?: string; uri: string; byterange?: ParsedByteRange }[];
}

interface HlsServerControl {
  canBlockReload?: boolean;
  canSkipUntil?: number;
  holdBack?: number;
  partHoldBack?: number;
}

interface HlsManifest {
  playlists?: {
    uri: string;
    attributes?: {
      BANDWIDTH?: number;
      RESOLUTION?: { width?: number; height?: number };
      AUDIO?: string;
      CODECS?: string;
    };
  }[];
  mediaGroups?: { AUDIO?: Record<string, Record<string, { default?: boolean; uri?: string }>> };
  skip?: { skippedSegments?: number };
  mediaSequence?: number;
  segments?: HlsSegment[];
  preloadSegment?: HlsPreloadSegment;
  serverControl?: HlsServerControl;
  partInf?: { partTarget?: number };
  partTargetDuration?: number;
  targetDuration?: number;
  endList?: boolean;
}

/**
 * Playlists parsed and resolved once per (directory, text), shared read-only by every viewer of
 * this thread: thousands of viewers fetch the same few playlist versions, and parsing one and
 * resolving its URIs costs far more than the lookup. Bounded: live playlists change every part.
 */
interface ResolvedPlaylist {
  m: HlsManifest;
  firstMsn: number;
  segments: SegmentInfo[];
  preload?: SegmentInfo;
  hint?: { msn: number; part: number; url: string; range?: string };
  /** Program date-time (epoch ms) where the newest listed segment or part ends, when known. */
  edgePdtMs?: number;
  /**
   * A full playlist (no EXT-X-SKIP) whose every segment has its init: the segment map any viewer
   * ends up with, built once and shared read-only (no per-viewer merge needed).
   */
  fullMap?: Map<number, SegmentInfo>;
}

/**
 * By directory, the playlists parsed lately, newest first, with their bytes: a response is
 * compared byte for byte (memcmp) with those, so a known playlist is never decoded to a string,
 * hashed or parsed again; thousands of viewers fetch the few versions a live playlist goes through.
 */
const resolvedByDir = new Map<string, { bytes: Buffer; r: ResolvedPlaylist }[]>();
/** Versions kept per directory (a live playlist changes every part: the viewers' reloads span a few). */
const MEMO_PER_DIR = 16;
/** Directories kept (one per rendition of the stream under test; a bound, not a working size). */
const MEMO_DIRS = 64;

const EXTM3U = Buffer.from('#EXTM3U', 'latin1');

function parse(text: string): HlsManifest {
  const p = new Parser();
  p.push(text);
  p.end();
  return p.manifest as HlsManifest;
}

/** The directory of a URL (up to and including the last '/' of its path). */
function dirOf(url: string): string {
  const q = url.search(/[?#]/);
  const path = q === -1 ? url : url.slice(0, q);
  return path.slice(0, path.lastIndexOf('/') + 1);
}

/** Resolves a playlist URI against `dir` without URL parsing in the common cases. */
function resolveUri(uri: string, dir: string): string {
  if (/^[a-z][a-z0-9+.-]*:/i.test(uri)) return uri;
  if (uri.startsWith('/') || uri.startsWith('.') || uri.includes('/.')) return new URL(uri, dir).href;
  return dir + uri;
}

function resolvePlaylist(bytes: Buffer, playlistUrl: string): ResolvedPlaylist {
  const dir = dirOf(playlistUrl);
  let known = resolvedByDir.get(dir);
  if (known) {
    for (const k of known) if (k.bytes.length === bytes.length && k.bytes.equals(bytes)) return k.r;
  }
  // RFC 8216bis 4.1: a playlist's first line is #EXTM3U (what hls.js checks too): anything else
  // (an error page, the wrong URL) fails the viewer by name instead of playing nothing
  if (!bytes.subarray(0, EXTM3U.length).equals(EXTM3U)) {
    throw new StreamedgeError(
      'LOADTEST_NOT_PLAYLIST',
      `${playlistUrl} is not an HLS playlist: it does not begin with #EXTM3U`,
    );
  }
  const m = parse(bytes.toString('utf8'));
  const skipped = Number(m.skip?.skippedSegments ?? 0);
  const seq = Number(m.mediaSequence ?? 0);
  let msn = seq + skipped;
  let map = '';
  let mapRange: string | undefined;
  const segments: SegmentInfo[] = [];
  const partsOf = (parts: HlsPart[] | undefined) => {
    const ranges = partRanges(parts ?? []);
    return (parts ?? []).map((p, i) => {
      const part: PartInfo = {
        url: resolveUri(p.uri, dir),
        duration: Number(p.duration),
        independent: p.independent === true,
      };
      const r = ranges[i];
      if (r) part.range = rangeRequest(r.offset, r.length);
      return part;
    });
  };
  for (const s of m.segments ?? []) {
    if (s.map?.uri) {
      map = resolveUri(s.map.uri, dir);
      mapRange = rangeOf(s.map.byterange);
    }
    const seg: SegmentInfo = {
      msn,
      url: resolveUri(s.uri, dir),
      duration: Number(s.duration),
      pdt: pdtOf(s),
      parts: partsOf(s.parts),
      complete: true,
      initUrl: map,
    };
    const range = rangeOf(s.byterange);
    if (range) seg.range = range;
    if (mapRange) seg.initRange = mapRange;
    segments.push(seg);
    msn++;
  }
  let preload: SegmentInfo | undefined;
  let hint: ResolvedPlaylist['hint'];
  const pre = m.preloadSegment;
  if (pre) {
    if (pre.map?.uri) {
      map = resolveUri(pre.map.uri, dir);
      mapRange = rangeOf(pre.map.byterange);
    }
    const parts = partsOf(pre.parts);
    preload = {
      msn,
      url: '',
      duration: parts.reduce((a, p) => a + p.duration, 0),
      pdt: pdtOf(pre),
      parts,
      complete: false,
      initUrl: map,
    };
    if (mapRange) preload.initRange = mapRange;
    const h = (pre.preloadHints ?? []).find((x) => x.type === 'PART');
    if (h) {
      hint = { msn, part: parts.length, url: resolveUri(h.uri, dir) };
      // BYTERANGE-START (and -LENGTH): the hinted part is that range; open-ended without a length
      const start = h.byterange?.offset;
      if (start !== undefined)
        hint.range = h.byterange?.length === undefined ? `bytes=${start}-` : rangeRequest(start, h.byterange.length);
    }
  }
  const r: ResolvedPlaylist = { m, firstMsn: seq, segments, preload, hint, edgePdtMs: edgeOf(segments, preload) };
  const all = preload ? [...segments, preload] : segments;
  if (skipped === 0 && all.every((x) => x.initUrl !== '')) r.fullMap = new Map(all.map((x) => [x.msn, x]));
  if (!known) {
    if (resolvedByDir.size >= MEMO_DIRS) resolvedByDir.clear();
    resolvedByDir.set(dir, (known = []));
  }
  known.unshift({ bytes, r });
  if (known.length > MEMO_PER_DIR) known.pop();
  return r;
}

/** A listed segment or map range as a Range header value (src/hls/listed-byte-range.ts). */
function rangeOf(listed: ParsedByteRange | undefined): string | undefined {
  const r = listedRange(listed);
  return r && rangeRequest(r.offset, r.length);
}

/** Where the newest listed media ends, in program date-time (the live edge the playlist shows). */
function edgeOf(segments: SegmentInfo[], preload: SegmentInfo | undefined): number | undefined {
  const last = segments.at(-1);
  if (preload && preload.parts.length > 0) {
    const start = preload.pdt ?? (last?.pdt !== undefined ? last.pdt + last.duration * 1000 : undefined);
    return start === undefined ? undefined : start + preload.duration * 1000;
  }
  return last?.pdt === undefined ? undefined : last.pdt + last.duration * 1000;
}

const pdtOf = (s: HlsTimed): number | undefined =>
  typeof s.programDateTime === 'number'
    ? s.programDateTime
    : s.dateTimeString
      ? Date.parse(s.dateTimeString)
      : undefined;

/** A delta update (or a playlist missing inits) merged into the viewer's segments (shared objects never mutated). */
function mergeSegments(
  prev: Map<number, SegmentInfo> | undefined,
  r: ResolvedPlaylist,
  seq: number,
  lastMsn: number,
): Map<number, SegmentInfo> {
  const segs = new Map<number, SegmentInfo>(prev ?? []);
  for (const seg of r.segments) segs.set(seg.msn, seg);
  if (r.preload) segs.set(r.preload.msn, r.preload);
  else segs.delete(lastMsn + 1);
  for (const k of segs.keys()) if (k < seq) segs.delete(k);
  // segments without their own EXT-X-MAP inherit the last one seen (on a copy)
  let lastInit = '';
  let lastInitRange: string | undefined;
  for (const k of [...segs.keys()].sort((a, b) => a - b)) {
    const s = segs.get(k)!;
    if (s.initUrl) {
      lastInit = s.initUrl;
      lastInitRange = s.initRange;
    } else if (lastInit) segs.set(k, { ...s, initUrl: lastInit, initRange: lastInitRange });
  }
  return segs;
}

/**
 * When a live playlist without blocking reload is reloaded next: a target duration (half of one
 * when the last reload changed nothing) after the last load began (RFC 8216bis 6.3.4).
 *
 * The next load counts from this due time, not from when the viewer's timer got to run, and a
 * viewer that reaches its reload already late (its segment downloads were answered late) sends
 * it at once but counts it from its due time, so the next one is back on the viewer's phase;
 * only a viewer a whole interval or more behind starts a new schedule from now
 * (bench/loadtest/reload-schedule.ts says why).
 */
function reloadAt(st: Pick<PlaylistState, 'loadBegunAt' | 'targetDuration' | 'unchanged'>): number {
  return st.loadBegunAt + (st.unchanged ? st.targetDuration / 2 : st.targetDuration) * 1000;
}

const STEERING_TAG = '#EXT-X-CONTENT-STEERING:';
const SESSION_KEY_TAG = '#EXT-X-SESSION-KEY:';

export class HlsClient implements StreamClient {
  readonly protocol = 'hls' as const;
  live = false;
  lowLatency = false;
  targetLatencySec?: number;
  segmentSec = 6;
  video: StreamRendition[] = [];
  videoFamily?: string;
  audio?: StreamRendition;
  private readonly playlistUrl = new Map<string, string>();
  private readonly states = new Map<string, PlaylistState>();
  /** The video rendition asked for last (audioCursor matches audio to it). */
  private lastVideo: string | undefined;
  /** Audio media sequence number minus video's for the same media (0: numbered alike). */
  private audioShift = 0;
  /** The multivariant playlist's steering server (EXT-X-CONTENT-STEERING SERVER-URI), when it names one. */
  steeringServer?: string;
  /** An encrypted stream's content key (EXT-X-SESSION-KEY, KEYFORMAT identity), absolute: a player fetches it once. */
  keyUrl?: string;

  /**
   * `lowLatency: false` plays like a player without LL-HLS support: whole segments only, plain
   * playlist reloads every target duration, even when the stream offers parts and blocking reload.
   */
  constructor(
    private readonly http: HttpGetter,
    private readonly url: string,
    private readonly o: {
      lowLatency?: boolean;
      /** A ladder in several video codecs: the families this viewer prefers, first first (default: the first listed). */
      preferredVideo?: readonly string[];
      now?: () => number;
      /** When the viewer was due to join (its reload schedule starts then; default: when open() runs). */
      joinAt?: number;
    } = {},
  ) {
    this.now = o.now ?? (() => performance.now());
  }

  private readonly now: () => number;
  /** The viewer's reload schedule: points `everyMs` apart from `at` (set by open()). */
  private schedule: { at: number; everyMs: number } | undefined;

  async open(signal: AbortSignal): Promise<void> {
    const now = this.now();
    // the viewer's reload schedule starts when it was due to join (see reloadAt)
    const begunAt = scheduleStart(this.o.joinAt, now);
    const res = await this.http.get(this.url, { kind: 'playlist', bytes: true, signal });
    if (res.body!.includes(STEERING_TAG))
      this.steeringServer = readContentSteering(res.body!.toString('utf8'))?.serverUri;
    if (res.body!.includes(SESSION_KEY_TAG)) {
      const key = readIdentitySessionKey(res.body!.toString('utf8'));
      if (key !== undefined) this.keyUrl = new URL(key, this.url).href;
    }
    const r = resolvePlaylist(res.body!, this.url);
    const m = r.m;
    // a ladder in H.264 and HEVC: a viewer plays one family, the one it prefers (--hevc-share),
    // else the first listed (no decoder to ask)
    const listed = firstAudioGroupVariants(m.playlists ?? []).map((v) => ({ v, codecs: v.attributes?.CODECS ?? '' }));
    const chosen = chooseVideoFamily(listed, () => true, this.o.preferredVideo);
    this.videoFamily = chosenFamily(listed, chosen);
    const variants = chosen.map((x) => x.v);
    const firstGroup = variants[0]?.attributes?.AUDIO;
    if (variants.length === 0) {
      // a media playlist given directly: one rendition
      this.video = [{ id: 'main', kind: 'video', bitrate: 1_000_000 }];
      this.playlistUrl.set('main', this.url);
      this.ingest('main', r, begunAt);
    } else {
      this.video = variants.map((v, i) => {
        const id = `v${i}`;
        this.playlistUrl.set(id, new URL(v.uri, this.url).href);
        const a = v.attributes ?? {};
        return {
          id,
          kind: 'video' as const,
          bitrate: Number(a.BANDWIDTH) || 1,
          width: a.RESOLUTION?.width,
          height: a.RESOLUTION?.height,
        };
      });
      const groups = m.mediaGroups?.AUDIO ?? {};
      const inOrder = firstGroup !== undefined && groups[firstGroup] ? [groups[firstGroup]] : Object.values(groups);
      for (const group of inOrder) {
        const renditions = Object.values(group);
        const pick = renditions.find((r) => r.default && r.uri) ?? renditions.find((r) => r.uri);
        if (pick?.uri) {
          this.audio = { id: 'audio', kind: 'audio', bitrate: 128_000 };
          this.playlistUrl.set('audio', new URL(pick.uri, this.url).href);
          break;
        }
      }
      // the lowest rendition's playlist tells us live/LL and timing
      const lowest = [...this.video].sort((a, b) => a.bitrate - b.bitrate)[0];
      await this.load(lowest.id, signal, undefined, begunAt);
    }
    const first = [...this.states.values()][0];
    if (first.endList && first.segments.size === 0) {
      throw new StreamedgeError('LOADTEST_EMPTY_PLAYLIST', `${first.url} is a VOD playlist with no segments`);
    }
    // started a whole target duration or more after it was due: a schedule of its own from now
    if (now - first.loadBegunAt >= first.targetDuration * 1000) first.loadBegunAt = now;
    this.schedule = { at: first.loadBegunAt, everyMs: Math.max(1, first.targetDuration) * 1000 };
    this.live = !first.endList;
    this.lowLatency =
      this.o.lowLatency !== false && this.live && first.partTarget !== undefined && first.canBlockReload;
    this.segmentSec = first.targetDuration;
    if (this.live) {
      this.targetLatencySec = this.lowLatency
        ? (first.partHoldBack ?? 3 * first.partTarget!)
        : (first.holdBack ?? 3 * first.targetDuration);
    }
  }

  /**
   * `begunAt`: the due time of a scheduled reload. Default: now, or for a rendition's first load
   * after open() (the audio playlist, an ABR switch) the viewer's last schedule point (see reloadAt).
   */
  private async load(id: string, signal: AbortSignal, block?: Cursor, begunAt?: number): Promise<PlaylistState> {
    const base = this.playlistUrl.get(id);
    if (!base) throw new StreamedgeError('LOADTEST_STREAM', `no rendition ${id}`);
    const prev = this.states.get(id);
    const now = this.now();
    const phase = this.schedule;
    begunAt ??=
      prev === undefined && phase !== undefined && now >= phase.at
        ? phase.at + Math.floor((now - phase.at) / phase.everyMs) * phase.everyMs
        : now;
    let url = base;
    let sep = base.includes('?') ? '&' : '?';
    if (block && prev?.canBlockReload) {
      url += `${sep}_HLS_msn=${block.msn}&_HLS_part=${block.part}`;
      sep = '&';
    }
    if (prev?.canSkip && this.lowLatency) url += `${sep}_HLS_skip=YES`;
    const res = await this.http.get(url, { kind: 'playlist', bytes: true, signal });
    return this.ingest(id, resolvePlaylist(res.body!, base), begunAt);
  }

  private ingest(id: string, r: ResolvedPlaylist, begunAt: number): PlaylistState {
    const m = r.m;
    const prev = this.states.get(id);
    const skipped = Number(m.skip?.skippedSegments ?? 0);
    const seq = r.firstMsn;
    if (skipped > 0 && !prev)
      throw new StreamedgeError('LOADTEST_STREAM', `delta playlist for ${id} without a full one first`);
    const lastMsn = seq + skipped + r.segments.length - 1;
    const hint = r.hint;
    // a live playlist never goes back (RFC 8216bis §6.2.2): counted, e.g. across an origin failover
    if (prev !== undefined && lastMsn < prev.lastMsn) this.http.stats.error('playlist_msn_backwards');
    const segs = r.fullMap ?? mergeSegments(prev?.segments, r, seq, lastMsn);
    const sc: HlsServerControl = m.serverControl ?? {};
    const newEdge = r.edgePdtMs !== undefined && (prev?.edge === undefined || r.edgePdtMs > prev.edge.pdtMs);
    const unchanged =
      prev !== undefined && prev.lastMsn === lastMsn && prev.hint?.msn === hint?.msn && prev.hint?.part === hint?.part;
    if (prev) {
      // the rendition's state is updated in place: a viewer reloads every few seconds for the whole
      // run, and a new state object per reload lived a whole reload interval, long enough to be
      // copied by the young-generation GC and often promoted (readers never keep it across a reload)
      prev.segments = segs;
      prev.firstMsn = seq;
      prev.lastMsn = lastMsn;
      prev.endList = m.endList === true;
      prev.hint = hint;
      prev.canBlockReload = sc.canBlockReload === true;
      prev.canSkip = typeof sc.canSkipUntil === 'number' && sc.canSkipUntil > 0;
      prev.holdBack = sc.holdBack;
      prev.partHoldBack = sc.partHoldBack;
      prev.partTarget = m.partInf?.partTarget ?? m.partTargetDuration;
      prev.targetDuration = Number(m.targetDuration ?? 6);
      prev.loadBegunAt = begunAt;
      if (newEdge) {
        if (prev.edge) {
          prev.edge.pdtMs = r.edgePdtMs!;
          prev.edge.seenAtMs = Date.now();
        } else prev.edge = { pdtMs: r.edgePdtMs!, seenAtMs: Date.now() };
      }
      prev.unchanged = unchanged;
      return prev;
    }
    const state: PlaylistState = {
      url: this.playlistUrl.get(id)!,
      segments: segs,
      firstMsn: seq,
      lastMsn,
      endList: m.endList === true,
      hint,
      canBlockReload: sc.canBlockReload === true,
      canSkip: typeof sc.canSkipUntil === 'number' && sc.canSkipUntil > 0,
      holdBack: sc.holdBack,
      partHoldBack: sc.partHoldBack,
      partTarget: m.partInf?.partTarget ?? m.partTargetDuration,
      targetDuration: Number(m.targetDuration ?? 6),
      loadBegunAt: begunAt,
      edge: newEdge ? { pdtMs: r.edgePdtMs!, seenAtMs: Date.now() } : undefined,
      unchanged,
    };
    this.states.set(id, state);
    return state;
  }

  private async state(id: string, signal: AbortSignal): Promise<PlaylistState> {
    return this.states.get(id) ?? (await this.load(id, signal));
  }

  async startCursor(id: string, signal: AbortSignal): Promise<Cursor> {
    const st = await this.state(id, signal);
    if (id !== this.audio?.id) this.lastVideo = id;
    // the audio playlist too, so the first audio chunk is matched to video by time (audioCursor)
    if (this.audio && !this.states.has(this.audio.id)) await this.load(this.audio.id, signal);
    if (!this.live) return { msn: st.firstMsn, part: 0 };
    const ordered = [...st.segments.values()].sort((a, b) => a.msn - b.msn);
    if (this.lowLatency) {
      // go back the hold-back steering's target (PART-HOLD-BACK and a margin, as the browser player
      // joins) from the end of the last part, then to an independent part
      const hold = holdBackSteering(this.targetLatencySec ?? 3).targetLatencySec;
      let acc = 0;
      for (let i = ordered.length - 1; i >= 0; i--) {
        const s = ordered[i];
        const parts = s.parts.length > 0 ? s.parts : [{ url: s.url, duration: s.duration, independent: true }];
        for (let p = parts.length - 1; p >= 0; p--) {
          acc += parts[p].duration;
          if (acc >= hold && parts[p].independent)
            return { msn: s.msn, part: s.parts.length > 0 ? p : 0, skipSec: acc - hold };
        }
      }
      return { msn: ordered[0].msn, part: 0 };
    }
    const hold = this.targetLatencySec ?? 3 * st.targetDuration;
    let acc = 0;
    const complete = ordered.filter((s) => s.complete);
    for (let i = complete.length - 1; i >= 0; i--) {
      acc += complete[i].duration;
      if (acc >= hold) return { msn: complete[i].msn, part: 0, skipSec: acc - hold };
    }
    return { msn: st.firstMsn, part: 0 };
  }

  /** The rendition state's own edge, updated in place by later reloads: read it at once, do not keep it. */
  liveEdge(id: string): { pdtMs: number; seenAtMs: number } | undefined {
    return this.live ? this.states.get(id)?.edge : undefined;
  }

  hintMissing(id: string): void {
    const st = this.states.get(id);
    if (st) st.hint = undefined;
  }

  /**
   * Synchronous when the playlist in hand lists the chunk; otherwise a promise from a small async
   * step (reload, then look again). The look-up itself is not an async function: its frame would be
   * allocated per call and, for a viewer at the live edge, kept through the reload wait (seconds),
   * long enough for the young-generation GC to copy it.
   */
  chunkAt(id: string, cursor: Cursor, signal: AbortSignal): Promise<Chunk | null> | Chunk | null {
    if (id !== this.audio?.id) this.lastVideo = id;
    return this.lookUp(id, cursor, cursor, signal, 0);
  }

  /**
   * The audio chunk for the video one at `video`: the same media sequence number, unless the
   * packager numbered its audio playlist apart. Then by program date-time (the audio segment
   * starting within half a segment of the video one), or on VOD without dates by the first
   * numbers. Found once and kept while it holds (one look-up per chunk, no search).
   */
  audioCursor(video: Cursor): Cursor {
    const a = this.audio && this.states.get(this.audio.id);
    const v = this.lastVideo === undefined ? undefined : this.states.get(this.lastVideo);
    if (a && v) this.audioShift = this.audioShiftAt(video.msn, v, a) ?? this.audioShift;
    return this.audioShift === 0 ? video : { msn: video.msn + this.audioShift, part: video.part };
  }

  private audioShiftAt(msn: number, v: PlaylistState, a: PlaylistState): number | undefined {
    const pdt = v.segments.get(msn)?.pdt;
    if (pdt === undefined) return v.endList && a.endList ? a.firstMsn - v.firstMsn : undefined;
    const found = segmentStartingAt(pdt, a.segments, msn + this.audioShift, a.targetDuration);
    return found === undefined ? undefined : found - msn;
  }

  private lookUp(
    id: string,
    cursor: Cursor,
    from: Cursor,
    signal: AbortSignal,
    guard0: number,
  ): Promise<Chunk | null> | Chunk | null {
    // cursors are never mutated: `cur` is replaced, not copied (this runs once per request)
    let cur: Cursor = from;
    for (let guard = guard0; guard < 10_000; guard++) {
      const st = this.states.get(id);
      if (!st) return this.loadThenLookUp(this.load(id, signal), id, cursor, cur, signal, guard);
      if (cur.msn < st.firstMsn) cur = { msn: st.firstMsn, part: 0 }; // fell out of the window: jump forward
      const seg = st.segments.get(cur.msn);
      if (seg && !seg.complete && !this.lowLatency) {
        // a segment still being produced: a player without LL-HLS waits for it to complete
      } else if (seg) {
        const usesParts =
          this.lowLatency && seg.parts.length > 0 && !(seg.complete && cur.part === 0 && st.lastMsn > seg.msn);
        if (!usesParts && cur.part === 0 && seg.complete) {
          return {
            url: seg.url,
            kind: 'segment',
            durationSec: seg.duration,
            independent: true,
            programDateTimeMs: seg.pdt,
            next: { msn: seg.msn + 1, part: 0 },
            initUrl: seg.initUrl,
            range: seg.range,
            initRange: seg.initRange,
          };
        }
        if (cur.part < seg.parts.length) {
          const part = seg.parts[cur.part];
          let offset = 0;
          for (let p = 0; p < cur.part; p++) offset += seg.parts[p].duration;
          const last = seg.complete && cur.part === seg.parts.length - 1;
          return {
            url: part.url,
            kind: 'part',
            durationSec: part.duration,
            independent: part.independent,
            programDateTimeMs: seg.pdt !== undefined ? seg.pdt + offset * 1000 : undefined,
            next: last ? { msn: seg.msn + 1, part: 0 } : { msn: seg.msn, part: cur.part + 1 },
            initUrl: seg.initUrl,
            range: part.range,
            initRange: seg.initRange,
          };
        }
        if (seg.complete) {
          cur = { msn: seg.msn + 1, part: 0 };
          continue;
        }
      }
      if (!this.live || st.endList) {
        if (cur.msn > st.lastMsn) return null;
      }
      if (this.lowLatency) {
        if (st.hint && st.hint.msn === cur.msn && st.hint.part === cur.part) {
          const prevSeg = st.segments.get(cur.msn);
          let offset = 0;
          if (prevSeg) for (const p of prevSeg.parts) offset += p.duration;
          const dur = st.partTarget ?? 1;
          return {
            url: st.hint.url,
            kind: 'part',
            durationSec: dur,
            independent: cur.part === 0,
            programDateTimeMs: prevSeg?.pdt !== undefined ? prevSeg.pdt + offset * 1000 : undefined,
            next: { msn: cur.msn, part: cur.part + 1 },
            initUrl: prevSeg?.initUrl ?? st.segments.get(st.lastMsn)?.initUrl ?? '',
            initRange: (prevSeg ?? st.segments.get(st.lastMsn))?.initRange,
            range: st.hint.range,
            hinted: true,
          };
        }
        return this.loadThenLookUp(this.load(id, signal, cur), id, cursor, cur, signal, guard);
      }
      // live without blocking reload: wait a target duration (half of it if nothing changed)
      return this.loadThenLookUp(this.reloadOnSchedule(st, id, signal), id, cursor, cur, signal, guard);
    }
    throw new StreamedgeError('LOADTEST_STREAM', `playlist of ${id} never reached ${cursor.msn}.${cursor.part}`);
  }

  private async loadThenLookUp(
    loading: Promise<unknown>,
    id: string,
    cursor: Cursor,
    cur: Cursor,
    signal: AbortSignal,
    guard: number,
  ): Promise<Chunk | null> {
    await loading;
    return this.lookUp(id, cursor, cur, signal, guard + 1);
  }

  /** A plain live reload on the viewer's schedule (reloadAt). */
  private async reloadOnSchedule(st: PlaylistState, id: string, signal: AbortSignal): Promise<void> {
    const due = reloadAt(st);
    const now = this.now();
    const begunAt = st.loadBegunAt;
    if (due > now) await this.http.wait(due - now, signal);
    // on the viewer's own schedule unless a whole interval behind it (see reloadAt)
    await this.load(id, signal, undefined, reloadBegunAt(due, begunAt, now));
  }
}
