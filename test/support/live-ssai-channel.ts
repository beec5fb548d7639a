/**
 * A live channel as a server-side ad inserter (or a playout loop) writes it: two packaged VOD
 * assets' segments taken in turn by the wall clock, two of one, two of the other, the media times
 * of each run starting again at the asset's 0.
 * - HLS: each change an EXT-X-DISCONTINUITY with the asset's own EXT-X-MAP; every segment dated
 *   (EXT-X-PROGRAM-DATE-TIME, 2 s apart), which is all a player has to place the runs one after
 *   the other.
 * - DASH: a dynamic MPD of one Period per run (4 s each, its start in the presentation), the
 *   asset's AdaptationSets with their SegmentTimeline cut to the run's available segments.
 * The manifests come from here, the media from `mediaBase` (the assets as the origin and edge
 * serve them, absolute URLs).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loopbackServer } from './loopback-server.js';

export interface LiveSsaiChannel {
  /** The multivariant playlist's URL. */
  hlsUrl: string;
  /** The MPD's URL. */
  dashUrl: string;
  close(): Promise<void>;
}

const SEGMENT_SEC = 2;
/** Segments listed in the window. */
const WINDOW = 8;

/** The EXTINF duration and URI of each of a VOD media playlist's segments. */
export function vodSegments(text: string): { duration: number; uri: string }[] {
  const lines = text.split('\n');
  const out: { duration: number; uri: string }[] = [];
  lines.forEach((l, i) => {
    if (l.startsWith('#EXTINF:')) out.push({ duration: Number(l.slice(8).split(',')[0]), uri: lines[i + 1].trim() });
  });
  return out;
}

/**
 * Serves `/master.m3u8` (the first asset's, its media playlists pointed here),
 * `/<rendition>.m3u8` and `/manifest.mpd`, live. `assets` are [id, its packaged folder] (its
 * manifest.mpd and v1/<rendition>/index.m3u8 inside), each with every rendition of `renditions`;
 * each run plays that asset's first two segments (2 s each, the first S of its SegmentTimeline).
 * The channel started `startedAgoSec` before the server, so the window is full at once.
 */
export async function startLiveSsaiChannel(opts: {
  mediaBase: string;
  assets: [string, string][];
  renditions: string[];
  startedAgoSec: number;
}): Promise<LiveSsaiChannel> {
  const t0 = Date.now() - opts.startedAgoSec * 1000;
  const runs = opts.assets.map(([id, dir]) => ({
    id,
    /** The asset's one Period's AdaptationSets. */
    adaptationSets: /<Period\b[^>]*>([\s\S]*)<\/Period>/.exec(readFileSync(join(dir, 'manifest.mpd'), 'utf8'))![1],
    byRendition: new Map(
      opts.renditions.map((r) => [r, vodSegments(readFileSync(join(dir, 'v1', r, 'index.m3u8'), 'utf8')).slice(0, 2)]),
    ),
  }));
  const segmentAt = (k: number) => {
    const run = runs[Math.floor(k / 2) % runs.length];
    return { asset: run.id, n: (k % 2) + 1, run };
  };
  /** The live segments listed now: [first, last]. */
  const listed = () => {
    const last = Math.floor((Date.now() - t0) / 1000 / SEGMENT_SEC) - 1;
    return { first: Math.max(0, last - WINDOW + 1), last };
  };
  const media = (rendition: string): string => {
    const { first, last } = listed();
    const lines = [
      '#EXTM3U',
      '#EXT-X-VERSION:7',
      `#EXT-X-TARGETDURATION:${SEGMENT_SEC}`,
      `#EXT-X-MEDIA-SEQUENCE:${first}`,
      `#EXT-X-DISCONTINUITY-SEQUENCE:${Math.floor(first / 2)}`,
    ];
    for (let k = first; k <= last; k++) {
      const { asset, n, run } = segmentAt(k);
      const seg = run.byRendition.get(rendition)![n - 1];
      const folder = `${opts.mediaBase}/vod/${asset}/v1/${rendition}/`;
      if (k > first && n === 1) lines.push('#EXT-X-DISCONTINUITY');
      if (k === first || n === 1) lines.push(`#EXT-X-MAP:URI="${folder}init.mp4"`);
      lines.push(
        `#EXT-X-PROGRAM-DATE-TIME:${new Date(t0 + k * SEGMENT_SEC * 1000).toISOString()}`,
        `#EXTINF:${seg.duration.toFixed(3)},`,
        folder + seg.uri,
      );
    }
    return lines.join('\n') + '\n';
  };
  const mpd = (): string => {
    const { first, last } = listed();
    const periods: string[] = [];
    for (let j = Math.floor(first / 2); j <= Math.floor(last / 2); j++) {
      const run = runs[j % runs.length];
      // the run's segments listed now (1-based in the asset): from n0 to n1
      const n0 = Math.max(first, 2 * j) - 2 * j + 1;
      const n1 = Math.min(last, 2 * j + 1) - 2 * j + 1;
      const sets = run.adaptationSets
        .replace(
          /<SegmentTimeline>\s*<S t="0" d="(\d+)"[\s\S]*?<\/SegmentTimeline>/g,
          (_, d: string) =>
            `<SegmentTimeline><S t="${(n0 - 1) * Number(d)}" d="${d}"${n1 > n0 ? ' r="1"' : ''}/></SegmentTimeline>`,
        )
        .replace(/startNumber="1"/g, `startNumber="${n0}"`);
      periods.push(
        `  <Period id="run-${j}" start="PT${j * 2 * SEGMENT_SEC}S">\n    <BaseURL>${opts.mediaBase}/vod/${run.id}/v1/</BaseURL>${sets}</Period>`,
      );
    }
    return [
      '<?xml version="1.0" encoding="UTF-8"?>',
      '<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" profiles="urn:mpeg:dash:profile:isoff-live:2011" type="dynamic"',
      `  availabilityStartTime="${new Date(t0).toISOString()}" publishTime="${new Date().toISOString()}"`,
      `  minimumUpdatePeriod="PT${SEGMENT_SEC}S" timeShiftBufferDepth="PT${WINDOW * SEGMENT_SEC}S"`,
      `  suggestedPresentationDelay="PT${3 * SEGMENT_SEC}S" minBufferTime="PT${SEGMENT_SEC}S" maxSegmentDuration="PT${SEGMENT_SEC + 1}S">`,
      ...periods,
      '</MPD>',
      '',
    ].join('\n');
  };
  const [, firstDir] = opts.assets[0];
  const master = () =>
    readFileSync(join(firstDir, 'master.m3u8'), 'utf8')
      .split('\n')
      .filter((l) => !l.startsWith('#EXT-X-I-FRAME-STREAM-INF'))
      .map((l) => l.replace(/(?:v1\/)?([\w-]+)\/index\.m3u8/g, (_, r: string) => `${server.base}/${r}.m3u8`))
      .join('\n');
  const server = await loopbackServer((req, res) => {
    const path = (req.url ?? '/').replace(/\?.*$/, '');
    const headers = {
      'content-type': 'application/vnd.apple.mpegurl',
      'cache-control': 'no-store',
      'access-control-allow-origin': '*',
    };
    const rendition = /^\/([\w-]+)\.m3u8$/.exec(path)?.[1];
    if (path === '/master.m3u8') res.writeHead(200, headers).end(master());
    else if (path === '/manifest.mpd')
      res.writeHead(200, { ...headers, 'content-type': 'application/dash+xml' }).end(mpd());
    else if (rendition && opts.renditions.includes(rendition)) res.writeHead(200, headers).end(media(rendition));
    else res.writeHead(404, { 'access-control-allow-origin': '*' }).end();
  });
  return {
    hlsUrl: `${server.base}/master.m3u8`,
    dashUrl: `${server.base}/manifest.mpd`,
    close: () => server.close(),
  };
}
