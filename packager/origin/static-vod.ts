/**
 * VOD: `/vod/<asset>/...` served from `<root>/<asset>/...` (packager/publish.ts: the disk layout
 * mirrors the URLs; assets published before versioned URLs are a symlink to their version).
 * Range (206/416), ETag + Last-Modified with 304, HEAD, content types and cache policy per file
 * kind and version. Files over 256 KiB are streamed, never read whole (manifests excepted:
 * they are small and get compressed); smaller ones are one read.
 *
 * The file is opened, stat'ed and read with synchronous system calls, as nginx's workers do: on
 * files in the page cache each costs a microsecond or two, where a trip through libuv's thread
 * pool cost tens of microseconds of CPU (bench/NOTES.md, "Origin request path"). A disk that has
 * to seek holds the event loop for that read (a chunk of 128 KiB at most).
 */
import { closeSync, constants, existsSync, fstatSync, openSync, readSync } from 'node:fs';
import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { checkRelativePath, rawPathAfter, resolveInsideRoot } from './safe-path.js';
import { contentTypeFor, isManifest, isMedia } from './content-type.js';
import { IMMUTABLE, VOD_ENTRY_POINT, VOD_MANIFEST } from './cache-headers.js';
import { ASSET_HISTORY, VERSION_NAME } from '../publish.js';
import { etagFor } from './etag.js';
import { notModified } from '../../src/http/conditional.js';
import { contentRange, ifRangeAllows, parseRange, unsatisfiedRange } from '../../src/http/range.js';
import { sendError } from './errors-reply.js';
import type { SteeringService } from './content-steering.js';
import { VodCmsd } from './cmsd-static.js';
import { CMSD_STATIC } from '../../src/http/cmsd.js';

const PREFIX = '/vod/';
/** The most assets a route remembers as versioned (then it starts again). */
const MAX_VERSIONED_KNOWN = 100_000;

export function registerVodRoutes(
  app: FastifyInstance,
  opts: { realRoot: () => string; steering?: SteeringService },
): void {
  const cmsd = new VodCmsd();
  /**
   * Assets known to have a version history (`.asset.json`): an asset, once versioned, stays so
   * (re-packaging adds versions), so its history is looked for once, not on every request.
   */
  const versioned = new Set<string>();
  const paths = new ResolvedPaths();
  app.route({
    method: ['GET', 'HEAD'],
    url: '/vod/*',
    handler: (req, reply) => serveVod(req, reply, opts.realRoot(), { paths, cmsd, versioned, steering: opts.steering }),
  });
}

/**
 * Files (or ranges) up to this size are read whole in one read and sent as one buffer (a
 * playlist, an init segment, a 2 s segment of the lower rungs, a thumbnail sheet): a stream's
 * machinery cost more than the bytes (bench/NOTES.md, "Origin request path"), and a stream holds
 * about as much per answer (its chunks, two of STREAM_CHUNK, while the socket is slow). Larger
 * ones are streamed.
 */
const READ_WHOLE_MAX = 256 * 1024;

/** How long a version's file keeps its resolved path (an operator's symlink above it may move). */
const RESOLVED_TTL_MS = 10_000;
/** The same for other paths (entry points; an asset of the old layout is a symlink a publish moves). */
const RESOLVED_ALIAS_TTL_MS = 1_000;
const MAX_RESOLVED = 50_000;

/**
 * Real paths of the files asked for, kept a little while: the resolution (realpath, which refuses
 * a symlink out of the root) was the largest per-request cost left on the VOD route. Files inside
 * a version (`<asset>/v<N>/…`, immutable once published) keep theirs 10 s; other paths (entry
 * points, which a publish replaces in place, and the current version's aliases) 1 s, the longest
 * an asset of the old layout (a symlink a publish moves) serves its previous version. A version
 * retention removed is a 404 all the same: the open fails.
 */
class ResolvedPaths {
  private readonly known = new Map<string, { real: string; at: number }>();

  resolve(root: string, segments: string[]): string | undefined {
    const ttl = segments.length >= 3 && VERSION_NAME.test(segments[1]) ? RESOLVED_TTL_MS : RESOLVED_ALIAS_TTL_MS;
    const key = `${root}|${segments.join('/')}`;
    const now = Date.now();
    const hit = this.known.get(key);
    if (hit && now - hit.at < ttl) return hit.real;
    const real = resolveInsideRoot(root, segments);
    this.known.delete(key);
    if (real !== undefined) {
      if (this.known.size >= MAX_RESOLVED) this.known.delete(this.known.keys().next().value!);
      this.known.set(key, { real, at: now });
    }
    return real;
  }
}

/** What the VOD route keeps between requests. */
interface VodRoute {
  paths: ResolvedPaths;
  cmsd: VodCmsd;
  versioned: Set<string>;
  steering: SteeringService | undefined;
}

async function serveVod(
  req: FastifyRequest,
  reply: FastifyReply,
  root: string,
  route: VodRoute,
): Promise<FastifyReply> {
  const raw = rawPathAfter(req.raw.url ?? '', PREFIX);
  if (raw === undefined) return sendError(reply, 404, 'not found');
  const check = checkRelativePath(raw);
  if (!check.ok) return sendError(reply, check.status, check.reason);
  const segments = check.segments;
  reply.header('surrogate-key', segments[0]);
  if (segments.length < 2) return sendError(reply, 404, 'not found');
  const file = route.paths.resolve(root, segments);
  if (!file) return sendError(reply, 404, 'not found');
  // one open for the checks and the bytes; O_NONBLOCK: a FIFO in the root opens at once
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch {
    return sendError(reply, 404, 'not found');
  }
  let streaming = false;
  try {
    const answer = await answerFile(req, reply, { root, segments, file }, fd, route);
    streaming = answer.streaming;
    return answer.reply;
  } finally {
    if (!streaming) closeSync(fd);
  }
}

/** The answer for an open file; `streaming` when a stream took the descriptor (it closes it). */
async function answerFile(
  req: FastifyRequest,
  reply: FastifyReply,
  { root, segments, file }: { root: string; segments: string[]; file: string },
  fd: number,
  { cmsd, versioned, steering }: VodRoute,
): Promise<{ reply: FastifyReply; streaming: boolean }> {
  const done = (r: FastifyReply) => ({ reply: r, streaming: false });
  const st = fstatSync(fd);
  if (!st.isFile()) return done(sendError(reply, 404, 'not found'));

  const name = segments[segments.length - 1];
  const manifest = isManifest(name);
  // a multivariant playlist or an MPD names the steering server: its validator says which one
  const steered = steering !== undefined && (name === 'master.m3u8' || name.endsWith('.mpd')) ? steering : undefined;
  const etag = steered ? steered.etagOf(etagFor(st, manifest)) : etagFor(st, manifest);
  reply.header('content-type', contentTypeFor(name, segments.length >= 3 ? segments[segments.length - 2] : undefined));
  reply.header('etag', etag);
  // a steered playlist changed when steering began (a copy from before has no tag), if not since
  const lastModified = new Date(steered ? Math.max(st.mtimeMs, steered.since) : st.mtimeMs).toUTCString();
  reply.header('last-modified', lastModified);
  reply.header('cache-control', cacheControlFor(root, segments, manifest, name, versioned));
  if (manifest) reply.header('vary', 'Accept-Encoding');
  else reply.header('accept-ranges', 'bytes');
  const facts = await cmsd.forFile(file, name, st.size);
  if (facts) reply.header(CMSD_STATIC, facts);

  if (notModified(req.headers, { etag, lastModified })) {
    return done(reply.code(304).send());
  }

  const head = req.method === 'HEAD';
  if (manifest) {
    const bytes = readRange(fd, 0, st.size);
    const body = steered ? Buffer.from(steer(steered, name, bytes.toString('utf8'), req)) : bytes;
    reply.header('content-length', body.length);
    return done(reply.code(200).send(head ? undefined : body));
  }

  const ifRange = req.headers['if-range'];
  const range = ifRangeAllows(typeof ifRange === 'string' ? ifRange : undefined, etag, lastModified)
    ? parseRange(req.headers.range, st.size)
    : { kind: 'none' as const };
  if (range.kind === 'unsatisfiable') {
    reply.header('content-range', unsatisfiedRange(st.size));
    return done(sendError(reply, 416, 'range not satisfiable'));
  }
  if (range.kind === 'satisfiable') {
    const length = range.end - range.start + 1;
    reply.code(206);
    reply.header('content-range', contentRange(range.start, range.end, st.size));
    reply.header('content-length', length);
    if (head) return done(reply.send());
    if (length <= READ_WHOLE_MAX) return done(reply.send(readRange(fd, range.start, length)));
    return { reply: reply.send(streamOf(fd, range.start, range.end)), streaming: true };
  }
  reply.code(200).header('content-length', st.size);
  if (head) return done(reply.send());
  if (st.size <= READ_WHOLE_MAX) return done(reply.send(readRange(fd, 0, st.size)));
  return { reply: reply.send(streamOf(fd, 0, st.size - 1)), streaming: true };
}

/** The file's bytes `start`..`start + length` (fewer when it was cut meanwhile). */
function readRange(fd: number, start: number, length: number): Buffer {
  const buf = Buffer.allocUnsafe(length);
  let at = 0;
  while (at < length) {
    const n = readSync(fd, buf, at, length - at, start + at);
    if (n === 0) break;
    at += n;
  }
  return buf.subarray(0, at);
}

/** How much a streamed file reads at a time (the stream holds about this much per answer). */
const STREAM_CHUNK = 128 * 1024;

/**
 * Bytes `start`..`end` (inclusive) streamed from the open file, which the stream closes: each
 * chunk read synchronously when the socket wants more (no thread-pool trip per chunk), so an
 * answer holds one chunk or so however slow its reader.
 */
function streamOf(fd: number, start: number, end: number): Readable {
  let at = start;
  return new Readable({
    highWaterMark: STREAM_CHUNK,
    read() {
      const length = Math.min(STREAM_CHUNK, end + 1 - at);
      if (length <= 0) return void this.push(null);
      let chunk: Buffer;
      try {
        chunk = readRange(fd, at, length);
      } catch (e) {
        return void this.destroy(e as Error);
      }
      if (chunk.length === 0) return void this.push(null); // cut meanwhile: the answer ends short
      at += chunk.length;
      this.push(chunk);
      if (at > end) this.push(null);
    },
    destroy(err, cb) {
      closeSync(fd);
      cb(err);
    },
  });
}

/** A multivariant playlist gets the steering tag; an MPD a BaseURL per CDN and the ContentSteering element. */
function steer(steering: SteeringService, name: string, text: string, req: FastifyRequest): string {
  if (!name.endsWith('.mpd')) return steering.apply(text);
  return steering.applyDash(text, (req.raw.url ?? '/').replace(/\?.*$/, ''));
}

/**
 * Versioned asset: its `v<N>/` tree is immutable, the rest (entry points, unversioned aliases of
 * the current version) short-lived. Older layout: media immutable, manifests a day.
 */
function cacheControlFor(
  root: string,
  segments: string[],
  manifest: boolean,
  name: string,
  known: Set<string>,
): string {
  const asset = `${root}/${segments[0]}`;
  let versioned = known.has(asset);
  // an asset published before versioned URLs is asked again next time: it may be re-packaged
  if (!versioned && existsSync(`${asset}/${ASSET_HISTORY}`)) {
    versioned = true;
    if (known.size >= MAX_VERSIONED_KNOWN) known.clear();
    known.add(asset);
  }
  if (versioned) return segments.length >= 3 && VERSION_NAME.test(segments[1]) ? IMMUTABLE : VOD_ENTRY_POINT;
  return manifest ? VOD_MANIFEST : isMedia(name) ? IMMUTABLE : VOD_MANIFEST;
}
