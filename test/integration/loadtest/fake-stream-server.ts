/**
 * A small in-test HLS/DASH server for the load-tester tests, built on our own manifest writers
 * (src/hls, src/dash) and a hand-made presentation. Segment bodies are filler bytes of the
 * right size (the load tester never decodes). Live LL-HLS advances one part per `advance()` call
 * (the test's "encoder"), holds blocking playlist reloads and preload-hinted parts until they
 * exist, answers delta updates, and can trickle bodies below the media rate to cause stalls, or
 * stop one rendition's bodies halfway (a hung upstream).
 * It also exposes a Prometheus `/_edge/metrics` with edge-style counters (first fetch of a path
 * = miss + upstream request, later fetches = hits) so the report's edge section can be checked.
 */
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { writeMpd } from '../../../src/dash/mpd.js';
import { writeMediaPlaylist } from '../../../src/hls/media-playlist.js';
import { writeMultivariantPlaylist } from '../../../src/hls/multivariant.js';
import { paths, type Part, type Presentation, type Rendition, type Segment } from '../../../src/media/presentation.js';

const TS = 1000; // timescale: milliseconds, to keep the arithmetic obvious

function rendition(id: string, kind: 'video' | 'audio', bandwidth: number, height?: number): Rendition {
  return {
    id,
    kind,
    bandwidth,
    averageBandwidth: bandwidth,
    timescale: TS,
    codecs: kind === 'video' ? 'avc1.64001f' : 'mp4a.40.2',
    ...(kind === 'video'
      ? { width: Math.round(((height ?? 360) * 16) / 9), height, frameRate: [30, 1] as [number, number], sar: '1:1' }
      : { sampleRate: 48000, channels: 2, language: 'en' }),
  };
}

export const LADDER = [
  rendition('360p', 'video', 800_000, 360),
  rendition('720p', 'video', 2_400_000, 720),
  rendition('audio', 'audio', 128_000),
];

const bytesFor = (r: Rendition, ms: number) => Math.round((r.bandwidth / 8) * (ms / 1000));

export function vodPresentation(segments = 10, segmentMs = 2000): Presentation {
  return {
    id: 'asset',
    type: 'vod',
    segmentDuration: segmentMs / 1000,
    partDuration: 0,
    duration: (segments * segmentMs) / 1000,
    timelines: LADDER.map((r) => ({
      rendition: r,
      segments: Array.from({ length: segments }, (_, i): Segment => ({
        number: i + 1,
        start: i * segmentMs,
        duration: segmentMs,
        bytes: bytesFor(r, segmentMs),
        parts: [],
        complete: true,
      })),
    })),
  };
}

interface Waiter {
  msn: number;
  part: number;
  resolve: () => void;
}

/** Live LL-HLS channel: 2 s segments of 4 × 0.5 s parts, a sliding window. */
/**
 * A VOD asset `asset` of `segments` 2 s segments published under `root` as the packager lays it
 * out (a version folder and the asset's symlink to it): manifests from our writers (the MPD too
 * unless `mpd: false`), filler media bytes. For a real origin to serve.
 */
export function writeFakeVodAsset(root: string, segments: number, o: { mpd?: boolean } = {}): void {
  const version = join(root, '.versions', 'asset', 'v1');
  const p = vodPresentation(segments);
  mkdirSync(version, { recursive: true });
  writeFileSync(join(version, paths.master), writeMultivariantPlaylist(p));
  if (o.mpd !== false) writeFileSync(join(version, paths.mpd), writeMpd(p));
  for (const t of p.timelines) {
    const id = t.rendition.id;
    mkdirSync(join(version, id));
    writeFileSync(join(version, paths.mediaPlaylist(id)), writeMediaPlaylist(p, id));
    writeFileSync(join(version, paths.init(id)), Buffer.alloc(900, 1));
    for (const s of t.segments) writeFileSync(join(version, paths.segment(id, s.number)), Buffer.alloc(s.bytes, 3));
  }
  symlinkSync(version, join(root, 'asset'));
}

export class FakeLiveChannel {
  readonly partMs = 500;
  readonly partsPerSegment = 4;
  readonly windowSegments = 8;
  /** Position of the last produced part. */
  msn = 0;
  part = -1;
  readonly ast: number;
  private waiters: Waiter[] = [];

  /** Pre-produces `prefillParts` parts "in the past" so the wall clock matches the media clock. */
  constructor(prefillParts: number) {
    this.ast = Date.now() - prefillParts * this.partMs;
    for (let i = 0; i < prefillParts; i++) this.advance();
  }

  /** One more part on every rendition (the encoder's clock tick). */
  advance(): void {
    if (this.part + 1 >= this.partsPerSegment) {
      this.msn++;
      this.part = 0;
    } else {
      this.part++;
    }
    const ready = this.waiters.filter((w) => this.has(w.msn, w.part));
    this.waiters = this.waiters.filter((w) => !ready.includes(w));
    for (const w of ready) w.resolve();
  }

  /** Is (msn, part) produced? A part index past the segment's parts means "the segment is complete". */
  has(msn: number, part: number): boolean {
    if (msn < this.msn) return true;
    if (msn > this.msn) return false;
    return part <= this.part || (part >= this.partsPerSegment && this.part === this.partsPerSegment - 1);
  }

  waitFor(msn: number, part: number): Promise<void> {
    if (this.has(msn, part)) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ msn, part, resolve }));
  }

  get pendingWaiters(): number {
    return this.waiters.length;
  }

  presentation(): Presentation {
    const segMs = this.partMs * this.partsPerSegment;
    const lastComplete = this.part === this.partsPerSegment - 1 ? this.msn : this.msn - 1;
    const first = Math.max(0, lastComplete - this.windowSegments + 1);
    return {
      id: 'chan',
      type: 'live',
      segmentDuration: segMs / 1000,
      partDuration: this.partMs / 1000,
      live: {
        availabilityStartTime: this.ast,
        publishTime: Date.now(),
        dvrWindow: (this.windowSegments * segMs) / 1000,
        targetLatency: 1.5,
        utcTimingPath: '/time',
        lowLatency: true,
      },
      timelines: LADDER.map((r) => {
        const segments: Segment[] = [];
        for (let n = first; n <= this.msn; n++) {
          const complete = n <= lastComplete;
          const count = complete ? this.partsPerSegment : this.part + 1;
          const parts: Part[] = Array.from({ length: count }, (_, i) => ({
            index: i,
            duration: this.partMs,
            bytes: bytesFor(r, this.partMs),
            independent: i === 0,
          }));
          segments.push({
            number: n,
            start: n * segMs,
            duration: count * this.partMs,
            bytes: count * bytesFor(r, this.partMs),
            parts,
            programDateTime: this.ast + n * segMs,
            complete,
          });
        }
        return { rendition: r, segments };
      }),
    };
  }
}

export interface FakeServerOptions {
  /** Bodies of media objects trickled at this many bits/s (below the media rate → stalls). */
  trickleBps?: number;
  /** Only VOD segments numbered from this on are trickled (a fast start, then a slow link). */
  trickleFromSegment?: number;
  /** VOD: this rendition's segments from the second on send half their body, then nothing (a hung upstream). */
  hangRendition?: string;
  live?: FakeLiveChannel;
}

export interface FakeServer {
  url: string;
  server: Server;
  /** Requests seen, by a coarse class (master, playlist, blocking, delta, init, segment, part, hinted, mpd). */
  counts: Record<string, number>;
  close(): Promise<void>;
}

export async function startFakeServer(o: FakeServerOptions = {}): Promise<FakeServer> {
  const vod = vodPresentation();
  const counts: Record<string, number> = {};
  const seen = new Set<string>();
  const edge = { hits: 0, misses: 0 };
  const count = (k: string) => (counts[k] = (counts[k] ?? 0) + 1);
  const open = new Set<ServerResponse>();

  const send = async (res: ServerResponse, status: number, type: string, body: Buffer | string, trickle = false) => {
    const buf = typeof body === 'string' ? Buffer.from(body) : body;
    res.writeHead(status, { 'content-type': type, 'content-length': buf.length, 'cache-control': 'no-store' });
    if (!trickle || !o.trickleBps) return void res.end(buf);
    const chunk = 4096;
    const gapMs = ((chunk * 8) / o.trickleBps) * 1000;
    for (let off = 0; off < buf.length && !res.destroyed; off += chunk) {
      res.write(buf.subarray(off, off + chunk));
      await new Promise((r) => setTimeout(r, gapMs)); // the slow link being simulated
    }
    res.end();
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const u = new URL(req.url ?? '/', 'http://x');
    const path = u.pathname;
    if (path === '/_edge/metrics') {
      const text = [
        '# TYPE edge_hits_total counter',
        `edge_hits_total ${edge.hits}`,
        '# TYPE edge_misses_total counter',
        `edge_misses_total ${edge.misses}`,
        '# TYPE edge_requests_total counter',
        `edge_requests_total{result="hit"} ${edge.hits}`,
        `edge_requests_total{result="miss"} ${edge.misses}`,
        '# TYPE edge_upstream_requests_total counter',
        `edge_upstream_requests_total{target="origin",status="200"} ${edge.misses}`,
      ].join('\n');
      return send(res, 200, 'text/plain; version=0.0.4', text + '\n');
    }
    const key = req.url ?? path;
    if (seen.has(key)) edge.hits++;
    else {
      seen.add(key);
      edge.misses++;
    }
    const m = /^\/(vod|live)\/(asset|chan)\/(?:([^/]+)\/)?([^/]+)$/.exec(path);
    if (!m) return send(res, 404, 'text/plain', 'not found\n');
    const [, kind, , rid, file] = m;
    const live = kind === 'live' ? o.live : undefined;
    if (kind === 'live' && !live) return send(res, 404, 'text/plain', 'no live channel\n');
    if (file === 'master.m3u8' && !rid) {
      count('master');
      return send(
        res,
        200,
        'application/vnd.apple.mpegurl',
        writeMultivariantPlaylist(live ? live.presentation() : vod),
      );
    }
    if (file === 'manifest.mpd' && !rid) {
      count('mpd');
      return send(res, 200, 'application/dash+xml', writeMpd(live ? live.presentation() : vod));
    }
    const r = LADDER.find((x) => x.id === rid);
    if (!r) return send(res, 404, 'text/plain', 'no such rendition\n');
    if (file === 'index.m3u8') {
      const msn = u.searchParams.get('_HLS_msn');
      if (live && msn !== null) {
        count('blocking');
        await live.waitFor(Number(msn), Number(u.searchParams.get('_HLS_part') ?? live.partsPerSegment));
      } else count('playlist');
      const skip = u.searchParams.get('_HLS_skip') === 'YES' ? 'YES' : undefined;
      if (skip && live) count('delta');
      return send(
        res,
        200,
        'application/vnd.apple.mpegurl',
        writeMediaPlaylist(live ? live.presentation() : vod, r.id, skip ? { skip } : {}),
      );
    }
    if (file === 'init.mp4') {
      count('init');
      return send(res, 200, 'video/mp4', Buffer.alloc(900, 1));
    }
    const seg = /^seg-(\d+)(?:\.(\d+))?\.m4s$/.exec(file);
    if (!seg) return send(res, 404, 'text/plain', 'not found\n');
    const n = Number(seg[1]);
    if (seg[2] !== undefined) {
      if (!live) return send(res, 404, 'text/plain', 'no parts in VOD\n');
      const p = Number(seg[2]);
      if (!live.has(n, p)) {
        count('hinted');
        await live.waitFor(n, p);
      }
      count('part');
      return send(res, 200, 'video/mp4', Buffer.alloc(bytesFor(r, live.partMs), 2), true);
    }
    count('segment');
    if (live) {
      if (n > live.msn + 1) return send(res, 404, 'text/plain', 'not yet\n');
      // LL-DASH asks early (availabilityTimeOffset): hold the request until the segment is complete
      if (!live.has(n, live.partsPerSegment)) await live.waitFor(n, live.partsPerSegment);
      return send(res, 200, 'video/mp4', Buffer.alloc(bytesFor(r, live.partMs * live.partsPerSegment), 3), true);
    }
    const s = vod.timelines.find((t) => t.rendition.id === r.id)!.segments.find((x) => x.number === n);
    if (!s) return send(res, 404, 'text/plain', 'no such segment\n');
    if (r.id === o.hangRendition && n >= 2) {
      count('hung');
      res.writeHead(200, { 'content-type': 'video/mp4', 'content-length': s.bytes, 'cache-control': 'no-store' });
      res.write(Buffer.alloc(Math.floor(s.bytes / 2), 3)); // and the rest never comes (closed with the server)
      return;
    }
    return send(res, 200, 'video/mp4', Buffer.alloc(s.bytes, 3), n >= (o.trickleFromSegment ?? 0));
  };

  const server = createServer((req, res) => {
    open.add(res);
    res.on('close', () => open.delete(res));
    handle(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    server,
    counts,
    async close() {
      for (const res of open) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
