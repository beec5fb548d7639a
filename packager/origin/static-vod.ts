/**
 * VOD: `/vod/<asset>/...` served from `<root>/<asset>/...` (packager/publish.ts: the disk layout
 * mirrors the URLs; assets published before versioned URLs are a symlink to their version).
 * Range (206/416), ETag + Last-Modified with 304, HEAD, content types and cache policy per file
 * kind and version. Files are streamed, never read whole (manifests excepted: they
 * are small and get compressed).
 */
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
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

export function registerVodRoutes(
  app: FastifyInstance,
  opts: { realRoot: () => string; steering?: SteeringService },
): void {
  const cmsd = new VodCmsd();
  app.route({
    method: ['GET', 'HEAD'],
    url: '/vod/*',
    handler: (req, reply) => serveVod(req, reply, opts.realRoot(), cmsd, opts.steering),
  });
}

async function serveVod(
  req: FastifyRequest,
  reply: FastifyReply,
  root: string,
  cmsd: VodCmsd,
  steering: SteeringService | undefined,
): Promise<FastifyReply> {
  const raw = rawPathAfter(req.raw.url ?? '', PREFIX);
  if (raw === undefined) return sendError(reply, 404, 'not found');
  const check = checkRelativePath(raw);
  if (!check.ok) return sendError(reply, check.status, check.reason);
  const segments = check.segments;
  reply.header('surrogate-key', segments[0]);
  if (segments.length < 2) return sendError(reply, 404, 'not found');
  const file = await resolveInsideRoot(root, segments);
  if (!file) return sendError(reply, 404, 'not found');
  let st;
  try {
    st = await stat(file);
  } catch {
    return sendError(reply, 404, 'not found');
  }
  if (!st.isFile()) return sendError(reply, 404, 'not found');

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
  reply.header('cache-control', await cacheControlFor(root, segments, manifest, name));
  if (manifest) reply.header('vary', 'Accept-Encoding');
  else reply.header('accept-ranges', 'bytes');
  const facts = await cmsd.forFile(file, name, st.size);
  if (facts) reply.header(CMSD_STATIC, facts);

  if (notModified(req.headers, { etag, lastModified })) {
    return reply.code(304).send();
  }

  const head = req.method === 'HEAD';
  if (manifest) {
    const body = steered
      ? Buffer.from(steer(steered, name, (await readFile(file)).toString('utf8'), req))
      : await readFile(file);
    reply.header('content-length', body.length);
    return reply.code(200).send(head ? undefined : body);
  }

  const ifRange = req.headers['if-range'];
  const range = ifRangeAllows(typeof ifRange === 'string' ? ifRange : undefined, etag, lastModified)
    ? parseRange(req.headers.range, st.size)
    : { kind: 'none' as const };
  if (range.kind === 'unsatisfiable') {
    reply.header('content-range', unsatisfiedRange(st.size));
    return sendError(reply, 416, 'range not satisfiable');
  }
  if (range.kind === 'satisfiable') {
    reply.code(206);
    reply.header('content-range', contentRange(range.start, range.end, st.size));
    reply.header('content-length', range.end - range.start + 1);
    if (head) return reply.send();
    return reply.send(createReadStream(file, { start: range.start, end: range.end }));
  }
  reply.code(200).header('content-length', st.size);
  if (head) return reply.send();
  return reply.send(createReadStream(file));
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
async function cacheControlFor(root: string, segments: string[], manifest: boolean, name: string): Promise<string> {
  let versioned = false;
  try {
    await stat(`${root}/${segments[0]}/${ASSET_HISTORY}`);
    versioned = true;
  } catch {
    /* an asset published before versioned URLs */
  }
  if (versioned) return segments.length >= 3 && VERSION_NAME.test(segments[1]) ? IMMUTABLE : VOD_ENTRY_POINT;
  return manifest ? VOD_MANIFEST : isMedia(name) ? IMMUTABLE : VOD_MANIFEST;
}
