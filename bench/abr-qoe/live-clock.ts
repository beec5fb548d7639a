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
