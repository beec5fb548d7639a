/**
 * Scrapes an edge's Prometheus text from `/_edge/metrics`: hit ratio and upstream requests,
 * as deltas between a scrape before and after the run. Counter names follow edge/metrics.ts
 * (`edge_hits_total`, `edge_requests_total`, `edge_upstream_requests_total`, …), with or without a
 * `streamedge_` prefix. A target that is not our edge simply yields null.
 */
import { request, type Dispatcher } from 'undici';

export interface EdgeCounters {
  hits: number;
  misses: number;
  requests: number;
  upstreamRequests: number;
  collapsed: number;
  /** edge_cmcd_requests_total and edge_cmcd_buffer_starvation_total (all object types); undefined: not exported. */
  cmcdRequests?: number;
  cmcdStarvations?: number;
  /** edge_event_loop_delay_seconds: cumulative count per bucket upper bound (s), summed over the edge's processes. */
  loopDelayBuckets: Map<number, number>;
}

/** Sums of every sample of each metric name in a Prometheus text exposition. */
export function parsePromText(text: string): Map<string, number> {
  const sums = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const v = Number(m[3]);
    if (!Number.isFinite(v)) continue;
    sums.set(m[1], (sums.get(m[1]) ?? 0) + v);
  }
  return sums;
}

function pick(sums: Map<string, number>, suffix: string): number | undefined {
  for (const name of [`edge_${suffix}`, `streamedge_edge_${suffix}`]) if (sums.has(name)) return sums.get(name);
  return undefined;
}

const LOOP_BUCKET = /^(?:streamedge_)?edge_event_loop_delay_seconds_bucket\{(?:[^}]*,)?le="([^"]+)"[^}]*\}\s+(\S+)/;

/** The event-loop delay histogram's cumulative bucket counts (le → count, +Inf as Infinity), summed over label sets. */
export function loopDelayBuckets(text: string): Map<number, number> {
  const out = new Map<number, number>();
  for (const line of text.split('\n')) {
    const m = LOOP_BUCKET.exec(line);
    if (!m) continue;
    const le = m[1] === '+Inf' ? Infinity : Number(m[1]);
    out.set(le, (out.get(le) ?? 0) + Number(m[2]));
  }
  return out;
}

/**
 * The p99 of the samples between two scrapes of a cumulative histogram, as the upper bound of the
 * bucket it falls in (ms; Infinity past the last bound); null without samples.
 */
export function histogramP99Ms(before: Map<number, number>, after: Map<number, number>): number | null {
  const bounds = [...after.keys()].sort((a, b) => a - b);
  const total = (after.get(Infinity) ?? 0) - (before.get(Infinity) ?? 0);
  if (bounds.length === 0 || total <= 0) return null;
  for (const le of bounds) {
    if ((after.get(le) ?? 0) - (before.get(le) ?? 0) >= 0.99 * total) return le === Infinity ? Infinity : le * 1000;
  }
  return Infinity;
}

/**
 * The edge's CMCD counters; a labelled counter shows no sample until its first count, so an edge
 * that declares them (its `# TYPE` line) counts 0 before then.
 */
function cmcdCounts(s: Map<string, number>, text: string): Pick<EdgeCounters, 'cmcdRequests' | 'cmcdStarvations'> {
  if (!/^# TYPE (?:streamedge_)?edge_cmcd_requests_total /m.test(text)) return {};
  return {
    cmcdRequests: pick(s, 'cmcd_requests_total') ?? 0,
    cmcdStarvations: pick(s, 'cmcd_buffer_starvation_total') ?? 0,
  };
}

export function edgeCounters(text: string): EdgeCounters | null {
  const s = parsePromText(text);
  const hits = pick(s, 'hits_total');
  const upstream = pick(s, 'upstream_requests_total');
  if (hits === undefined && upstream === undefined) return null;
  return {
    hits: hits ?? 0,
    misses: pick(s, 'misses_total') ?? 0,
    requests: pick(s, 'requests_total') ?? 0,
    upstreamRequests: upstream ?? 0,
    collapsed: pick(s, 'collapsed_total') ?? 0,
    ...cmcdCounts(s, text),
    loopDelayBuckets: loopDelayBuckets(text),
  };
}

export async function scrapeEdge(target: URL, dispatcher: Dispatcher): Promise<EdgeCounters | null> {
  try {
    const res = await request(new URL('/_edge/metrics', target).href, {
      dispatcher,
      headersTimeout: 5000,
      bodyTimeout: 5000,
    });
    const text = await res.body.text();
    if (res.statusCode !== 200) return null;
    return edgeCounters(text);
  } catch {
    return null;
  }
}

export interface EdgeReport {
  hitRatio: number | null;
  /**
   * The share of requests the edge answered without an upstream request of their own: hits and
   * the requests collapsed onto another's fill (on LL-HLS most playlist and part requests are
   * collapsed, so the hit ratio alone reads far below what the edge spares its origin).
   */
  offload: number | null;
  requests: number;
  hits: number;
  misses: number;
  collapsed: number;
  upstreamRequests: number;
  /**
   * The edge's event-loop delay p99 over the run (ms, the upper bound of its histogram bucket; all
   * processes' samples together), null when the edge does not export it: a high figure with a
   * valid tester says the edge's own turns were long.
   */
  eventLoopDelayP99Ms: number | null;
  /**
   * What the players' CMCD told the edge over the run (null when the edge does not count CMCD):
   * requests with CMCD keys and buffer-starvation signals (`bs`). Viewers sending CMCD (`--cmcd`)
   * flag the first request after each stall, so the signals should match the tester's stalls,
   * less those at the very end of the run (no request after them).
   */
  cmcd: { requests: number; starvations: number } | null;
}

export function edgeDelta(before: EdgeCounters | null, after: EdgeCounters | null): EdgeReport | null {
  if (!after) return null;
  const b: EdgeCounters = before ?? {
    hits: 0,
    misses: 0,
    requests: 0,
    upstreamRequests: 0,
    collapsed: 0,
    loopDelayBuckets: new Map(),
  };
  const hits = after.hits - b.hits;
  const misses = after.misses - b.misses;
  const collapsed = after.collapsed - b.collapsed;
  const requests = after.requests - b.requests || hits + misses + collapsed;
  return {
    hitRatio: requests > 0 ? hits / requests : null,
    offload: requests > 0 ? Math.max(0, 1 - (after.upstreamRequests - b.upstreamRequests) / requests) : null,
    requests,
    hits,
    misses,
    collapsed,
    upstreamRequests: after.upstreamRequests - b.upstreamRequests,
    eventLoopDelayP99Ms: histogramP99Ms(b.loopDelayBuckets, after.loopDelayBuckets),
    cmcd:
      after.cmcdRequests === undefined
        ? null
        : {
            requests: after.cmcdRequests - (b.cmcdRequests ?? 0),
            starvations: (after.cmcdStarvations ?? 0) - (b.cmcdStarvations ?? 0),
          },
  };
}
