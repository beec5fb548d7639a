/**
 * The three engines the page can compare on one stream, behind one small interface:
 * our MSE player (src/abr), hls.js and dash.js.
 */
import { PathwaySteering } from '../player/pathway-steering.js';
import Hls, { FetchLoader } from 'hls.js';
import * as dashjs from 'dashjs';
import { MsePlayer } from '../player/mse-player.js';
import type { CmcdSource, CmcdTransmission } from '../../src/abr/cmcd.js';
import { HlsSource } from '../player/hls-source.js';
import { DashSource } from '../player/dash-source.js';
import { ServerAdvice, type RequestLogEntry } from '../player/fetcher.js';
import type { RetryNote } from '../player/request-retry.js';
import type { AdBreakStat } from '../player/ad-cues.js';
import type { ProtectionStats } from '../player/clear-key.js';
import type { SourceModel } from '../player/source-model.js';
import { SubtitleDisplay } from '../player/text-track-loader.js';
import type { ThumbnailCell, ThumbnailSummary } from '../player/thumbnails.js';

export interface EngineStats {
  levels: { id: string; bitrate: number; height?: number }[];
  currentLevel: number;
  bufferSec: number;
  estimateBps: number;
  latencySec: number | null;
  playbackRate: number;
  switches: number;
  /** Media requests tried again after a failure (our player only). */
  retries?: number;
  /** Playlist and MPD requests tried again (our player only). */
  playlistRetries?: number;
  /** Live ad breaks (SCTE 35) on the media timeline (our player only). */
  adBreaks?: AdBreakStat[];
  /** Live: playing back in the DVR window by the viewer's choice (our player only). */
  dvr?: boolean;
  /** Encrypted streams: the key system, scheme, KIDs and license requests (our player only; null: clear). */
  protection?: ProtectionStats | null;
  /** The thumbnail track for seek-bar previews, VOD and live (our player only; null: none). */
  thumbnails?: ThumbnailSummary | null;
  errors: string[];
}

/** An audio language or subtitle track as the page lists it. */
export interface TrackInfo {
  /** What setAudioTrack / setTextTrack take. */
  id: string;
  language: string;
  name: string;
  active: boolean;
}

export interface EngineTracks {
  audio: TrackInfo[];
  text: TrackInfo[];
}

export interface Engine {
  readonly name: string;
  start(url: string): Promise<void>;
  stop(): void;
  stats(): EngineStats;
  setManualLevel(level: number | null): void;
  /** The audio languages and subtitle tracks the engine found, and which are active. */
  tracks(): EngineTracks;
  setAudioTrack(id: string): void;
  /** A subtitle track to show, or null for none. */
  setTextTrack(id: string | null): void;
  /**
   * The seek-bar preview for a time on the media element's timeline (live: within the seekable
   * window): a cell of a thumbnail sheet (our player only; null: none there).
   */
  thumbnailAt?(timeSec: number): ThumbnailCell | null;
}

function bufferAhead(v: HTMLVideoElement): number {
  const b = v.buffered;
  for (let i = 0; i < b.length; i++)
    if (v.currentTime >= b.start(i) - 0.1 && v.currentTime <= b.end(i)) return b.end(i) - v.currentTime;
  return 0;
}

export class OurEngine implements Engine {
  readonly name = 'ours';
  private player?: MsePlayer;
  private source?: SourceModel;
  private subtitles?: SubtitleDisplay;
  constructor(
    private readonly video: HTMLVideoElement,
    private readonly onRequest: (e: RequestLogEntry) => void,
    /** CMCD (CTA-5004) with every request (`?cmcd=query|headers` on the page URL). */
    private readonly cmcdMode?: CmcdTransmission,
  ) {}

  async start(url: string): Promise<void> {
    // randomUUID exists only in secure contexts (https, localhost): elsewhere a random v4-shaped id
    const sid =
      typeof crypto.randomUUID === 'function'
        ? crypto.randomUUID()
        : '10000000-1000-4000-8000-100000000000'.replace(/[018]/g, (c) =>
            (Number(c) ^ ((Math.random() * 16) >> (Number(c) / 4))).toString(16),
          );
    const cmcd: CmcdSource | undefined = this.cmcdMode
      ? { mode: this.cmcdMode, keys: () => ({ sid, ...this.player?.cmcdKeys() }) }
      : undefined;
    // the edge's CMSD-Dynamic advice, from playlists and media alike
    const serverAdvice = new ServerAdvice();
    // content steering, when the multivariant playlist names a steering server (HLS)
    const steering = new PathwaySteering(undefined, undefined, () => this.player?.getStats().estimateBps ?? 0);
    // playlist retries go to the player's stats (it is made after the source, and hears them once it is)
    const onRetry = (n: RetryNote) => this.player?.notePlaylistRetry(n);
    const loader = { log: this.onRequest, cmcd, serverAdvice, steering, onRetry };
    const source = /\.mpd(\?|$)/.test(url) ? new DashSource(url, loader) : new HlsSource(url, loader);
    this.source = source;
    this.subtitles = new SubtitleDisplay(this.video);
    this.player = new MsePlayer(this.video, source, {
      onRequest: this.onRequest,
      vodBufferAhead: 12,
      cmcd,
      serverAdvice,
      steering,
    });
    await this.player.start();
    const initial = source.textTracks.find((t) => t.default) ?? source.captionServices.find((c) => c.default);
    if (initial) this.setTextTrack(initial.id);
  }
  stop(): void {
    this.player?.stop();
    this.subtitles?.close();
  }
  tracks(): EngineTracks {
    const s = this.source;
    const audioNow = this.player?.getStats().audioTrack ?? null;
    return {
      audio: (s?.audioTracks ?? []).map((t) => ({
        id: t.id,
        language: t.language ?? '',
        name: t.name,
        active: t.id === audioNow,
      })),
      text: [
        ...(s?.textTracks ?? []).map((t) => ({
          id: t.id,
          language: t.language,
          name: t.name,
          active: t.id === this.subtitles?.activeId,
        })),
        // closed captions in the video: listed after the subtitles, as hls.js lists them
        ...(s?.captionServices ?? []).map((c) => ({
          id: c.id,
          language: c.language === 'und' ? '' : c.language,
          name: c.name,
          active: c.id === this.player?.captions.activeId,
        })),
      ],
    };
  }
  setAudioTrack(id: string): void {
    this.player?.setAudioTrack(id);
  }
  thumbnailAt(timeSec: number): ThumbnailCell | null {
    return this.player?.thumbnailAt(timeSec) ?? null;
  }
  setTextTrack(id: string | null): void {
    const ref = this.source?.textTracks.find((t) => t.id === id) ?? null;
    this.subtitles?.show(ref).catch((e: unknown) => this.errors.push(`subtitles: ${String(e)}`));
    this.player?.captions.show(this.source?.captionServices.some((c) => c.id === id) ? id : null);
  }
  private readonly errors: string[] = [];
  stats(): EngineStats {
    const s = this.player?.getStats();
    if (!s)
      return {
        levels: [],
        currentLevel: -1,
        bufferSec: 0,
        estimateBps: 0,
        latencySec: null,
        playbackRate: 1,
        switches: 0,
        errors: [...this.errors],
      };
    return { ...s, errors: [...s.errors, ...this.errors] };
  }
  setManualLevel(level: number | null): void {
    this.player?.setManualLevel(level);
  }
}

export class HlsJsEngine implements Engine {
  readonly name = 'hls.js';
  private hls?: Hls;
  private switches = 0;
  private errors: string[] = [];
  constructor(private readonly video: HTMLVideoElement) {}

  async start(url: string): Promise<void> {
    if (!Hls.isSupported()) throw new Error('hls.js: MSE not supported in this browser');
    const hls = new Hls({ lowLatencyMode: true, loader: FetchLoader, backBufferLength: 30 });
    this.hls = hls;
    hls.on(Hls.Events.LEVEL_SWITCHED, () => (this.switches += 1));
    hls.on(Hls.Events.ERROR, (_e, d) => {
      if (d.fatal) this.errors.push(`${d.type}: ${d.details}`);
    });
    hls.loadSource(url);
    hls.attachMedia(this.video);
    await new Promise<void>((resolve) => hls.once(Hls.Events.MANIFEST_PARSED, () => resolve()));
    this.video.play().catch(() => {});
  }
  stop(): void {
    this.hls?.destroy();
  }
  tracks(): EngineTracks {
    const h = this.hls;
    if (!h) return { audio: [], text: [] };
    return {
      audio: h.audioTracks.map((t, i) => ({
        id: String(i),
        language: t.lang ?? '',
        name: t.name,
        active: i === h.audioTrack,
      })),
      text: h.subtitleTracks.map((t, i) => ({
        id: String(i),
        language: t.lang ?? '',
        name: t.name,
        active: i === h.subtitleTrack && h.subtitleDisplay,
      })),
    };
  }
  setAudioTrack(id: string): void {
    if (this.hls) this.hls.audioTrack = Number(id);
  }
  setTextTrack(id: string | null): void {
    const h = this.hls;
    if (!h) return;
    h.subtitleDisplay = id !== null;
    h.subtitleTrack = id === null ? -1 : Number(id);
  }
  stats(): EngineStats {
    const h = this.hls;
    return {
      levels: (h?.levels ?? []).map((l, i) => ({ id: l.name || String(i), bitrate: l.bitrate, height: l.height })),
      currentLevel: h?.currentLevel ?? -1,
      bufferSec: bufferAhead(this.video),
      estimateBps: h?.bandwidthEstimate ?? 0,
      latencySec: h && h.levels[Math.max(0, h.currentLevel)]?.details?.live && h.latency > 0 ? h.latency : null,
      playbackRate: this.video.playbackRate,
      switches: Math.max(0, this.switches - 1),
      errors: [...this.errors],
    };
  }
  setManualLevel(level: number | null): void {
    if (this.hls) this.hls.currentLevel = level ?? -1;
  }
}

function textEnabled(p: dashjs.MediaPlayerClass): boolean {
  try {
    return p.isTextEnabled();
  } catch {
    return false;
  }
}

export class DashJsEngine implements Engine {
  readonly name = 'dash.js';
  private player?: dashjs.MediaPlayerClass;
  private switches = 0;
  private errors: string[] = [];
  constructor(private readonly video: HTMLVideoElement) {}

  async start(url: string): Promise<void> {
    const p = dashjs.MediaPlayer().create();
    this.player = p;
    p.updateSettings({
      streaming: {
        delay: { liveDelay: 2 },
        liveCatchup: { enabled: true },
        buffer: { bufferTimeAtTopQuality: 30 },
        // an edge's CMSD-Dynamic cap (mb) is honoured, as by our player; no throughput blending
        cmsd: { enabled: true, abr: { applyMb: true, etpWeightRatio: 0 } },
      },
    });
    p.on(dashjs.MediaPlayer.events.QUALITY_CHANGE_RENDERED, () => (this.switches += 1));
    p.on(dashjs.MediaPlayer.events.ERROR, (e: unknown) =>
      this.errors.push(JSON.stringify((e as { error?: unknown }).error ?? e).slice(0, 200)),
    );
    p.initialize(this.video, url, true);
  }
  stop(): void {
    this.player?.destroy();
  }
  tracks(): EngineTracks {
    const p = this.player;
    if (!p) return { audio: [], text: [] };
    const list = (type: 'audio' | 'text', active: dashjs.MediaInfo | null, on: boolean): TrackInfo[] => {
      try {
        return p.getTracksFor(type).map((t, i) => ({
          id: String(i),
          language: t.lang ?? '',
          name: t.labels[0]?.text ?? t.lang ?? String(i),
          active: on && active !== null && t.id === active.id && t.lang === active.lang,
        }));
      } catch {
        return []; // not initialised yet
      }
    };
    const current = (type: 'audio' | 'text'): dashjs.MediaInfo | null => {
      try {
        return p.getCurrentTrackFor(type);
      } catch {
        return null;
      }
    };
    return {
      audio: list('audio', current('audio'), true),
      text: list('text', current('text'), textEnabled(p)),
    };
  }
  setAudioTrack(id: string): void {
    const track = this.player?.getTracksFor('audio')[Number(id)];
    if (track) this.player!.setCurrentTrack(track);
  }
  setTextTrack(id: string | null): void {
    const p = this.player;
    if (!p) return;
    if (id === null) {
      p.enableText(false);
      return;
    }
    p.enableText(true);
    p.setTextTrack(Number(id));
  }
  stats(): EngineStats {
    const p = this.player as unknown as Record<string, (...a: unknown[]) => unknown> | undefined;
    const call = <T>(name: string, ...args: unknown[]): T | undefined => {
      try {
        return typeof p?.[name] === 'function' ? (p[name](...args) as T) : undefined;
      } catch {
        return undefined;
      }
    };
    const reps = call<{ id: string; bandwidth: number; height?: number }[]>('getRepresentationsByType', 'video') ?? [];
    const current = call<{ id: string }>('getCurrentRepresentationForType', 'video');
    const latency = call<number>('getCurrentLiveLatency');
    return {
      levels: reps.map((r) => ({ id: r.id, bitrate: r.bandwidth, height: r.height })),
      currentLevel: reps.findIndex((r) => r.id === current?.id),
      bufferSec: bufferAhead(this.video),
      estimateBps: (call<number>('getAverageThroughput', 'video') ?? 0) * 1000,
      latencySec: typeof latency === 'number' && latency > 0 ? latency : null,
      playbackRate: this.video.playbackRate,
      switches: this.switches,
      errors: [...this.errors],
    };
  }
  setManualLevel(level: number | null): void {
    const p = this.player;
    if (!p) return;
    p.updateSettings({ streaming: { abr: { autoSwitchBitrate: { video: level === null } } } });
    if (level !== null) {
      const anyP = p as unknown as { setRepresentationForTypeByIndex?: (t: string, i: number) => void };
      anyP.setRepresentationForTypeByIndex?.('video', level);
    }
  }
}
