/**
 * Shaka Player as a fourth engine on the demo page. Its compiled build is served by the page
 * server (vendor/shaka-player.compiled.js, copied from node_modules by build.ts; no CDN) and
 * loaded on first use, after the page's bandwidth limiter wrapped window.fetch (Shaka keeps the
 * fetch it finds when its script runs).
 */
import type { Engine, EngineStats, EngineTracks } from './engines.js';

/** The part of Shaka's API this engine uses (its bundled .d.ts does not type the UMD global). */
interface ShakaPlayer {
  attach(video: HTMLMediaElement): Promise<void>;
  configure(config: object): boolean;
  addEventListener(type: string, listener: (e: Event) => void): void;
  load(url: string): Promise<void>;
  destroy(): Promise<void>;
  getVariantTracks(): unknown[];
  getStats(): { estimatedBandwidth: number; liveLatency: number };
  isLive(): boolean;
  selectVariantTrack(track: unknown, clearBuffer?: boolean): void;
  getTextTracks(): unknown[];
  selectAudioLanguage(language: string): void;
  selectTextTrack(track: unknown): void;
  setTextTrackVisibility(visible: boolean): void;
}
interface Shaka {
  polyfill: { installAll(): void };
  Player: { new (): ShakaPlayer; isBrowserSupported(): boolean };
}
declare global {
  interface Window {
    shaka?: Shaka;
  }
}

export const SHAKA_SCRIPT = 'vendor/shaka-player.compiled.js';

let loading: Promise<Shaka> | undefined;

function loadShaka(): Promise<Shaka> {
  loading ??= new Promise<Shaka>((resolve, reject) => {
    if (window.shaka) return resolve(window.shaka);
    const s = document.createElement('script');
    s.src = SHAKA_SCRIPT;
    s.onload = () => (window.shaka ? resolve(window.shaka) : reject(new Error(`${SHAKA_SCRIPT} defined no shaka`)));
    s.onerror = () => reject(new Error(`could not load ${SHAKA_SCRIPT}`));
    document.head.appendChild(s);
  });
  return loading;
}

interface VariantTrack {
  id: number;
  active: boolean;
  type: string;
  videoBandwidth: number | null;
  bandwidth: number;
  height: number | null;
  videoId: number | null;
  audioId: number | null;
  language: string;
  label: string | null;
}

interface TextTrack {
  id: number;
  active: boolean;
  language: string;
  label: string | null;
}

export class ShakaEngine implements Engine {
  readonly name = 'shaka';
  private player?: ShakaPlayer;
  private switches = 0;
  private errors: string[] = [];
  constructor(private readonly video: HTMLVideoElement) {}

  async start(url: string): Promise<void> {
    const shaka = await loadShaka();
    shaka.polyfill.installAll();
    if (!shaka.Player.isBrowserSupported()) throw new Error('shaka: browser not supported');
    const p = new shaka.Player();
    this.player = p;
    await p.attach(this.video);
    // Low-latency mode for live streams (LL-HLS parts, LL-DASH chunks); Shaka's defaults otherwise.
    p.configure({ streaming: { lowLatencyMode: /\/live\//.test(new URL(url, location.href).pathname) } });
    p.addEventListener('adaptation', () => (this.switches += 1));
    const note = (d: { code?: number; message?: string } | undefined): void => {
      this.errors.push(`shaka error ${d?.code ?? '?'}${d?.message ? `: ${d.message}` : ''}`);
    };
    p.addEventListener('error', (e) => note((e as unknown as { detail?: { code?: number; message?: string } }).detail));
    try {
      await p.load(url);
    } catch (e) {
      // a load that fails (a manifest, a key) rejects here and fires no error event
      note(e as { code?: number; message?: string });
      throw e;
    }
    this.video.play().catch(() => {});
  }

  stop(): void {
    void this.player?.destroy();
  }

  /** One level per distinct video stream (Shaka lists a variant per video × audio pair). */
  private videoLevels(): { tracks: VariantTrack[]; levels: EngineStats['levels']; current: number } {
    const tracks = (this.player?.getVariantTracks() ?? []) as unknown as VariantTrack[];
    const byVideo = new Map<number, VariantTrack>();
    for (const t of tracks) if (t.videoId !== null && !byVideo.has(t.videoId)) byVideo.set(t.videoId, t);
    const list = [...byVideo.values()].sort(
      (a, b) => (a.videoBandwidth ?? a.bandwidth) - (b.videoBandwidth ?? b.bandwidth),
    );
    const active = tracks.find((t) => t.active);
    return {
      tracks,
      levels: list.map((t) => ({
        id: String(t.videoId),
        bitrate: t.videoBandwidth ?? t.bandwidth,
        height: t.height ?? undefined,
      })),
      current: active ? list.findIndex((t) => t.videoId === active.videoId) : -1,
    };
  }

  stats(): EngineStats {
    const p = this.player;
    const { levels, current } = this.videoLevels();
    const s = p?.getStats();
    const latency = s && Number.isFinite(s.liveLatency) && s.liveLatency > 0 ? s.liveLatency : null;
    const v = this.video;
    let buffer = 0;
    for (let i = 0; i < v.buffered.length; i++)
      if (v.currentTime >= v.buffered.start(i) - 0.1 && v.currentTime <= v.buffered.end(i))
        buffer = v.buffered.end(i) - v.currentTime;
    return {
      levels,
      currentLevel: current,
      bufferSec: buffer,
      estimateBps: s && Number.isFinite(s.estimatedBandwidth) ? s.estimatedBandwidth : 0,
      latencySec: p?.isLive() ? latency : null,
      playbackRate: v.playbackRate,
      switches: this.switches,
      errors: [...this.errors],
    };
  }

  setManualLevel(level: number | null): void {
    const p = this.player;
    if (!p) return;
    p.configure({ abr: { enabled: level === null } });
    if (level === null) return;
    const { tracks, levels } = this.videoLevels();
    const want = levels[level];
    const t = want && tracks.find((x) => String(x.videoId) === want.id);
    if (t) p.selectVariantTrack(t, true);
  }

  /** Audio by language (Shaka switches audio by language), subtitles by Shaka's text track id. */
  tracks(): EngineTracks {
    const p = this.player;
    const variants = (p?.getVariantTracks() ?? []) as unknown as VariantTrack[];
    const audio = new Map<string, EngineTracks['audio'][number]>();
    for (const t of variants) {
      if (t.audioId === null) continue;
      const known = audio.get(t.language);
      if (known) known.active ||= t.active;
      else
        audio.set(t.language, { id: t.language, language: t.language, name: t.label ?? t.language, active: t.active });
    }
    const text = ((p?.getTextTracks() ?? []) as unknown as TextTrack[]).map((t) => ({
      id: String(t.id),
      language: t.language,
      name: t.label ?? t.language,
      active: t.active,
    }));
    return { audio: [...audio.values()], text };
  }

  setAudioTrack(id: string): void {
    this.player?.selectAudioLanguage(id);
  }

  setTextTrack(id: string | null): void {
    const p = this.player;
    if (!p) return;
    const t = ((p.getTextTracks() ?? []) as unknown as TextTrack[]).find((x) => String(x.id) === id);
    if (t) p.selectTextTrack(t);
    p.setTextTrackVisibility(t !== undefined);
  }
}
