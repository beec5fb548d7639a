/**
 * The demo page: pick a stream and an engine, watch the ladder, charts, QoE counters and the
 * Cache-Status of recent requests; limit bandwidth or pin a rendition. With our engine on a
 * stream that has a thumbnail track, a seek bar under the video previews the picture under the
 * pointer: across the whole presentation on VOD, across the DVR window on live (the time shown
 * as how far behind the live edge, −m:ss). State for tests is on `window.__streamedge`.
 */
import { DashJsEngine, HlsJsEngine, OurEngine, type Engine, type EngineTracks } from './engines.js';
import { ShakaEngine } from './shaka-engine.js';
import { RollingChart } from './charts.js';
import { PlaybackWatch } from './playback-watch.js';
import { installThrottledFetch, pageThrottle } from './throttled-fetch.js';
import type { RequestLogEntry } from '../player/fetcher.js';
import type { AdBreakStat } from '../player/ad-cues.js';
import type { ProtectionStats } from '../player/clear-key.js';

interface DemoConfig {
  streams: { name: string; url: string }[];
}

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const video = $<HTMLVideoElement>('video');
const requests: RequestLogEntry[] = [];
let engine: Engine | undefined;
let watch: PlaybackWatch | undefined;
const charts = {
  bitrate: new RollingChart($('ch-bitrate'), '#7fa7d1'),
  buffer: new RollingChart($('ch-buffer'), '#7fd17f'),
  throughput: new RollingChart($('ch-throughput'), '#e0b060'),
  latency: new RollingChart($('ch-latency'), '#d17fa7'),
};

installThrottledFetch();

function logRequest(e: RequestLogEntry): void {
  requests.unshift(e);
  requests.length = Math.min(requests.length, 14);
}

// hls.js and dash.js requests are seen through the Resource Timing API (no Cache-Status there);
// ours through the fetcher log, which has it.
function renderRequests(): void {
  const body = $('requests').querySelector('tbody')!;
  body.innerHTML = '';
  for (const r of requests) {
    const tr = document.createElement('tr');
    const name = new URL(r.url).pathname.split('/').slice(-2).join('/');
    const cs = r.cacheStatus ?? '–';
    tr.innerHTML = `<td>${escapeHtml(name)}</td><td>${r.status}</td><td>${(r.bytes / 1024).toFixed(1)}</td><td>${r.ms.toFixed(0)}</td><td class="${/hit/.test(cs) ? 'hit' : 'miss'}">${escapeHtml(cs)}</td>`;
    body.appendChild(tr);
  }
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
}

let renderedLevels = '';
/** The ad break playing (and how long it has left), else the next one cued (and how soon), else –. */
function adBreakText(breaks: AdBreakStat[] | undefined, t: number): string {
  const placed = (breaks ?? []).filter((b) => b.startSec !== null && b.endSec !== null);
  const on = placed.find((b) => b.playing);
  if (on) return `${on.id}: on, ${Math.max(0, on.endSec! - t).toFixed(0)} s ${on.returned ? 'left' : 'planned'}`;
  const next = placed.find((b) => b.startSec! > t);
  return next ? `${next.id} in ${(next.startSec! - t).toFixed(1)} s` : '–';
}

/** The scheme, key system, KIDs and license requests of an encrypted stream, else –. */
function protectionText(p: ProtectionStats | null | undefined): string {
  if (!p) return '–';
  const usable = p.kids.filter((k) => p.keyStatuses[k] === 'usable').length;
  const requests = `${p.licenseRequests} license request${p.licenseRequests === 1 ? '' : 's'}`;
  return `${p.scheme ?? '?'} · ${p.keySystem} · KID ${p.kids.join(', ') || '?'} (${usable}/${p.kids.length} usable) · ${requests}`;
}

/** The page's error line: the latest errors of the page and the engine, hidden when there are none. */
function renderErrors(engineErrors: string[]): void {
  const all = [...errors, ...engineErrors];
  const line = $('error');
  line.hidden = all.length === 0;
  line.textContent = all.slice(-3).join('\n');
}

function render(): void {
  if (!engine || !watch) return;
  const s = engine.stats();
  renderErrors(s.errors);
  $('c-protection').textContent = protectionText(s.protection);
  const fmtMbps = (bps: number) => (bps / 1e6).toFixed(2);
  $('c-engine').textContent = engine.name;
  $('c-startup').textContent = watch.startupMs === null ? '–' : `${watch.startupMs.toFixed(0)} ms`;
  $('c-stalls').textContent = String(watch.stalls);
  $('c-stallms').textContent = `${watch.currentStallMs().toFixed(0)} ms`;
  $('c-switches').textContent = String(s.switches);
  $('c-retries').textContent =
    s.retries === undefined ? '–' : `${s.retries}${s.playlistRetries ? ` + ${s.playlistRetries} playlist` : ''}`;
  $('c-adbreak').textContent = adBreakText(s.adBreaks, video.currentTime);
  const q = video.getVideoPlaybackQuality?.();
  $('c-dropped').textContent = q ? `${q.droppedVideoFrames} / ${q.totalVideoFrames}` : '–';
  $('c-buffer').textContent = `${s.bufferSec.toFixed(2)} s`;
  $('c-latency').textContent =
    s.latencySec === null ? '–' : `${s.latencySec.toFixed(2)} s${s.dvr === true ? ' (DVR)' : ''}`;
  $('go-live').hidden = s.dvr !== true;
  // the seek bar: our engine, on a stream with a thumbnail track
  $('seekbar').hidden = !s.thumbnails || !engine.thumbnailAt;
  renderPlayed(); // (live: the window moves on while paused too)
  $('c-estimate').textContent = `${fmtMbps(s.estimateBps)} Mbit/s`;
  $('c-rate').textContent = s.playbackRate.toFixed(2);
  const key = JSON.stringify(s.levels);
  if (key !== renderedLevels) {
    renderedLevels = key;
    const tbody = $('ladder').querySelector('tbody')!;
    tbody.innerHTML = '';
    const manual = $<HTMLSelectElement>('manual');
    manual.innerHTML = '<option value="auto">auto (ABR)</option>';
    s.levels.forEach((l, i) => {
      const tr = document.createElement('tr');
      tr.dataset.level = String(i);
      tr.innerHTML = `<td>${escapeHtml(l.id)}</td><td>${fmtMbps(l.bitrate)} Mbit/s</td><td>${l.height ?? '–'}</td>`;
      tbody.appendChild(tr);
      manual.insertAdjacentHTML('beforeend', `<option value="${i}">${escapeHtml(l.id)}</option>`);
    });
  }
  $('ladder')
    .querySelectorAll('tbody tr')
    .forEach((tr) => tr.classList.toggle('current', (tr as HTMLElement).dataset.level === String(s.currentLevel)));
  renderTracks(engine.tracks());
  charts.bitrate.push(s.levels[s.currentLevel] ? s.levels[s.currentLevel].bitrate / 1e6 : null);
  charts.buffer.push(s.bufferSec);
  charts.throughput.push(s.estimateBps / 1e6);
  charts.latency.push(s.latencySec);
  renderRequests();
}

let renderedTracks = '';
/** The audio and subtitle menus (rebuilt when the engine's track list changes) and the cue now on screen. */
function renderTracks(t: EngineTracks): void {
  const key = JSON.stringify(t);
  if (key !== renderedTracks) {
    renderedTracks = key;
    const label = (x: { name: string; language: string }) =>
      escapeHtml(x.language && x.language !== x.name ? `${x.name} (${x.language})` : x.name);
    $<HTMLSelectElement>('audio-track').innerHTML = t.audio
      .map((a) => `<option value="${escapeHtml(a.id)}"${a.active ? ' selected' : ''}>${label(a)}</option>`)
      .join('');
    const activeText = t.text.find((x) => x.active);
    $<HTMLSelectElement>('text-track').innerHTML =
      `<option value="off"${activeText ? '' : ' selected'}>off</option>` +
      t.text
        .map((x) => `<option value="${escapeHtml(x.id)}"${x.active ? ' selected' : ''}>${label(x)}</option>`)
        .join('');
  }
  $('cue').textContent = activeCues().join(' / ');
}

/** Text of the cues active now in the showing text tracks. */
function activeCues(): string[] {
  const out: string[] = [];
  for (const track of [...video.textTracks]) {
    if (track.mode !== 'showing') continue;
    for (const cue of [...(track.activeCues ?? [])]) out.push((cue as VTTCue).text);
  }
  return out;
}

async function load(url: string, kind: string): Promise<void> {
  engine?.stop();
  watch?.detach();
  video.removeAttribute('src');
  video.load();
  requests.length = 0;
  errors.length = 0;
  renderedLevels = '';
  renderedTracks = '';
  $('seekbar').hidden = true;
  $('seek-preview').hidden = true;
  watch = new PlaybackWatch(video);
  engine =
    kind === 'hlsjs'
      ? new HlsJsEngine(video)
      : kind === 'dashjs'
        ? new DashJsEngine(video)
        : kind === 'shaka'
          ? new ShakaEngine(video)
          : new OurEngine(video, logRequest, cmcdParam());
  try {
    await engine.start(url);
  } catch (e) {
    errors.push(String((e as Error).message ?? e));
    renderErrors(engine.stats().errors);
  }
}

const errors: string[] = [];
declare global {
  interface Window {
    __streamedge: {
      stats: () => unknown;
      setBandwidth: (mbps: number | null) => void;
      setManualLevel: (level: number | null) => void;
      load: (url: string, engine: string) => Promise<void>;
      tracks: () => EngineTracks;
      setAudioTrack: (id: string) => void;
      setTextTrack: (id: string | null) => void;
      activeCues: () => string[];
    };
  }
}
window.__streamedge = {
  stats: () => ({
    engine: engine?.name,
    ...(engine?.stats() ?? {}),
    startupMs: watch?.startupMs ?? null,
    stalls: watch?.stalls ?? 0,
    stallMs: watch?.currentStallMs() ?? 0,
    currentTime: video.currentTime,
    paused: video.paused,
    pageErrors: [...errors, ...(engine?.stats().errors ?? [])],
    requests: requests.map((r) => ({ url: r.url, status: r.status, cacheStatus: r.cacheStatus })),
  }),
  setBandwidth: (mbps) => setBandwidth(mbps),
  setManualLevel: (level) => engine?.setManualLevel(level),
  load,
  tracks: () => engine?.tracks() ?? { audio: [], text: [] },
  setAudioTrack: (id) => engine?.setAudioTrack(id),
  setTextTrack: (id) => engine?.setTextTrack(id),
  activeCues,
};

function setBandwidth(mbps: number | null): void {
  pageThrottle.setRate(mbps === null ? 0 : mbps * 1e6);
  $('bw-label').textContent = mbps === null ? 'unlimited' : `${mbps} Mbit/s`;
}

$<HTMLInputElement>('bw').addEventListener('input', (e) => {
  const v = Number((e.target as HTMLInputElement).value);
  // slider 0..39 → 0.5..20 Mbit/s in half steps; 40 → unlimited
  setBandwidth(v >= 40 ? null : 0.5 + v * 0.5);
});
$<HTMLSelectElement>('manual').addEventListener('change', (e) => {
  const v = (e.target as HTMLSelectElement).value;
  engine?.setManualLevel(v === 'auto' ? null : Number(v));
});
$<HTMLSelectElement>('audio-track').addEventListener('change', (e) =>
  engine?.setAudioTrack((e.target as HTMLSelectElement).value),
);
$<HTMLSelectElement>('text-track').addEventListener('change', (e) => {
  const v = (e.target as HTMLSelectElement).value;
  engine?.setTextTrack(v === 'off' ? null : v);
});

/** `t` seconds as the clock reads it: 1:05, 1:02:05. */
function clockTime(t: number): string {
  const s = Math.floor(t);
  const mmss = `${Math.floor((s % 3600) / 60)}:${String(s % 60).padStart(2, '0')}`;
  return s >= 3600 ? `${Math.floor(s / 3600)}:${mmss.padStart(5, '0')}` : mmss;
}

/**
 * What the seek bar spans: VOD the whole presentation (0 to its duration); live the seekable
 * range the player keeps (the DVR window, up to the live edge). Null while unknown.
 */
function seekSpan(): { start: number; end: number; live: boolean } | null {
  const d = video.duration;
  if (Number.isFinite(d) && d > 0) return { start: 0, end: d, live: false };
  const r = video.seekable;
  if (d !== Infinity || !r.length) return null;
  const start = r.start(0);
  const end = r.end(r.length - 1);
  return end > start ? { start, end, live: true } : null;
}

/** The media time at `clientX` on the seek bar, and the span it is of; null while that is unknown. */
function seekTimeAt(clientX: number): { t: number; span: { start: number; end: number; live: boolean } } | null {
  const span = seekSpan();
  if (!span) return null;
  const r = $('seekbar').getBoundingClientRect();
  const at = Math.min(1, Math.max(0, (clientX - r.left) / r.width));
  return { t: span.start + at * (span.end - span.start), span };
}

/**
 * The preview above the pointer: the thumbnail (a div its cell's size, the sheet as background
 * moved to the cell) and the time (live: how far behind the live edge), kept within the bar.
 */
function showPreview(clientX: number): void {
  const preview = $('seek-preview');
  const at = seekTimeAt(clientX);
  if (at === null) {
    preview.hidden = true;
    return;
  }
  const { t, span } = at;
  const cell = engine?.thumbnailAt?.(t) ?? null;
  const thumb = $('seek-thumb');
  thumb.hidden = cell === null;
  if (cell) {
    thumb.style.width = `${cell.width}px`;
    thumb.style.height = `${cell.height}px`;
    thumb.style.backgroundImage = `url("${cell.url}")`;
    thumb.style.backgroundPosition = `${-cell.x}px ${-cell.y}px`;
  }
  $('seek-time').textContent = span.live ? `−${clockTime(span.end - t)}` : clockTime(t);
  preview.hidden = false;
  const bar = $('seekbar').getBoundingClientRect();
  const half = preview.offsetWidth / 2;
  preview.style.left = `${Math.min(Math.max(clientX - bar.left, half), bar.width - half)}px`;
}

/** The played part of the bar: up to the playhead, within the span. */
function renderPlayed(): void {
  const span = seekSpan();
  const at = span ? Math.min(1, Math.max(0, (video.currentTime - span.start) / (span.end - span.start))) : 0;
  $('seek-played').style.width = `${100 * at}%`;
}

$('seekbar').addEventListener('pointermove', (e) => showPreview(e.clientX));
$('seekbar').addEventListener('pointerleave', () => ($('seek-preview').hidden = true));
$('seekbar').addEventListener('click', (e) => {
  const at = seekTimeAt(e.clientX);
  if (at !== null) video.currentTime = at.t;
});
video.addEventListener('timeupdate', renderPlayed);
// back from the DVR window: just inside the window's end (the player's catch-up takes it from there)
$('go-live').addEventListener('click', () => {
  const r = video.seekable;
  if (r.length) video.currentTime = Math.max(r.start(0), r.end(r.length - 1) - 3);
});
$('load').addEventListener(
  'click',
  () => void load($<HTMLInputElement>('url').value, $<HTMLSelectElement>('engine').value),
);

/** `?cmcd=query` or `?cmcd=headers` on the page URL: our player sends CMCD (CTA-5004). */
function cmcdParam(): 'query' | 'headers' | undefined {
  const v = new URLSearchParams(location.search).get('cmcd');
  return v === 'query' || v === 'headers' ? v : undefined;
}

async function init(): Promise<void> {
  const params = new URLSearchParams(location.search);
  let config: DemoConfig = { streams: [] };
  try {
    config = (await (await fetch('config.json')).json()) as DemoConfig;
  } catch {
    /* a page served without the demo server: type a URL */
  }
  const select = $<HTMLSelectElement>('stream');
  for (const s of config.streams)
    select.insertAdjacentHTML('beforeend', `<option value="${escapeHtml(s.url)}">${escapeHtml(s.name)}</option>`);
  select.addEventListener('change', () => ($<HTMLInputElement>('url').value = select.value));
  const src = params.get('src') ?? config.streams[0]?.url ?? '';
  $<HTMLInputElement>('url').value = src;
  const eng = params.get('engine') ?? 'ours';
  $<HTMLSelectElement>('engine').value = eng;
  setInterval(render, 500);
  if (src && params.get('autoplay') !== '0') await load(src, eng);
}

void init();
