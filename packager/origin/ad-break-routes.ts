/**
 * The live ad-break API: an operator (or an automation system) cues SCTE 35 ad breaks on a live
 * channel, behind its own bearer credential (`--cue-credential-file`).
 *
 *   POST /_live/<channel>/ad-breaks          {"duration": 30, "segment"?: n, "eventId"?: id,
 *                                             "interstitial"?: {"assetUri" | "assetList": url,
 *                                                               "restrict"?: "skip,jump"}}
 *                                            → 201, the break (200: that break exists already)
 *   POST /_live/<channel>/ad-breaks/return                     → 200, the break, now ending
 *   GET  /_live/<channel>/ad-breaks                             → 200, the breaks the channel keeps
 *
 * A break starts with the segment after the one in production and is in every media playlist
 * (EXT-X-DATERANGE with SCTE35-OUT, later SCTE35-IN) and the MPD (an EventStream) from the next
 * manifest on. A break given an `interstitial` is also an HLS Interstitial of that ad (an ad
 * chosen per break, whether or not the channel has `--live-interstitial`). The list shows the
 * breaks the feed's own SCTE 35 cued too (`cuedBy: "feed"`, with `spliceOffsetSec`, see
 * live/feed-cues.ts). Answers are JSON and never cached.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { bearer, credentialMatches } from '../../src/signing/sign-endpoint.js';
import { AdBreakError, type ScheduledBreak } from '../live/ad-breaks.js';
import type { LiveChannel } from '../live/live-channel.js';
import { sendError } from './errors-reply.js';
import { interstitialSource } from '../../src/cli/interstitial-options.js';
import { StreamedgeError } from '../../src/errors.js';
import type { InterstitialSource } from '../../src/media/presentation.js';

/** The API's paths start so (the signed-URL check leaves them to their own credential). */
export const AD_BREAK_PREFIX = '/_live/';

export interface AdBreakRoutesOptions {
  channels: Map<string, LiveChannel>;
  /** The bearer credential the API asks for; without one it answers 403 saying how to turn it on. */
  credential?: string;
}

export function registerAdBreakRoutes(app: FastifyInstance, opts: AdBreakRoutesOptions): void {
  const guard = (req: FastifyRequest, reply: FastifyReply): LiveChannel | undefined => {
    reply.header('cache-control', 'no-store');
    if (opts.credential === undefined) {
      sendError(reply, 403, 'the ad-break API is off: start the origin with --cue-credential-file');
      return undefined;
    }
    if (!credentialMatches(bearer(req.headers.authorization), opts.credential)) {
      reply.header('www-authenticate', 'Bearer');
      sendError(reply, 401, 'a valid bearer credential is required');
      return undefined;
    }
    const id = (req.params as { channel: string }).channel;
    const channel = opts.channels.get(id);
    if (!channel) sendError(reply, 404, `no live channel "${id}"`);
    return channel;
  };
  const answer = (
    reply: FastifyReply,
    run: () => ScheduledBreak | readonly ScheduledBreak[],
    status: () => number = () => 200,
  ) => {
    try {
      const r = run();
      return reply.code(status()).send(Array.isArray(r) ? { adBreaks: r.map(view) } : view(r as ScheduledBreak));
    } catch (e) {
      if (e instanceof AdBreakError) return sendError(reply, e.status, e.message);
      throw e;
    }
  };

  app.get(`${AD_BREAK_PREFIX}:channel/ad-breaks`, async (req, reply) => {
    const channel = guard(req, reply);
    if (channel) return answer(reply, () => channel.adBreakList());
  });
  app.post(`${AD_BREAK_PREFIX}:channel/ad-breaks`, async (req, reply) => {
    const channel = guard(req, reply);
    if (!channel) return;
    const body = req.body as
      { duration?: unknown; segment?: unknown; eventId?: unknown; interstitial?: unknown } | undefined;
    const num = (v: unknown) => (typeof v === 'number' ? v : v === undefined ? undefined : Number.NaN);
    const duration = num(body?.duration) ?? Number.NaN;
    const segment = num(body?.segment);
    const eventId = num(body?.eventId);
    let status = 201;
    return answer(
      reply,
      () => {
        const interstitial = breakInterstitial(body?.interstitial);
        const r = channel.cueAdBreak(duration, {
          ...(segment !== undefined ? { segment } : {}),
          ...(eventId !== undefined ? { eventId } : {}),
          ...(interstitial ? { interstitial } : {}),
        });
        if (!r.created) status = 200;
        return r.adBreak;
      },
      () => status,
    );
  });
  app.post(`${AD_BREAK_PREFIX}:channel/ad-breaks/return`, async (req, reply) => {
    const channel = guard(req, reply);
    if (channel) return answer(reply, () => channel.returnFromAdBreak());
  });
}

/** The POST body's `interstitial` (absent: the channel's own, if any); AdBreakError 400 when it is not one. */
function breakInterstitial(v: unknown): InterstitialSource | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    throw new AdBreakError(400, 'interstitial must be an object: {"assetUri": url} or {"assetList": url}');
  const o = v as { assetUri?: string; assetList?: string; restrict?: string };
  try {
    const source = interstitialSource(
      { uri: o.assetUri, list: o.assetList, restrict: o.restrict },
      {
        uri: 'interstitial.assetUri',
        list: 'interstitial.assetList',
        restrict: 'interstitial.restrict',
      },
    );
    if (!source) throw new AdBreakError(400, 'interstitial needs assetUri or assetList');
    return source;
  } catch (e) {
    if (e instanceof StreamedgeError && e.code === 'BAD_OPTION') throw new AdBreakError(400, e.message);
    throw e;
  }
}

/** A break as the API shows it: dates in ISO 8601, the segment numbers, both cues. */
function view(b: ScheduledBreak) {
  return {
    eventId: b.eventId,
    id: `splice-${b.eventId}`,
    startDate: new Date(b.startDate).toISOString(),
    startsWithSegment: b.startNumber,
    ...(b.plannedDuration !== undefined ? { plannedDuration: b.plannedDuration } : {}),
    scte35Out: b.scte35Out,
    ...(b.interstitial ? { interstitial: b.interstitial } : {}),
    ...(b.feed ? { cuedBy: 'feed', spliceOffsetSec: b.feed.offsetSec } : { cuedBy: 'api' }),
    ...(b.end
      ? {
          endDate: new Date(b.end.date).toISOString(),
          duration: Math.round(b.end.date - b.startDate) / 1000,
          returnsAtSegment: b.endNumber,
          scte35In: b.end.scte35In,
        }
      : {}),
  };
}
