/**
 * The wall-clock anchor of a live HLS stream: PDT = anchor + media decode time. Read once from
 * the edge (a segment's EXT-X-PROGRAM-DATE-TIME, its tfdt and the init's timescale), it turns any
 * engine's video.currentTime into a wall-clock latency the same way for every engine.
 */
import { Parser } from 'm3u8-parser';
import { parseInit } from '../../src/cmaf/init-segment.js';
import { parseFragment } from '../../src/cmaf/fragment.js';

async function get(url: string): Promise<Response> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`GET ${url}: HTTP ${res.status}`);
  return res;
}

/** The parts of an m3u8-parser manifest this module reads. */
interface HlsManifest {
  playlists?: { uri: string }[];
  segments?: { uri: string; programDateTime?: number; map?: { uri: string } }[];
  partTargetDuration?: number;
  serverControl?: { partHoldBack?: number; holdBack?: number };
}

function parse(text: string): HlsManifest {
  const p = new Parser();
  p.push(text);
  p.end();
  return p.manifest;
}

export interface LiveClock {
  /** ms since the epoch at media decode time 0. */
  anchorMs: number;
  segmentsInWindow: number;
  partTargetSec?: number;
  /** The playlist's PART-HOLD-BACK and HOLD-BACK (seconds behind the playlist's end). */
  partHoldBackSec?: number;
  holdBackSec?: number;
  /** now − PDT(end of the newest listed part) when it appears (measureEdgeDelaySec), seconds. */
  edgeDelaySec?: number;
}

/** Reads the anchor from the first variant's newest complete segment. */
export async function readLiveClock(masterUrl: string): Promise<LiveClock> {
  const master = parse(await (await get(masterUrl)).text());
  const first = master.playlists?.[0];
  if (!first) throw new Error(`${masterUrl} lists no variant streams`);
  const mediaUrl = new URL(first.uri, masterUrl).href;
  const media = parse(await (await get(mediaUrl)).text());
  const segs = media.segments ?? [];
  const seg = [...segs].reverse().find((s) => typeof s.programDateTime === 'number');
  const mapUri = segs.find((s) => s.map)?.map?.uri;
  if (!seg || !mapUri) throw new Error(`${mediaUrl} has no segment with EXT-X-PROGRAM-DATE-TIME and EXT-X-MAP yet`);
  const init = parseInit(Buffer.from(await (await get(new URL(mapUri, mediaUrl).href)).arrayBuffer()));
  const frag = parseFragment(Buffer.from(await (await get(new URL(seg.uri, mediaUrl).href)).arrayBuffer()), init.trex);
  const video = init.tracks.find((t) => t.kind === 'video') ?? init.tracks[0];
  const traf = frag.tracks.find((t) => t.trackId === video?.trackId) ?? frag.tracks[0];
  if (!video || !traf) throw new Error(`${seg.uri}: no track fragment to read a decode time from`);
  return {
    anchorMs: seg.programDateTime! - (traf.baseDecodeTime / video.timescale) * 1000,
    segmentsInWindow: segs.length,
    partTargetSec: media.partTargetDuration,
    partHoldBackSec: media.serverControl?.partHoldBack,
    holdBackSec: media.serverControl?.holdBack,
  };
}

/** Wall-clock latency of a playhead: now − PDT(playhead). */
export function wallClockLatencySec(
  clock: LiveClock,
  dateNowMs: number,
  currentTime: number,
  timestampOffset: number,
): number {
  return (dateNowMs - (clock.anchorMs + (currentTime - timestampOffset) * 1000)) / 1000;
}

/** PDT (epoch ms) of the end of the newest segment or part an LL-HLS media playlist lists. */
export function playlistEndPdt(text: string): number | null {
  let t: number | null = null;
  let trailingSec = 0;
  let pending: number | null = null;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('#EXT-X-PROGRAM-DATE-TIME:')) {
      t = Date.parse(line.slice('#EXT-X-PROGRAM-DATE-TIME:'.length));
      trailingSec = 0;
    } else if (line.startsWith('#EXT-X-PART:')) {
      const d = /DURATION=([\d.]+)/.exec(line);
      if (d) trailingSec += Number(d[1]);
    } else if (line.startsWith('#EXTINF:')) {
      pending = Number.parseFloat(line.slice('#EXTINF:'.length));
    } else if (line && !line.startsWith('#') && pending !== null) {
      if (t !== null) t += pending * 1000;
      pending = null;
      trailingSec = 0;
    }
  }
  return t === null ? null : t + trailingSec * 1000;
}

/**
 * How long after its PDT end the newest part is listed (encoder, packager and edge delay):
 * polls the first variant's media playlist for `forMs` and takes the smallest `now − PDT(end)`
 * seen right after the playlist grew. Latency behind the playlist's end (what PART-HOLD-BACK
 * is measured from) is the wall-clock latency minus this.
 */
export async function measureEdgeDelaySec(masterUrl: string, forMs = 6000, everyMs = 40): Promise<number | null> {
  const master = parse(await (await get(masterUrl)).text());
  const first = master.playlists?.[0];
  if (!first) return null;
  const mediaUrl = new URL(first.uri, masterUrl).href;
  let lastEnd: number | null = null;
  let best: number | null = null;
  const until = Date.now() + forMs;
  while (Date.now() < until) {
    const text = await (await fetch(mediaUrl, { cache: 'no-store' })).text();
    const now = Date.now();
    const end = playlistEndPdt(text);
    if (end !== null && lastEnd !== null && end > lastEnd) best = Math.min(best ?? Infinity, now - end);
    lastEnd = end;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  return best === null ? null : Math.round(best) / 1000;
}
