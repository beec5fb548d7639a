/**
 * Our player in Debian's Chromium plays one file per rendition, the way single-file packagers
 * write a presentation:
 * - byte-range HLS: the file holds the init segment and every segment, the media playlist lists
 *   EXT-X-MAP BYTERANGE and EXT-X-BYTERANGE ranges of it. Built from an asset packaged by real
 *   ffmpeg (each rendition's init.mp4 and segments concatenated into all.mp4).
 * - DASH's on-demand profile (SegmentBase): each Representation a file with a sidx indexing its
 *   fragments, the MPD giving the sidx's indexRange and the Initialization range. The files are
 *   ffmpeg's own (`-movflags global_sidx`, remuxing all.mp4), so the index read is another
 *   muxer's, not ours.
 * Served by the origin and the edge on loopback (both answer Range with 206), with the fault
 * proxy in front to see every request. The player plays to the end with no error, asking only
 * for ranges of the one file, each exactly a range the manifest lists (or, on DASH, one of the
 * file's fragments, found here from its moof and mdat boxes).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync, realpathSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fixture } from '../../media-fixtures/generate.js';
import { readBoxes } from '../../src/cmaf/box.js';
import { ffmpegPath } from '../../src/media/ffmpeg-binaries.js';
import { packageSmall, startBrowserRig, type BrowserRig } from '../support/browser-rig.js';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.js';
import { playToEnd } from '../support/play-to-end.js';

let rig: BrowserRig;
let proxy: FaultProxy;
/** Every range the byte-range playlists list: `<path under /vod/movie/> bytes=a-b`. */
const listed = new Set<string>();
/** DASH on-demand: each file's init, index and fragment ranges, by `<path under /vod/movie/v1/> bytes=a-b`. */
const onDemand = new Map<string, 'init' | 'index' | 'fragment'>();

/**
 * Rewrites one media playlist of `assetDir` into the byte-range form: `<rendition>/all.mp4` (its
 * init segment, then its segments in order) and `<rendition>/br.m3u8`.
 */
function toByteRange(assetDir: string, playlist: string): string {
  const rendition = playlist.slice(0, playlist.lastIndexOf('/'));
  const dir = join(assetDir, rendition);
  const lines = readFileSync(join(assetDir, playlist), 'utf8').split('\n');
  const parts: Buffer[] = [];
  let offset = 0;
  const take = (file: string): string => {
    const bytes = readFileSync(join(dir, file));
    parts.push(bytes);
    const range = `${bytes.length}@${offset}`;
    listed.add(`${rendition}/all.mp4 bytes=${offset}-${offset + bytes.length - 1}`);
    offset += bytes.length;
    return range;
  };
  const out: string[] = [];
  for (const line of lines) {
    const map = /^#EXT-X-MAP:URI="([^"]+)"$/.exec(line);
    if (map) out.push(`#EXT-X-MAP:URI="all.mp4",BYTERANGE="${take(map[1])}"`);
    else if (line && !line.startsWith('#')) out.push(`#EXT-X-BYTERANGE:${take(line)}`, 'all.mp4');
    else out.push(line);
  }
  writeFileSync(join(dir, 'all.mp4'), Buffer.concat(parts));
  writeFileSync(join(dir, 'br.m3u8'), out.join('\n'));
  return `${rendition}/br.m3u8`;
}

/**
 * DASH's on-demand profile from the asset: `<id>/od.mp4` per Representation (ffmpeg remuxes
 * all.mp4 with a global sidx, a fragment every 2 s) and `manifest-od.mpd`, the asset's MPD with
 * each SegmentTemplate replaced by the file's BaseURL and SegmentBase ranges.
 */
function toSegmentBase(assetDir: string): void {
  let mpd = readFileSync(join(assetDir, 'manifest.mpd'), 'utf8').replace(
    /<SegmentTemplate[^>]*>[\s\S]*?<\/SegmentTemplate>/g,
    '',
  );
  mpd = mpd.replace(/<Representation id="([^"]+)"([^>]*?)(\/?)>/g, (_, id: string, rest: string, empty: string) => {
    const file = join(assetDir, id, 'od.mp4');
    execFileSync(ffmpegPath(), [
      ...['-hide_banner', '-v', 'error', '-i', join(assetDir, id, 'all.mp4'), '-c', 'copy'],
      ...['-movflags', '+empty_moov+default_base_moof+global_sidx', '-frag_duration', '2000000', '-y', file],
    ]);
    const boxes = readBoxes(readFileSync(file));
    const sidx = boxes.find((b) => b.type === 'sidx')!;
    const range = (start: number, end: number, what: 'init' | 'index' | 'fragment') =>
      onDemand.set(`${id}/od.mp4 bytes=${start}-${end}`, what);
    range(0, sidx.start - 1, 'init');
    range(sidx.start, sidx.start + sidx.size - 1, 'index');
    boxes.forEach((b, i) => {
      const mdat = boxes[i + 1];
      if (b.type === 'moof' && mdat?.type === 'mdat') range(b.start, mdat.start + mdat.size - 1, 'fragment');
    });
    const base =
      `<BaseURL>${id}/od.mp4</BaseURL>` +
      `<SegmentBase indexRange="${sidx.start}-${sidx.start + sidx.size - 1}">` +
      `<Initialization range="0-${sidx.start - 1}"/></SegmentBase>`;
    return `<Representation id="${id}"${rest}>${base}${empty ? '</Representation>' : ''}`;
  });
  writeFileSync(join(assetDir, 'manifest-od.mpd'), mpd.replace('isoff-live:2011', 'isoff-on-demand:2011'));
}

beforeAll(async () => {
  rig = await startBrowserRig('se-player-byte-range-');
  await packageSmall(rig.dir, await fixture('sample'), 'movie');
  // the published version's folder (movie is a link to it)
  const assetDir = realpathSync(join(rig.dir, 'root', 'movie'));
  expect(readdirSync(assetDir)).toContain('master.m3u8');
  const master = readFileSync(join(assetDir, 'master.m3u8'), 'utf8')
    .split('\n')
    // I-frame playlists are not rewritten (the player does not use them)
    .filter((l) => !l.startsWith('#EXT-X-I-FRAME-STREAM-INF'))
    .map((l) =>
      l.startsWith('#')
        ? l.replace(/URI="([^"]+\/index\.m3u8)"/, (_, uri: string) => `URI="${toByteRange(assetDir, uri)}"`)
        : l.endsWith('index.m3u8')
          ? toByteRange(assetDir, l)
          : l,
    );
  writeFileSync(join(assetDir, 'master-br.m3u8'), master.join('\n'));
  toSegmentBase(assetDir);
  const upstream = await rig.origin({ root: join(rig.dir, 'root') });
  proxy = await startFaultProxy((await rig.edge(upstream, 'edge-byte-range')).url, []);
}, 180_000);

afterAll(async () => {
  await proxy?.close();
  await rig?.close();
});

describe('our player plays one file per rendition', () => {
  it('byte-range HLS: plays to the end with no error, asking only for the listed ranges of it', async () => {
    const s = await playToEnd(rig, `${proxy.url}/vod/movie/master-br.m3u8`, 7.5);
    expect(s.pageErrors).toEqual([]);
    expect(s.retries).toBe(0);
    const media = proxy.log.filter((p) => !p.endsWith('.m3u8'));
    // nothing but the one file per rendition (no segment files, no init.mp4)
    expect(media.length).toBeGreaterThan(4);
    expect(media.every((p) => p.endsWith('/all.mp4'))).toBe(true);
    // every one of those a Range request, for a range a playlist lists (video and audio alike)
    const asked = proxy.ranges.map((r) => r.replace(/^\/vod\/movie\//, ''));
    expect(asked).toHaveLength(media.length);
    for (const r of asked) expect(listed).toContain(r);
    expect(asked.some((r) => /audio[^/]*\/all\.mp4/.test(r))).toBe(true);
  }, 120_000);

  it('DASH on-demand (SegmentBase, ffmpeg global_sidx files): reads each index, plays to the end asking only for init, index and fragment ranges', async () => {
    proxy.log.length = 0;
    proxy.ranges.length = 0;
    const s = await playToEnd(rig, `${proxy.url}/vod/movie/manifest-od.mpd`, 7.5);
    expect(s.pageErrors).toEqual([]);
    expect(s.retries).toBe(0);
    const media = proxy.log.filter((p) => !p.endsWith('.mpd'));
    expect(media.every((p) => p.endsWith('/od.mp4'))).toBe(true);
    const asked = proxy.ranges.map((r) => r.replace(/^\/vod\/movie\/v1\//, ''));
    expect(asked).toHaveLength(media.length);
    for (const r of asked) expect(onDemand.has(r), r).toBe(true);
    const of = (file: string, what: string) => asked.filter((r) => r.startsWith(file) && onDemand.get(r) === what);
    // audio: its init and index once each, then all 4 fragments, each once
    expect(of('audio/', 'init')).toHaveLength(1);
    expect(of('audio/', 'index')).toHaveLength(1);
    expect(new Set(of('audio/', 'fragment')).size).toBe(4);
    expect(of('audio/', 'fragment')).toHaveLength(4);
    // video: an index read for every rendition it asked media of; 4 fragments' worth of media at least
    const videoFragments = asked.filter((r) => !r.startsWith('audio/') && onDemand.get(r) === 'fragment');
    expect(videoFragments.length).toBeGreaterThanOrEqual(4);
    for (const r of videoFragments) expect(of(r.slice(0, r.indexOf('/')), 'index')).toHaveLength(1);
  }, 120_000);
});
