/**
 * `/live/<channel>/...`: the multivariant playlist, media playlists (with blocking reload and
 * delta updates), the dynamic MPD, init segments, parts (held when not yet produced) and
 * segments (streamed with chunked transfer while in progress, from memory or disk when done).
 */
import type { SteeringService } from './content-steering.js';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { writeMultivariantPlaylist } from '../../src/hls/multivariant.js';
import { writeMediaPlaylist } from '../../src/hls/media-playlist.js';
import { partTarget, playlistTiming } from '../../src/hls/server-control.js';
import { findTimeline } from '../../src/hls/timeline-lookup.js';
import { mpdSegments, writeMpd } from '../../src/dash/mpd.js';
import { writeImagePlaylist } from '../../src/hls/image-playlist.js';
import { THUMBNAIL_TRACK_ID } from '../thumbnail-track.js';
import type { Presentation } from '../../src/media/presentation.js';
import type { LiveChannel } from '../live/live-channel.js';
import type { RenditionWindow } from '../live/rendition-window.js';
import { checkRelativePath } from './safe-path.js';
import { rawPathAfter } from './safe-path.js';
import { sendError } from './errors-reply.js';
import {
  IMMUTABLE,
  blockingReloadCacheControl,
  livePlaylistCacheControl,
  liveMpdCdnCacheControl,
  livePlaylistCdnCacheControl,
} from './cache-headers.js';
import { advancePartLimit, parseDirectives, satisfied, tooFarAhead } from './blocking-reload.js';
import { ManifestCache } from './manifest-cache.js';
import { partIsComing, streamGrowingSegment } from './part-holder.js';
import type { OriginMetrics } from './metrics.js';
import {
  LIVE_INIT_CMSD,
  LIVE_THUMBNAIL_CMSD,
  livePartCmsd,
  liveRetiredCmsd,
  liveSegmentCmsd,
  manifestCmsd,
} from './cmsd-static.js';
import { CMSD_DYNAMIC, CMSD_STATIC, formatCmsdDynamicEntry } from '../../src/http/cmsd.js';
import { SEGMENT_END } from '../live/position-waiters.js';
import { HeldRequests, type HeldRequest } from './held-requests.js';
import {
  encodeBody,
  headerPairs,
  negotiateEncoding,
  prepareResponse,
  type ContentEncoding,
  type PreparedResponse,
} from './prepared-response.js';

const M3U8 = 'application/vnd.apple.mpegurl';
const LIVE_PLAYLIST_CMSD = manifestCmsd('index.m3u8', true);
const LIVE_MPD_CMSD = manifestCmsd('manifest.mpd', true);
const ORIGIN_DURESS = formatCmsdDynamicEntry({ server: 'streamedge-origin', du: true });
const MPD = 'application/dash+xml';
// CTA-5004 has no object type for images: "other"
const SEGMENT = 'video/iso.segment';

export interface LiveRoutesOptions {
  channels: Map<string, LiveChannel>;
  metrics: OriginMetrics;
  /** Content steering: multivariant playlists name the steering server (origin/content-steering.ts). */
  steering?: SteeringService;
}

interface Ctx {
  channel: LiveChannel;
  cache: ManifestCache;
  metrics: OriginMetrics;
  steering: SteeringService | undefined;
  held: HeldLists;
  /** Channels whose MPD was served once: from then on it is served whatever a timeline lists. */
  mpdListed: WeakSet<LiveChannel>;
}

/** What a held blocking reload needs to be answered: the playlist variant and the headers. */
interface PlaylistHold {
  skip?: 'YES' | 'v2';
  query?: string;
  encoding: ContentEncoding;
  ambient: [string, string][];
  targetDuration: number;
}

/** A held request for a part that does not exist yet. */
interface PartHold {
  n: number;
  p: number;
  ambient: [string, string][];
}

/** The held-request lists of each rendition window (made on first use). */
class HeldLists {
  private readonly playlists = new WeakMap<RenditionWindow, HeldRequests<PlaylistHold>>();
  private readonly parts = new WeakMap<RenditionWindow, HeldRequests<PartHold>>();

  constructor(
    private readonly channel: LiveChannel,
    private readonly cache: ManifestCache,
    private readonly metrics: OriginMetrics,
  ) {}

  private common(kind: 'playlist' | 'part', route: string) {
    return {
      onHeldChange: (d: number) => (d > 0 ? this.metrics.held.inc({ kind }, d) : this.metrics.held.dec({ kind }, -d)),
      onAnswered: (_count: number, bytes: number, delaysMs: number[]) => {
        this.metrics.bytes.inc({ route }, bytes);
        const h = this.metrics.wakeup.labels({ kind });
        for (const d of delaysMs) h.observe(Math.max(0, d) / 1000);
      },
    };
  }

  playlistsOf(w: RenditionWindow): HeldRequests<PlaylistHold> {
    let list = this.playlists.get(w);
    if (!list) {
      list = new HeldRequests<PlaylistHold>(w, {
        ...this.common('playlist', 'live-manifest'),
        answer: (msn, part) =>
          satisfied(w, msn, part === SEGMENT_END ? undefined : part) ? (h) => this.playlistResponse(w, h) : undefined,
        expired: (h) =>
          jsonError(
            h.data.ambient,
            503,
            `_HLS_msn=${h.msn}${h.part !== SEGMENT_END ? ` _HLS_part=${h.part}` : ''} not available within 3 target durations`,
            [['retry-after', String(Math.max(1, Math.round(this.channel.config.partDuration)))]],
          ),
        closed: (h) =>
          jsonError(h.data.ambient, 503, `live channel "${this.channel.id}" is stopping`, [['retry-after', '1']]),
      });
      this.playlists.set(w, list);
    }
    return list;
  }

  partsOf(w: RenditionWindow): HeldRequests<PartHold> {
    let list = this.parts.get(w);
    if (!list) {
      list = new HeldRequests<PartHold>(w, {
        ...this.common('part', 'live-part'),
        answer: (n, p) => {
          const bytes = w.partBytes(n, p);
          if (bytes)
            return (h) =>
              prepareResponse(
                200,
                withHeaders(h.data.ambient, [
                  ['content-type', SEGMENT],
                  ['cache-control', IMMUTABLE],
                ]),
                bytes,
              );
          if (w.waiters.reached(n, p)) return (h) => jsonError(h.data.ambient, 404, `part ${n}.${p} was not produced`);
          return undefined;
        },
        expired: (h) =>
          jsonError(h.data.ambient, 503, `part ${h.data.n}.${h.data.p} not produced within 3 target durations`, [
            ['retry-after', '1'],
          ]),
        closed: (h) =>
          jsonError(h.data.ambient, 503, `live channel "${this.channel.id}" is stopping`, [['retry-after', '1']]),
      });
      this.parts.set(w, list);
    }
    return list;
  }

  /** The blocking-reload answer for one group: rendered once per version, compressed once. */
  private playlistResponse(w: RenditionWindow, h: HeldRequest<PlaylistHold>): PreparedResponse {
    const { skip, query, encoding, ambient, targetDuration } = h.data;
    const p = this.channel.presentation();
    if (!p)
      return jsonError(ambient, 503, `live channel "${this.channel.id}" is ${this.channel.state}`, [
        ['retry-after', '1'],
      ]);
    let body: Buffer;
    try {
      body = this.cache.get(this.channel.version, `media|${w.id}|${skip ?? ''}|${query ?? ''}`, () =>
        writeMediaPlaylist(p, w.id, { skip, query, discontinuitySequence: w.discontinuitySequence }),
      );
    } catch {
      return jsonError(ambient, 503, `live channel "${this.channel.id}": playlist not renderable yet`, [
        ['retry-after', '1'],
      ]);
    }
    const headers: [string, string][] = [
      ['content-type', M3U8],
      ['cache-control', blockingReloadCacheControl(targetDuration)],
      ['vary', 'Accept-Encoding'],
    ];
    if (encoding !== 'identity') headers.push(['content-encoding', encoding]);
    return prepareResponse(200, withHeaders(ambient, headers), encodeBody(body, encoding));
  }
}

/** `base` headers with `own` ones replacing those of the same name (`vary` values are merged). */
function withHeaders(base: [string, string][], own: [string, string][]): [string, string][] {
  const names = new Set(own.map(([k]) => k));
  const out: [string, string][] = [];
  let vary: string | undefined;
  for (const [k, v] of base) {
    const lk = k.toLowerCase();
    if (lk === 'vary') vary = vary ? `${vary}, ${v}` : v;
    else if (!names.has(lk) && lk !== 'content-length' && lk !== 'content-encoding') out.push([lk, v]);
  }
  for (const [k, v] of own) {
    if (k === 'vary') vary = vary ? `${vary}, ${v}` : v;
    else out.push([k, v]);
  }
  if (vary) out.push(['vary', vary]);
  return out;
}

/** The JSON error body of errors-reply.ts, as a prepared response. */
function jsonError(
  ambient: [string, string][],
  status: number,
  message: string,
  extra: [string, string][] = [],
): PreparedResponse {
  const headers = withHeaders(ambient, [
    ['cache-control', status === 404 ? 'public, max-age=1' : 'no-store'],
    ['content-type', 'application/json; charset=utf-8'],
    ...extra,
  ]);
  return prepareResponse(status, headers, Buffer.from(JSON.stringify({ error: message })));
}

/** The reply's headers so far (CORS, Surrogate-Key), to repeat on a hijacked answer. */
function ambientHeaders(reply: FastifyReply): { pairs: [string, string][]; key: string } {
  const pairs = headerPairs(reply.getHeaders());
  return { pairs, key: JSON.stringify(pairs) };
}

/** The request's query without the HLS delivery directives: carried into every URI (e.g. token=). */
function passThroughQuery(url: string): string | undefined {
  const q = url.indexOf('?');
  if (q < 0) return undefined;
  const params = new URLSearchParams(url.slice(q + 1));
  for (const k of ['_HLS_msn', '_HLS_part', '_HLS_skip']) params.delete(k);
  const s = params.toString();
  return s || undefined;
}

/** Aborted when the client goes away before the response is sent. */
function clientGone(req: FastifyRequest, reply: FastifyReply): AbortSignal {
  const ac = new AbortController();
  const onClose = (): void => {
    if (!reply.raw.writableFinished) ac.abort();
  };
  req.raw.once('close', onClose);
  reply.raw.once('close', onClose);
  return ac.signal;
}

export function registerLiveRoutes(app: FastifyInstance, opts: LiveRoutesOptions): void {
  const caches = new Map<string, ManifestCache>();
  const helds = new Map<string, HeldLists>();
  const mpdListed = new WeakSet<LiveChannel>();
  app.route({
    method: ['GET', 'HEAD'],
    url: '/live/*',
    handler: async (req, reply) => {
      const raw = rawPathAfter(req.raw.url ?? '', '/live/');
      if (raw === undefined) return sendError(reply, 404, 'not found');
      const check = checkRelativePath(raw);
      if (!check.ok) return sendError(reply, check.status, check.reason);
      const [channelId, ...rest] = check.segments;
      reply.header('surrogate-key', channelId);
      const channel = opts.channels.get(channelId);
      if (!channel) return sendError(reply, 404, `no live channel "${channelId}"`);
      // behind real time or stalled: the tier above should move to another origin if it has one
      if (channel.underDuress()) reply.header(CMSD_DYNAMIC, ORIGIN_DURESS);
      let cache = caches.get(channel.id);
      if (!cache) caches.set(channel.id, (cache = new ManifestCache()));
      let held = helds.get(channel.id);
      if (!held) helds.set(channel.id, (held = new HeldLists(channel, cache, opts.metrics)));
      const ctx: Ctx = { channel, cache, metrics: opts.metrics, held, steering: opts.steering, mpdListed };
      if (rest.length === 1) {
        if (rest[0] === 'master.m3u8') return master(req, reply, ctx);
        if (rest[0] === 'manifest.mpd') return mpd(req, reply, ctx);
      } else if (rest.length === 2) {
        if (rest[0] === THUMBNAIL_TRACK_ID) return thumbnailRequest(req, reply, ctx, rest[1]);
        const name = rest[1];
        // a starting channel's rendition has no window before its first media: a playlist waits for it
        if (!channel.windows.has(rest[0]) && name === 'index.m3u8') await presentationHeld(req, reply, ctx);
        const w = channel.windows.get(rest[0]);
        if (!w) return unavailableOr404(reply, ctx, `no rendition "${rest[0]}" in channel "${channel.id}"`);
        if (name === 'index.m3u8') return mediaPlaylist(req, reply, ctx, w);
        if (name === 'init.mp4') return init(reply, w);
        const part = /^seg-(\d{1,12})\.(\d{1,6})\.m4s$/.exec(name);
        if (part) return partRequest(req, reply, ctx, w, Number(part[1]), Number(part[2]));
        const seg = /^seg-(\d{1,12})\.m4s$/.exec(name);
        if (seg) return segmentRequest(req, reply, ctx, w, Number(seg[1]));
      }
      return sendError(reply, 404, 'not found');
    },
  });
}

function unavailableOr404(reply: FastifyReply, ctx: Ctx, message: string): FastifyReply {
  const s = ctx.channel.state;
  if (ctx.channel.windows.size === 0 && (s === 'starting' || s === 'failed')) return notReady(reply, ctx);
  return sendError(reply, 404, message);
}

function notReady(reply: FastifyReply, ctx: Ctx): FastifyReply {
  const st = ctx.channel.status();
  reply.header('retry-after', '1');
  return sendError(reply, 503, `live channel "${st.id}" is ${st.state}${st.lastError ? `: ${st.lastError}` : ''}`);
}

/**
 * How long a manifest request to a channel that is still starting is held for its first
 * presentation before the 503 (with Retry-After). Under the 3 s an edge with a backup origin
 * waits for an ordinary response head, so holding never reads as a dead origin there.
 */
const STARTING_HOLD_MS = 2_000;

/** Any presentation will do (an HLS playlist lists parts of a segment still in production). */
const anyPresentation = (): boolean => true;

/**
 * The presentation a channel's first MPD can be written from: every timeline lists a segment
 * (complete, or with low latency the one in production: `mpdSegments`; dash.js 5.2 waits for
 * good on an empty SegmentTimeline, and asks for no update either). Once served, an MPD is not
 * held back again for one timeline that lists nothing (a rendition come late): the others play.
 */
const mpdListable = (p: Presentation): boolean =>
  p.timelines.every((t) => mpdSegments(t.segments, p.live?.lowLatency === true).length > 0);

/**
 * The channel's presentation, if `ready` accepts it; while the channel is starting, after holding
 * the request up to STARTING_HOLD_MS for one (players such as dash.js give up on a starting
 * channel's 503 after a try or two, and none of them is told when the media is there).
 */
async function presentationHeld(
  req: FastifyRequest,
  reply: FastifyReply,
  ctx: Ctx,
  ready: (p: Presentation) => boolean = anyPresentation,
): Promise<Presentation | undefined> {
  const p = ctx.channel.presentation();
  if (p && ready(p)) return p;
  ctx.metrics.held.inc({ kind: 'start' });
  try {
    await ctx.channel.whenPresented(ready, STARTING_HOLD_MS, clientGone(req, reply));
  } finally {
    ctx.metrics.held.dec({ kind: 'start' });
  }
  const now = ctx.channel.presentation();
  return now && ready(now) ? now : undefined;
}

async function presentationOr503(
  req: FastifyRequest,
  reply: FastifyReply,
  ctx: Ctx,
  ready?: (p: Presentation) => boolean,
): Promise<Presentation | undefined> {
  const p = await presentationHeld(req, reply, ctx, ready);
  if (p || reply.raw.destroyed) return p;
  if (!ctx.channel.presentation()) notReady(reply, ctx);
  else {
    // media, but not yet what this manifest needs (an MPD: a segment it can list)
    reply.header('retry-after', '1');
    sendError(reply, 503, `live channel "${ctx.channel.id}" has no segment an MPD can list yet`);
  }
  return undefined;
}

async function master(req: FastifyRequest, reply: FastifyReply, ctx: Ctx): Promise<FastifyReply> {
  const p = await presentationOr503(req, reply, ctx);
  if (!p) return reply;
  const query = passThroughQuery(req.raw.url ?? '');
  const body = ctx.cache.get(ctx.channel.version, `master|${query ?? ''}`, () => {
    const text = writeMultivariantPlaylist(p, { query });
    return ctx.steering ? ctx.steering.apply(text) : text;
  });
  reply.header('content-type', M3U8);
  reply.header(CMSD_STATIC, LIVE_PLAYLIST_CMSD);
  reply.header('cache-control', `public, max-age=${Math.max(1, Math.round(p.segmentDuration))}`);
  reply.header('vary', 'Accept-Encoding');
  return reply.send(body);
}

async function mpd(req: FastifyRequest, reply: FastifyReply, ctx: Ctx): Promise<FastifyReply> {
  const first = !ctx.mpdListed.has(ctx.channel);
  const p = await presentationOr503(req, reply, ctx, first ? mpdListable : undefined);
  if (!p) return reply;
  if (first) ctx.mpdListed.add(ctx.channel);
  const query = passThroughQuery(req.raw.url ?? '');
  const path = (req.raw.url ?? '/').replace(/\?.*$/, '');
  const body = ctx.cache.get(ctx.channel.version, `mpd|${path}|${query ?? ''}`, () => {
    const text = writeMpd(p, { query });
    // content steering: a BaseURL per CDN, absolute, so built from the path the MPD was asked at
    return ctx.steering ? ctx.steering.applyDash(text, path) : text;
  });
  reply.header('content-type', MPD);
  reply.header(CMSD_STATIC, LIVE_MPD_CMSD);
  reply.header('cache-control', livePlaylistCacheControl(p.partDuration));
  reply.header('cdn-cache-control', liveMpdCdnCacheControl(p.partDuration, p.live?.lowLatency === true));
  reply.header('vary', 'Accept-Encoding');
  return reply.send(body);
}

/**
 * `thumbnails/index.m3u8` (the image playlist: one picture per segment) and `thumbnails/tile-<n>.jpg`
 * (segment n's picture, immutable like the segment) of a channel that takes thumbnails.
 */
async function thumbnailRequest(
  req: FastifyRequest,
  reply: FastifyReply,
  ctx: Ctx,
  name: string,
): Promise<FastifyReply> {
  if (!ctx.channel.config.thumbnails)
    return sendError(reply, 404, `live channel "${ctx.channel.id}" takes no thumbnails`);
  if (name === 'index.m3u8') {
    const p = await presentationOr503(req, reply, ctx);
    if (!p) return reply;
    if (!p.thumbnails) {
      reply.header('retry-after', '1');
      return sendError(reply, 503, `live channel "${ctx.channel.id}" has no thumbnail yet`);
    }
    const query = passThroughQuery(req.raw.url ?? '');
    const body = ctx.cache.get(ctx.channel.version, `images|${query ?? ''}`, () => writeImagePlaylist(p, { query }));
    reply.header('content-type', M3U8);
    reply.header(CMSD_STATIC, LIVE_PLAYLIST_CMSD);
    reply.header('cache-control', `public, max-age=${Math.max(1, Math.round(p.segmentDuration / 2))}`);
    reply.header('vary', 'Accept-Encoding');
    return reply.send(body);
  }
  const picture = /^tile-(\d{1,12})\.jpg$/.exec(name);
  if (!picture) return sendError(reply, 404, 'not found');
  const jpeg = ctx.channel.thumbnail(Number(picture[1]));
  if (!jpeg) return sendError(reply, 404, `no thumbnail for segment ${picture[1]}`);
  reply.header('content-type', 'image/jpeg');
  reply.header('cache-control', IMMUTABLE);
  reply.header(CMSD_STATIC, LIVE_THUMBNAIL_CMSD);
  return reply.send(jpeg);
}

function partsPerSegment(ctx: Ctx): number {
  return Math.max(1, Math.round(ctx.channel.config.segmentDuration / ctx.channel.config.partDuration));
}

/**
 * The PART-TARGET the channel's playlists advertise (the longest part rounded up to the ms, e.g.
 * 0.512 s of AAC for 0.5 s parts), or the configured part duration before there is media. The
 * Advance Part Limit (RFC 8216bis 6.2.5.2) is counted in it, as clients count.
 */
function advertisedPartTarget(ctx: Ctx): number {
  const p = ctx.channel.presentation();
  return p ? partTarget(p) : ctx.channel.config.partDuration;
}

function targetDurationOf(ctx: Ctx, w: RenditionWindow): number {
  const p = ctx.channel.presentation();
  if (p) {
    try {
      return playlistTiming(p, findTimeline(p, w.id)).targetDuration;
    } catch {
      /* rendition not in the presentation yet */
    }
  }
  return Math.ceil(ctx.channel.config.segmentDuration);
}

async function mediaPlaylist(
  req: FastifyRequest,
  reply: FastifyReply,
  ctx: Ctx,
  w: RenditionWindow,
): Promise<FastifyReply> {
  const d = parseDirectives(req.query as Record<string, unknown>);
  if (!d.ok) return sendError(reply, 400, d.message);
  const { msn, part, skip } = d.value;
  reply.header(CMSD_STATIC, LIVE_PLAYLIST_CMSD);
  const td = targetDurationOf(ctx, w);
  const query = passThroughQuery(req.raw.url ?? '');
  if (msn !== undefined) {
    const far = tooFarAhead(w, msn, part, advertisedPartTarget(ctx), partsPerSegment(ctx));
    if (far) return sendError(reply, 400, far);
    if (!satisfied(w, msn, part)) {
      // Held: answered by the window's held list with a response shared by every request of its
      // group (same variant, encoding and headers), written straight to the raw response.
      const encoding = negotiateEncoding(req.headers['accept-encoding']);
      const ambient = ambientHeaders(reply);
      reply.hijack();
      ctx.held
        .playlistsOf(w)
        .hold(
          msn,
          part ?? SEGMENT_END,
          reply.raw,
          `${skip ?? ''}|${query ?? ''}|${encoding}|${ambient.key}`,
          3 * td * 1000,
          {
            skip,
            query,
            encoding,
            ambient: ambient.pairs,
            targetDuration: td,
          },
        );
      return reply;
    }
  }
  const p = await presentationOr503(req, reply, ctx);
  if (!p) return reply;
  let body: Buffer;
  try {
    body = ctx.cache.get(ctx.channel.version, `media|${w.id}|${skip ?? ''}|${query ?? ''}`, () =>
      writeMediaPlaylist(p, w.id, { skip, query, discontinuitySequence: w.discontinuitySequence }),
    );
  } catch (e) {
    req.log.warn({ err: e }, 'cannot render live playlist');
    return notReady(reply, ctx);
  }
  reply.header('content-type', M3U8);
  if (msn !== undefined) reply.header('cache-control', blockingReloadCacheControl(td));
  else {
    reply.header('cache-control', livePlaylistCacheControl(p.partDuration));
    reply.header('cdn-cache-control', livePlaylistCdnCacheControl(p.partDuration));
  }
  reply.header('vary', 'Accept-Encoding');
  return reply.send(body);
}

function init(reply: FastifyReply, w: RenditionWindow): FastifyReply {
  if (!w.init) return sendError(reply, 404, 'init segment not produced yet');
  reply.header('content-type', w.rendition?.kind === 'audio' ? 'audio/mp4' : 'video/mp4');
  reply.header('cache-control', IMMUTABLE);
  reply.header(CMSD_STATIC, LIVE_INIT_CMSD);
  return reply.send(w.init);
}

function sendPart(reply: FastifyReply, bytes: Buffer): FastifyReply {
  reply.header('content-type', SEGMENT);
  reply.header('cache-control', IMMUTABLE);
  return reply.send(bytes);
}

function partRequest(
  _req: FastifyRequest,
  reply: FastifyReply,
  ctx: Ctx,
  w: RenditionWindow,
  n: number,
  p: number,
): FastifyReply {
  const seg = w.find(n);
  reply.header(
    CMSD_STATIC,
    livePartCmsd(w.rendition, seg && seg !== 'retired' ? seg.meta : undefined, p, ctx.channel.config.partDuration),
  );
  const have = w.partBytes(n, p);
  if (have) return sendPart(reply, have);
  const limit = advancePartLimit(advertisedPartTarget(ctx));
  if (!partIsComing(w, n, p, limit, partsPerSegment(ctx)))
    return sendError(reply, 404, `part ${n}.${p} is not available`);
  // Held until produced (200 with its bytes) or until its segment closes without it (404).
  const ambient = ambientHeaders(reply);
  reply.hijack();
  ctx.held.partsOf(w).hold(n, p, reply.raw, `${n}.${p}|${ambient.key}`, 3 * targetDurationOf(ctx, w) * 1000, {
    n,
    p,
    ambient: ambient.pairs,
  });
  return reply;
}

async function segmentRequest(
  req: FastifyRequest,
  reply: FastifyReply,
  ctx: Ctx,
  w: RenditionWindow,
  n: number,
): Promise<FastifyReply> {
  let found = w.find(n);
  if (found === undefined) {
    // The next segment, not started yet: hold until its first part exists, then stream it.
    const newest = w.newestNumber();
    const next = w.current ? w.current.meta.number + 1 : newest !== undefined ? newest + 1 : undefined;
    if (next === undefined || n !== next) return sendError(reply, 404, `segment ${n} is not available`);
    const signal = clientGone(req, reply);
    ctx.metrics.held.inc({ kind: 'segment' });
    let outcome;
    try {
      outcome = await w.waiters.wait(n, 0, 3 * targetDurationOf(ctx, w) * 1000, signal);
    } finally {
      ctx.metrics.held.dec({ kind: 'segment' });
    }
    if (outcome === 'aborted') return reply;
    found = w.find(n);
    if (found === undefined) {
      if (outcome === 'timeout') {
        reply.header('retry-after', '1');
        return sendError(reply, 503, `segment ${n} did not start within 3 target durations`);
      }
      return sendError(reply, 404, `segment ${n} is not available`);
    }
  }
  reply.header('content-type', SEGMENT);
  reply.header('cache-control', IMMUTABLE);
  if (found === 'retired') {
    // out of the window, still on disk for a while: its facts are gone with it but its type
    reply.header(CMSD_STATIC, liveRetiredCmsd(w.rendition));
    return sendFile(reply, w.filePath(n));
  }
  reply.header(CMSD_STATIC, liveSegmentCmsd(w.rendition, found.meta, ctx.channel.config.segmentDuration));
  if (!found.meta.complete) {
    // In progress: chunked transfer as parts arrive (no Content-Length).
    return reply.send(streamGrowingSegment(w, found, clientGone(req, reply)));
  }
  if (found.body) {
    return reply.send(found.body);
  }
  if (found.written && !found.onDisk) await found.written;
  return sendFile(reply, w.filePath(n));
}

async function sendFile(reply: FastifyReply, file: string): Promise<FastifyReply> {
  let size: number;
  try {
    size = (await stat(file)).size;
  } catch {
    return sendError(reply, 404, 'segment no longer available');
  }
  reply.header('content-length', size);
  return reply.send(createReadStream(file));
}
