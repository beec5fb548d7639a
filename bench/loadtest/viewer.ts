/**
 * One virtual viewer: opens the stream, picks renditions with src/abr's AbrController,
 * downloads the real bytes (video, and audio when it is a separate rendition), and runs a
 * virtual playhead, so startup time, stalls and latency are measured. No decoding.
 */
import { createSecureContext, rootCertificates, type SecureContext } from 'node:tls';
import { Agent, type Dispatcher } from 'undici';
import { H1Client, type GetDispatcher, type GetRequest } from './h1-client.js';
import { H2Client } from './h2-client.js';
import { AbrController, type AbrConfig, type DownloadProgress } from '../../src/abr/abr-controller.js';
import { DEFAULT_ABR_CONFIG } from '../../src/abr/config.js';
import { cmsdAdvice } from '../../src/http/cmsd.js';
import { DashClient } from './dash-client.js';
import { HlsClient } from './hls-client.js';
import { randomUUID } from 'node:crypto';
import { AbandonedError, HintMissingError, HttpGetter, type CmcdMode, type GetProgress } from './http-get.js';
import { ViewerSteering } from './steering.js';
import type { LoadStats } from './load-stats.js';
import { Playhead } from './playhead.js';
import { holdBackSteering } from '../../src/abr/low-latency.js';
import { kidAsBase64Url } from '../../src/cenc/content-keys.js';
import type { BandwidthProfile } from './shaping.js';
import { Shaper } from './shaping.js';
import type { Chunk, Cursor, StreamClient } from './stream-client.js';
import type { TimerWheel } from './timer-wheel.js';

export interface ViewerOptions {
  url: string;
  /** HTTP/2 to https targets (ALPN h2, node:http2): one session per viewer, a stream per request. */
  http2?: boolean;
  /** Extra CA certificates (PEM) to trust, e.g. a test edge's self-signed certificate. */
  ca?: string;
  stats: LoadStats;
  profile: BandwidthProfile;
  latencyMs: number;
  /** The run ends (viewer stops) when this signal aborts. */
  signal: AbortSignal;
  /**
   * Where the viewer registers its stop hook; the pool calls every hook once when the run ends.
   * Not a listener on `signal` each: an EventTarget checks its listener list for duplicates on
   * every add and walks it on every remove, O(viewers) each, so 10,000 viewers spent seconds of
   * their ramp (and of the end) with the event loop blocked in addEventListener/removeEventListener.
   */
  stopHooks: Set<() => void>;
  /** The pool's timer wheel (all waits of all viewers). */
  wheel: TimerWheel;
  abrConfig?: Partial<AbrConfig>;
  /** VOD: the player stops fetching ahead beyond this buffer. */
  maxBufferSec?: number;
  /** false: play live HLS like a player without LL-HLS (whole segments, plain reloads). Default true. */
  lowLatency?: boolean;
  /** CMCD (CTA-5004) with every request: query argument, headers, or off (default). */
  cmcd?: CmcdMode;
  /** Hosts besides loopback the viewer may be steered to (the run's `--allow-host`). */
  allowHosts?: readonly string[];
  /** A ladder in several video codecs: the families this viewer prefers (`--hevc-share`). */
  preferredVideo?: readonly string[];
}

export type { CmcdMode };

const MAX_CONSECUTIVE_ERRORS = 5;

/**
 * The most connections one viewer opens (they open as needed, and stay open: keep-alive), as a
 * player has its own. Each descriptor counts against `ulimit -n` (fd-budget.ts checks a run before
 * it starts), so the count is kept to what the viewer's requests in flight need:
 *
 * - HTTP/2: 1. One session per origin, as a browser shares one h2 connection per origin; held
 *   requests are concurrent streams, with no head-of-line blocking between them.
 * - Plain HLS, DASH and VOD over HTTP/1.1: 2. A viewer has at most two requests in flight, a video
 *   and an audio one (playlist or media), one after the other on each; 10,000 viewers then fit in
 *   20,000 descriptors less the reserve, with the server in its own process.
 * - LL-HLS over HTTP/1.1: 4. A blocking playlist reload or a hinted part is held by the server
 *   until the part exists, so nothing may queue behind it (no pipelining): the held video and
 *   audio requests each need their own connection, and the next requests of the other track theirs.
 */
export function connectionsPerViewer(o: { lowLatency?: boolean; http2?: boolean; url: string }): number {
  if (o.http2 === true && o.url.startsWith('https:')) return 1;
  return o.lowLatency === false ? 2 : 4;
}

/**
 * A viewer's own connections: plain http through the lean H1Client, https with --http2 through the
 * lean H2Client (node:http2, one session), other https through undici (keep-alive, no pipelining).
 * Per viewer rather than one shared pool: undici's Pool looks for a free connection by scanning
 * all of them, which with thousands of held requests was the tester's largest frame of its own.
 */
/**
 * One TLS context per extra CA and thread: building one parses the PEM and sets up a trust store,
 * which per viewer connection cost more than the handshake.
 */
const secureContexts = new Map<string, SecureContext>();
function secureContextFor(ca: string): SecureContext {
  let c = secureContexts.get(ca);
  if (!c) {
    c = createSecureContext({ ca: [...rootCertificates, ca] });
    secureContexts.set(ca, c);
  }
  return c;
}

class ViewerConnections implements GetDispatcher {
  private h1: H1Client | undefined;
  private h2: H2Client | undefined;
  private tls: Agent | undefined;
  private readonly perOrigin: number;

  constructor(private readonly o: Pick<ViewerOptions, 'http2' | 'ca' | 'lowLatency'>) {
    this.perOrigin = connectionsPerViewer({ lowLatency: o.lowLatency, url: 'http:' });
  }

  dispatch(opts: GetRequest, handler: Dispatcher.DispatchHandler): boolean {
    if (opts.origin.startsWith('http:')) return (this.h1 ??= new H1Client(this.perOrigin)).dispatch(opts, handler);
    const secureContext = this.o.ca ? secureContextFor(this.o.ca) : undefined;
    if (this.o.http2 === true) return (this.h2 ??= new H2Client(secureContext)).dispatch(opts, handler);
    this.tls ??= new Agent({
      keepAliveTimeout: 30_000,
      keepAliveMaxTimeout: 60_000,
      connect: { timeout: 10_000, ...(secureContext ? { secureContext } : {}) },
      connections: this.perOrigin,
      pipelining: 1,
    });
    return this.tls.dispatch(opts, handler);
  }

  async destroy(): Promise<void> {
    await Promise.all([this.h1?.destroy(), this.h2?.destroy(), this.tls?.destroy()]);
  }
}

/**
 * `joinAt` (performance.now() ms): when the ramp had this viewer join; its playlist reload
 * (or MPD refresh) schedule starts then, not when its thread got round to starting it
 * (bench/loadtest/reload-schedule.ts).
 */
export async function runViewer(o: ViewerOptions, joinAt?: number): Promise<void> {
  const { stats, signal } = o;
  stats.totals.started++;
  const shaper = new Shaper(o.profile, o.latencyMs);
  let playhead: Playhead | undefined;
  let abr: AbrController | undefined;
  let topKbps: number | undefined;
  let stallsSeen = 0;
  const isDash = /\.mpd(\?|#|$)/.test(o.url.replace(/^[a-z]+:\/\/[^/]*/i, ''));
  const sid = o.cmcd && o.cmcd !== 'off' ? randomUUID() : '';
  const cmcd =
    o.cmcd && o.cmcd !== 'off'
      ? {
          mode: o.cmcd,
          keys: () => {
            const ph = playhead;
            ph?.update();
            const starved = ph !== undefined && ph.stalls > stallsSeen;
            if (ph) stallsSeen = ph.stalls;
            return {
              sid,
              sf: isDash ? ('d' as const) : ('h' as const),
              st: client.live ? ('l' as const) : ('v' as const),
              bl: ph ? ph.bufferSec * 1000 : undefined,
              bs: starved,
              su: ph === undefined || !ph.playing,
              pr: ph?.rate,
              mtp: abr && abr.sampleCount > 0 ? abr.estimateBps / 1000 : undefined,
              tb: topKbps,
            };
          },
        }
      : undefined;
  const dispatcher = new ViewerConnections(o);
  const http = new HttpGetter(dispatcher, stats, shaper, o.wheel, cmcd);
  const onStop = () => http.stop();
  o.stopHooks.add(onStop);
  const client: StreamClient = isDash
    ? new DashClient(http, o.url, { joinAt, preferredVideo: o.preferredVideo })
    : new HlsClient(http, o.url, { lowLatency: o.lowLatency, joinAt, preferredVideo: o.preferredVideo });
  let switches = 0;
  let abandons = 0;
  let failed = false;
  let counted = false;
  let stallsCounted = 0;
  let steering: ViewerSteering | undefined;
  try {
    await client.open(signal);
    // content steering: the first manifest before the first media request, as a player waits
    // for its first playlist; the reloads follow on the wheel
    if (client instanceof HlsClient && client.steeringServer !== undefined) {
      steering = new ViewerSteering(http, o.url, client.steeringServer, o.allowHosts, () =>
        abr && abr.sampleCount > 0 ? abr.estimateBps : 0,
      );
      http.route = steering.route;
      await steering.start();
    }
    // an encrypted stream: the key (HLS identity) or the Clear Key license (DASH), once, before the
    // first media request, as a player's CDM needs it
    if (client instanceof HlsClient && client.keyUrl !== undefined)
      await http.get(client.keyUrl, { kind: 'key', signal });
    const license = client instanceof DashClient ? client.license : undefined;
    if (license) await http.get(license.url, { kind: 'key', signal, post: licenseRequest(license.kids) });
    const mode = client.live ? (client.lowLatency ? 'low-latency' : 'live') : 'vod';
    const levels = client.video.map((v, index) => ({ index, bitrate: v.bitrate, width: v.width, height: v.height }));
    topKbps = Math.max(...levels.map((l) => l.bitrate)) / 1000;
    const ctl = new AbrController(
      levels,
      {
        // as the browser player steers (player-demo/player/mse-player.ts): LL just above the hold-back,
        // which is a floor; classic live in the middle of the default no-correction band above it
        ...(client.targetLatencySec !== undefined && client.lowLatency
          ? holdBackSteering(client.targetLatencySec)
          : client.targetLatencySec !== undefined
            ? { targetLatencySec: client.targetLatencySec + DEFAULT_ABR_CONFIG.latencyToleranceSec }
            : {}),
        ...o.abrConfig,
      },
      mode,
    );
    abr = ctl;
    const startThreshold = client.lowLatency ? Math.min(1, client.segmentSec) : Math.min(client.segmentSec, 4);
    playhead = new Playhead({ startThresholdSec: startThreshold });
    const ph = playhead;
    stats.viewerPlaying();
    counted = true;
    const maxBuffer = o.maxBufferSec ?? 30;
    const initsFetched = new Set<string>();
    // called for every chunk: a synchronous no-op (no promise) once the init is in hand (byte-range
    // HLS: an init is a range of a file, keyed by both)
    const fetchInit = (url: string, range?: string): Promise<void> | undefined =>
      !url || initsFetched.has(range === undefined ? url : `${url} ${range}`) ? undefined : fetchNewInit(url, range);
    const fetchNewInit = async (url: string, range: string | undefined) => {
      await http.get(url, { kind: 'init', signal, range });
      initsFetched.add(range === undefined ? url : `${url} ${range}`);
    };

    let level = ctl.nextLevel({ bufferSec: 0, currentLevel: -1 });
    let cursor: Cursor = await client.startCursor(client.video[level].id, signal);
    // join at the hold-back: what lies between the key frame and that point is fetched, not played
    if (cursor.skipSec) ph.seek(cursor.skipSec);
    let errors = 0;
    // the ABR's view of a download in progress: one object per viewer, refreshed per chunk of bytes
    const progress: DownloadProgress = { bytesLoaded: 0, elapsedMs: 0, ttfbMs: 0, level: 0, mediaDurationSec: 0 };
    // the video download in progress (one at a time per viewer): its level and media duration, read
    // by one progress callback made once per viewer rather than a closure per request
    let dlLevel = 0;
    let dlDurationSec = 0;
    const onVideoProgress = (p: GetProgress): boolean => {
      ph.update();
      progress.bytesLoaded = p.bytesLoaded;
      progress.bytesTotal = p.bytesTotal;
      progress.elapsedMs = p.elapsedMs;
      progress.ttfbMs = p.ttfbMs;
      progress.level = dlLevel;
      progress.mediaDurationSec = dlDurationSec;
      progress.bufferSec = ph.bufferSec;
      const advice = ctl.onDownloadProgress(progress);
      if (advice.abandon && advice.switchTo !== undefined && advice.switchTo !== dlLevel) {
        level = advice.switchTo;
        return true;
      }
      return false;
    };

    while (!signal.aborted) {
      ph.update();
      if (mode === 'vod' && ph.bufferSec > maxBuffer - client.segmentSec) {
        await http.wait((ph.bufferSec - (maxBuffer - client.segmentSec)) * 1000 + 1, signal);
        continue;
      }
      // as the browser player gives it: the wall-clock latency (only the catch-up steers the edge distance)
      const latencySec = ph.latencySec();
      const wanted = ctl.nextLevel({ bufferSec: ph.bufferSec, currentLevel: level, latencySec, playbackRate: ph.rate });
      let chunk: Chunk | null;
      try {
        chunk = await client.chunkAt(client.video[wanted].id, cursor, signal);
        if (chunk && wanted !== level && !chunk.independent) {
          // switch only on an independent part: finish this segment on the current rendition
          chunk = await client.chunkAt(client.video[level].id, cursor, signal);
        } else if (wanted !== level) {
          level = wanted;
          switches++;
        }
        if (chunk === null) break;
        const init = fetchInit(chunk.initUrl, chunk.initRange);
        if (init) await init;
        const mediaDurationSec = chunk.durationSec;
        const lvl = level;
        dlLevel = lvl;
        dlDurationSec = mediaDurationSec;
        const videoGet = http.get(chunk.url, {
          kind: chunk.kind,
          signal,
          range: chunk.range,
          hinted: chunk.hinted,
          cmcd: cmcd && { ot: 'v', br: client.video[lvl].bitrate / 1000, d: mediaDurationSec * 1000 },
          onProgress: onVideoProgress,
        });
        const audioGet = client.audio
          ? fetchAudio(client, http, cursor, chunk, signal, fetchInit, cmcd !== undefined)
          : undefined;
        const [res] = await Promise.all([videoGet, audioGet]);
        // the edge's cap (CMSD-Dynamic mb) as of this response: kept to, as our browser player does
        if (res.cmsd !== undefined || ctl.serverCap !== undefined) {
          ctl.onServerAdvice(cmsdAdvice(res.cmsd));
          if (ctl.serverCap !== undefined) stats.totals.cmsdCapped++;
        }
        ctl.onDownloadComplete({
          bytes: res.bytes,
          durationMs: res.durationMs,
          ttfbMs: res.ttfbMs,
          level: lvl,
          mediaDurationSec,
          isPart: chunk.kind === 'part',
          burstBytes: res.burstBytes,
          burstMs: res.burstMs,
        });
        if (chunk.hinted && chunk.programDateTimeMs !== undefined) {
          // a part asked for before it existed: how long after it was complete (per its program
          // date-time) it had fully arrived
          stats.recordMs('partLag', Math.max(0, Date.now() - chunk.programDateTimeMs - mediaDurationSec * 1000));
        }
        ph.append(mediaDurationSec, chunk.programDateTimeMs);
        // the live edge as the player knows it: the newest part its playlists listed, or this
        // hinted part, which exists from the moment it arrived
        const edge = client.liveEdge?.(client.video[lvl].id);
        if (edge) ph.noteLiveEdge(edge.pdtMs, edge.seenAtMs);
        if (chunk.hinted && chunk.programDateTimeMs !== undefined)
          ph.noteLiveEdge(chunk.programDateTimeMs + mediaDurationSec * 1000);
        // stalls are counted as they are seen (progress lines show them during the run)
        stats.totals.stalls += ph.stalls - stallsCounted;
        stallsCounted = ph.stalls;
        // added as they come (not at the end), so the report's timeline can show bitrate over time
        stats.totals.bitrateSeconds += client.video[lvl].bitrate * mediaDurationSec;
        stats.totals.mediaSec += mediaDurationSec;
        const lat = ph.latencySec();
        if (lat !== undefined && ph.playing) {
          stats.recordMs('latency', lat * 1000);
          stats.totals.latencySumSec += lat;
          stats.totals.latencySamples++;
        }
        const delay = ph.listingDelaySec;
        if (delay !== undefined && ph.playing) stats.recordMs('listingDelay', Math.max(0, delay * 1000));
        // steered as a player steers: toward its target behind the live edge it sees (the
        // wall-clock latency less the listing delay, which no player can remove)
        ph.rate = ctl.playbackRate({ latencySec: ph.edgeLatencySec() ?? 0, bufferSec: ph.bufferSec });
        cursor = chunk.next;
        errors = 0;
      } catch (e) {
        if (signal.aborted) break;
        if (e instanceof HintMissingError) {
          // the hinted part never came to be: reload the playlist and go on from what it lists
          client.hintMissing?.(client.video[level].id);
          continue;
        }
        if (e instanceof AbandonedError) {
          abandons++;
          switches++;
          continue; // same cursor, lower level (set in onProgress)
        }
        if (++errors >= MAX_CONSECUTIVE_ERRORS) throw e;
        await http.wait(200 * errors, signal).catch(() => undefined);
      }
    }
    if (!signal.aborted) {
      // VOD fully downloaded: play out what is buffered (running dry now is the end, not a stall)
      ph.markEnded();
      await http.wait((ph.bufferSec / ph.rate) * 1000, signal).catch(() => undefined);
    }
  } catch (e) {
    if (!signal.aborted) {
      failed = true;
      const counted = failureClass(e);
      if (counted !== undefined) stats.error(counted);
    }
  } finally {
    o.stopHooks.delete(onStop);
    if (steering) {
      steering.stop();
      stats.pathways[steering.pathway] = (stats.pathways[steering.pathway] ?? 0) + 1;
    }
    const family = client.videoFamily;
    if (family !== undefined) stats.videoFamilies[family] = (stats.videoFamilies[family] ?? 0) + 1;
    void dispatcher.destroy().catch(() => undefined);
    if (playhead) {
      playhead.finish();
      if (playhead.startupMs !== undefined) stats.recordMs('startup', playhead.startupMs);
      stats.totals.stalls += playhead.stalls - stallsCounted;
      stats.totals.stallMs += playhead.stallMs;
      stats.totals.playMs += playhead.playMs;
    }
    if (counted) stats.totals.playing--;
    stats.totals.switches += switches;
    stats.totals.abandons += abandons;
    if (failed) stats.totals.failed++;
    stats.totals.ended++;
  }
}

/**
 * The error class a viewer's failure is counted under in the report, or undefined when the HTTP
 * layer counted it already (a status or a network error, where it happened: http-get.ts). A
 * stream the viewer cannot play counts by what was wrong (`not_playlist`, `empty_playlist`,
 * `stream`), anything else as `viewer_exception`.
 */
export function failureClass(e: unknown): string | undefined {
  const code = (e as { code?: unknown } | null)?.code;
  if (code === 'LOADTEST_HTTP' || code === 'LOADTEST_NETWORK') return undefined;
  if (typeof code === 'string' && code.startsWith('LOADTEST_')) return code.slice('LOADTEST_'.length).toLowerCase();
  return 'viewer_exception';
}

/** The audio chunk at the same position (segments are aligned across renditions in CMAF ladders). */
async function fetchAudio(
  client: StreamClient,
  http: HttpGetter,
  cursor: Cursor,
  video: Chunk,
  signal: AbortSignal,
  fetchInit: (u: string, range?: string) => Promise<void> | undefined,
  withCmcd: boolean,
): Promise<void> {
  const a = await client.chunkAt(client.audio!.id, client.audioCursor?.(cursor) ?? cursor, signal);
  if (!a) return;
  const init = fetchInit(a.initUrl, a.initRange);
  if (init) await init;
  try {
    await http.get(a.url, {
      kind: video.kind === 'part' && a.kind === 'part' ? 'part' : a.kind,
      signal,
      range: a.range,
      hinted: a.hinted,
      cmcd: withCmcd ? { ot: 'a', br: client.audio!.bitrate / 1000, d: a.durationSec * 1000 } : undefined,
    });
  } catch (e) {
    // audio parts need not line up with video parts: a withdrawn audio hint is skipped
    if (!(e instanceof HintMissingError)) throw e;
    client.hintMissing?.(client.audio!.id);
  }
}

/** A W3C Clear Key license request (EME §9.1.3) for these key ids (32 hex), as a browser's CDM writes it. */
function licenseRequest(kids: readonly string[]): string {
  return JSON.stringify({ kids: kids.map(kidAsBase64Url), type: 'temporary' });
}
