/**
 * What each downloaded URL of an HLS presentation is, read from the playlists the edge serves
 * (fetched from the bench process, not the page): the variant a media request belongs to, and on
 * VOD which segment (index, start, duration) it is. Lets the bench judge both engines by the
 * same evidence: the bytes they fetched.
 */
import { Parser } from 'm3u8-parser';

export interface Variant {
  index: number;
  /** BANDWIDTH (peak, bits/s): what hls.js calls a level's bitrate. */
  bandwidth: number;
  averageBandwidth?: number;
  height?: number;
  playlistUrl: string;
  /** The folder of the media playlist: its segments and parts live under it. */
  dir: string;
}

export interface VodSegment {
  index: number;
  start: number;
  duration: number;
}

export interface PresentationMap {
  variants: Variant[];
  audioDirs: string[];
  /** VOD only: segment timeline (shared by all variants, which are aligned). */
  segments: VodSegment[];
  /** VOD only: absolute segment URL (no query) → variant index and segment index. */
  segmentByUrl: Map<string, { variant: number; segment: number }>;
}

export type UrlKind =
  | { kind: 'video-segment'; variant: number; segment: number }
  | { kind: 'video-media'; variant: number }
  | { kind: 'audio-media' }
  | { kind: 'playlist' }
  | { kind: 'other' };

/** The parts of an m3u8-parser manifest this module reads. */
interface HlsManifest {
  playlists?: {
    uri: string;
    attributes?: { BANDWIDTH?: unknown; 'AVERAGE-BANDWIDTH'?: unknown; RESOLUTION?: { height?: number } };
  }[];
  mediaGroups?: { AUDIO?: Record<string, Record<string, { uri?: string }>> };
  segments?: { uri: string; duration: number; map?: { uri: string } }[];
}

function parse(text: string): HlsManifest {
  const p = new Parser();
  p.push(text);
  p.end();
  return p.manifest;
}

async function getText(url: string): Promise<string> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`GET ${url}: HTTP ${res.status}`);
  return res.text();
}

const stripQuery = (u: string) => u.replace(/[?#].*$/, '');
const dirOf = (u: string) => stripQuery(u).replace(/[^/]*$/, '');

export async function mapPresentation(masterUrl: string, opts: { vod: boolean }): Promise<PresentationMap> {
  const master = parse(await getText(masterUrl));
  const variants: Variant[] = (master.playlists ?? []).map((p, index) => {
    const playlistUrl = new URL(p.uri, masterUrl).href;
    return {
      index,
      bandwidth: Number(p.attributes?.BANDWIDTH ?? 0),
      averageBandwidth: p.attributes?.['AVERAGE-BANDWIDTH'] ? Number(p.attributes['AVERAGE-BANDWIDTH']) : undefined,
      height: p.attributes?.RESOLUTION?.height,
      playlistUrl,
      dir: dirOf(playlistUrl),
    };
  });
  if (!variants.length) throw new Error(`${masterUrl} lists no variant streams`);
  const audioDirs: string[] = [];
  for (const group of Object.values(master.mediaGroups?.AUDIO ?? {})) {
    for (const r of Object.values(group)) if (r.uri) audioDirs.push(dirOf(new URL(r.uri, masterUrl).href));
  }
  const segments: VodSegment[] = [];
  const segmentByUrl = new Map<string, { variant: number; segment: number }>();
  if (opts.vod) {
    for (const v of variants) {
      const media = parse(await getText(v.playlistUrl));
      let start = 0;
      (media.segments ?? []).forEach((s, i) => {
        segmentByUrl.set(stripQuery(new URL(s.uri, v.playlistUrl).href), { variant: v.index, segment: i });
        if (v.index === 0) segments.push({ index: i, start, duration: s.duration });
        start += s.duration;
      });
    }
  }
  return { variants, audioDirs, segments, segmentByUrl };
}

/** Every URL the VOD presentation references (playlists, init and media segments of every variant and audio). */
export async function allVodUrls(masterUrl: string): Promise<string[]> {
  const master = parse(await getText(masterUrl));
  const playlists: string[] = (master.playlists ?? []).map((p) => new URL(p.uri, masterUrl).href);
  for (const group of Object.values(master.mediaGroups?.AUDIO ?? {})) {
    for (const r of Object.values(group)) if (r.uri) playlists.push(new URL(r.uri, masterUrl).href);
  }
  const urls = [masterUrl, ...playlists];
  for (const pl of playlists) {
    const media = parse(await getText(pl));
    const segs = media.segments ?? [];
    const map = segs.find((s) => s.map)?.map;
    if (map) urls.push(new URL(map.uri, pl).href);
    for (const s of segs) urls.push(new URL(s.uri, pl).href);
  }
  return urls;
}

export function classifyUrl(map: PresentationMap, url: string): UrlKind {
  const u = stripQuery(url);
  const seg = map.segmentByUrl.get(u);
  if (seg) return { kind: 'video-segment', ...seg };
  if (/\.m3u8$|\.mpd$/i.test(u)) return { kind: 'playlist' };
  // Longest folder first: a variant folder may sit inside another's.
  const byDir = [...map.variants].sort((a, b) => b.dir.length - a.dir.length);
  for (const v of byDir) if (u.startsWith(v.dir)) return { kind: 'video-media', variant: v.index };
  if (map.audioDirs.some((d) => u.startsWith(d))) return { kind: 'audio-media' };
  return { kind: 'other' };
}
