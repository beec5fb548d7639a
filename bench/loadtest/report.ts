/**
 * The load-test report: one JSON shape (what --json writes) and its text rendering, plus the
 * one-line progress shown while the run goes.
 */
import type { EdgeReport } from './edge-metrics.js';
import { OBJECT_KINDS, type LoadStats } from './load-stats.js';
import type { ThresholdResult } from './thresholds.js';
import type { AgentReport } from './nats-protocol.js';

export interface Percentiles {
  count: number;
  p50: number | null;
  p95?: number | null;
  p99?: number | null;
}

export interface LoadReport {
  target: string;
  startedAt: string;
  elapsedSec: number;
  config: {
    viewers: number;
    rampSec: number;
    durationSec: number;
    profile: string;
    latencyMs: number;
    workers: number;
    lowLatency: boolean;
    http2: boolean;
    cmcd: string;
    /** `--hevc-share`, when given. */
    hevcShare?: number;
  };
  viewers: { started: number; ended: number; failed: number; peakConcurrent: number };
  startupMs: Percentiles;
  rebufferRatio: number;
  stalls: number;
  stallsPerViewerHour: number;
  stallSec: number;
  playSec: number;
  averageBitrateBps: number;
  switches: number;
  abandons: number;
  /** Video downloads whose response carried an edge's CMSD-Dynamic cap (mb), which the viewers kept to. */
  cmsdCappedDownloads: number;
  /** Preload-hinted parts withdrawn by the server (404), followed by a playlist reload: not errors. */
  preloadHintMisses: number;
  liveLatencySec: Percentiles | null;
  /**
   * Live: how late the newest part reached the viewers (wall clock when first known minus the
   * program date-time where it ends): the chain's own delay, part of the latency no player removes.
   * The latency a player steers (behind the edge it sees) is liveLatencySec less this.
   */
  listingDelaySec?: Percentiles | null;
  requests: { total: number; perSec: number; bytes: number };
  byObject: Record<
    string,
    {
      count: number;
      ttfbMs: { p50: number | null; p99: number | null };
      downloadMs: { p50: number | null; p99: number | null };
    }
  >;
  errors: Record<string, number>;
  /**
   * HLS content steering (the playlist named a steering server): viewers by the Pathway (CDN)
   * they were on when they ended; null without steering.
   */
  pathways: Record<string, number> | null;
  /** A ladder in several video codecs: viewers by the family they played ('avc', 'hevc'); null for one codec. */
  videoFamilies: Record<string, number> | null;
  edge: EdgeReport | null;
  /** Live LL-HLS: how long after its program date-time + duration each part arrived (delivery lag). */
  partLagMs: Percentiles | null;
  loadTester: {
    cpuUserSec: number;
    cpuSystemSec: number;
    cpuSecPer1000Viewers: number;
    /** Cores of tester CPU used on average over the run (start-up and ramp included). */
    cores: number;
    /**
     * The steady cost: tester CPU over the hold (from a second after the ramp ended, every viewer
     * playing, to the end), in cores and µs per request; null when the run stopped in its ramp. With
     * --nats, the agents' hold CPU summed.
     */
    hold: { sec: number; cores: number; cpuUsPerRequest: number } | null;
    maxRssMB: number;
    /** Event-loop delay p99 of the busiest viewer thread (ms). */
    eventLoopDelayP99Ms: number;
    /** The same over the hold alone (ms; null without a hold): whether a late loop was the ramp's. */
    holdEventLoopDelayP99Ms: number | null;
    /** The run counts as a measurement of the target only when the tester kept up (p99 below the limit). */
    valid: boolean;
    warning?: string;
  };
  /** One point a second: viewers, requests/s, stalls, bitrate, latency. */
  timeline: TimelinePoint[];
  /** TTFB per object type, binned (the last edge, -1, is "above 10 s"). */
  ttfbHistograms: Record<string, TtfbHistogram>;
  /** With --nats: each agent's share and its own CPU and event-loop delay. */
  agents?: AgentReport[];
  /** --threshold results, when any were given. */
  thresholds?: ThresholdResult[];
}

/** Above this event-loop delay p99 the tester's own timing, not the target, shapes the numbers. */
export const LOOP_DELAY_LIMIT_MS = 20;

/** The warning of an agent (`loadtest-agent`) that could not keep up with its share. */
export function agentWarning(host: string, agentId: string, loopP99Ms: number): string {
  return `load-test agent ${host} ${agentId.slice(0, 8)} was the bottleneck (event-loop delay p99 ${loopP99Ms} ms ≥ ${LOOP_DELAY_LIMIT_MS} ms): the timings, stalls and latency of its viewers are its own, not the target's; give it fewer viewers or more cores`;
}

export interface ReportMeta {
  target: string;
  startedAt: Date;
  elapsedSec: number;
  config: LoadReport['config'];
  peakConcurrent: number;
  timeline?: TimelinePoint[];
  edge: EdgeReport | null;
  cpu: { user: number; system: number };
  /** Tester CPU (µs) and requests over the hold, and its length. */
  hold: { sec: number; cpuUs: number; requests: number } | null;
  maxRssMB: number;
}

const round = (v: number, d = 3) => Math.round(v * 10 ** d) / 10 ** d;
const r3 = (v: number | null) => (v === null ? null : round(v));

export function buildReport(s: LoadStats, m: ReportMeta): LoadReport {
  const t = s.totals;
  const byObject: LoadReport['byObject'] = {};
  for (const k of OBJECT_KINDS) {
    const count = s.count(`ttfb.${k}`);
    if (count === 0) continue;
    byObject[k] = {
      count,
      ttfbMs: { p50: r3(s.percentileMs(`ttfb.${k}`, 50)), p99: r3(s.percentileMs(`ttfb.${k}`, 99)) },
      downloadMs: { p50: r3(s.percentileMs(`download.${k}`, 50)), p99: r3(s.percentileMs(`download.${k}`, 99)) },
    };
  }
  const viewerHours = (t.playMs + t.stallMs) / 3_600_000;
  const latencyCount = s.count('latency');
  const cpuSec = (m.cpu.user + m.cpu.system) / 1e6;
  const loopP99 = round(s.loopDelayP99Ms, 2);
  const valid = loopP99 < LOOP_DELAY_LIMIT_MS;
  const lagCount = s.count('partLag');
  const ttfbHistograms: Record<string, TtfbHistogram> = {};
  for (const k of OBJECT_KINDS) {
    const h = ttfbHistogram(s, k);
    if (h) ttfbHistograms[k] = h;
  }
  return {
    target: m.target,
    startedAt: m.startedAt.toISOString(),
    elapsedSec: round(m.elapsedSec),
    config: m.config,
    viewers: { started: t.started, ended: t.ended, failed: t.failed, peakConcurrent: m.peakConcurrent },
    startupMs: {
      count: s.count('startup'),
      p50: r3(s.percentileMs('startup', 50)),
      p95: r3(s.percentileMs('startup', 95)),
    },
    rebufferRatio: t.playMs + t.stallMs > 0 ? round(t.stallMs / (t.playMs + t.stallMs), 5) : 0,
    stalls: t.stalls,
    stallsPerViewerHour: viewerHours > 0 ? round(t.stalls / viewerHours) : 0,
    stallSec: round(t.stallMs / 1000),
    playSec: round(t.playMs / 1000),
    averageBitrateBps: t.mediaSec > 0 ? Math.round(t.bitrateSeconds / t.mediaSec) : 0,
    switches: t.switches,
    abandons: t.abandons,
    cmsdCappedDownloads: t.cmsdCapped,
    preloadHintMisses: t.hintMisses,
    liveLatencySec:
      latencyCount > 0
        ? {
            count: latencyCount,
            p50: r3((s.percentileMs('latency', 50) ?? 0) / 1000),
            p95: r3((s.percentileMs('latency', 95) ?? 0) / 1000),
          }
        : null,
    listingDelaySec:
      s.count('listingDelay') > 0
        ? {
            count: s.count('listingDelay'),
            p50: r3((s.percentileMs('listingDelay', 50) ?? 0) / 1000),
            p95: r3((s.percentileMs('listingDelay', 95) ?? 0) / 1000),
          }
        : null,
    requests: { total: s.requests, perSec: m.elapsedSec > 0 ? round(s.requests / m.elapsedSec, 1) : 0, bytes: s.bytes },
    byObject,
    errors: { ...s.errors },
    pathways: Object.keys(s.pathways).length > 0 ? { ...s.pathways } : null,
    videoFamilies: Object.keys(s.videoFamilies).length > 0 ? { ...s.videoFamilies } : null,
    edge: m.edge,
    timeline: m.timeline ?? [],
    ttfbHistograms,
    partLagMs:
      lagCount > 0
        ? {
            count: lagCount,
            p50: r3(s.percentileMs('partLag', 50)),
            p95: r3(s.percentileMs('partLag', 95)),
            p99: r3(s.percentileMs('partLag', 99)),
          }
        : null,
    loadTester: {
      cpuUserSec: round(m.cpu.user / 1e6),
      cpuSystemSec: round(m.cpu.system / 1e6),
      cpuSecPer1000Viewers: t.started > 0 ? round((cpuSec * 1000) / t.started) : 0,
      cores: m.elapsedSec > 0 ? round(cpuSec / m.elapsedSec, 2) : 0,
      hold:
        m.hold && m.hold.sec > 0
          ? {
              sec: round(m.hold.sec, 1),
              cores: round(m.hold.cpuUs / 1e6 / m.hold.sec, 3),
              cpuUsPerRequest: m.hold.requests > 0 ? round(m.hold.cpuUs / m.hold.requests, 1) : 0,
            }
          : null,
      maxRssMB: Math.round(m.maxRssMB),
      eventLoopDelayP99Ms: loopP99,
      holdEventLoopDelayP99Ms: s.holdLoopDelayP99Ms > 0 ? round(s.holdLoopDelayP99Ms, 2) : null,
      valid,
      ...(valid
        ? {}
        : {
            warning:
              `the load tester itself was the bottleneck (event-loop delay p99 ${loopP99} ms ≥ ${LOOP_DELAY_LIMIT_MS} ms): its timings, stalls and latency are not the target's; use more --workers or machines (--nats)` +
              (s.holdLoopDelayP99Ms > 0 && s.holdLoopDelayP99Ms < LOOP_DELAY_LIMIT_MS
                ? `; over the hold alone it kept up (p99 ${round(s.holdLoopDelayP99Ms, 2)} ms): the ramp's start-ups were its limit, which a longer --ramp spreads`
                : ''),
          }),
    },
  };
}

const fmt = (v: number | null | undefined, unit = '', d = 1) =>
  v === null || v === undefined ? '-' : `${v.toFixed(d)}${unit}`;

/**
 * Why a run measured nothing, or undefined when it did: every viewer that started failed (the
 * target refused, answered errors, or served something no viewer could play), so its figures
 * describe no playback and `loadtest` exits non-zero saying so.
 */
export function nothingMeasured(r: LoadReport): string | undefined {
  if (r.viewers.started === 0 || r.viewers.failed < r.viewers.started) return undefined;
  const errors = Object.entries(r.errors)
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
  return `every viewer failed (${errors || 'no error recorded'}): the target did not play, so nothing was measured`;
}

/** "b 612, a 388 viewers at the end (content steering)". */
export function formatPathways(p: Record<string, number>): string {
  const by = Object.entries(p).sort((x, y) => y[1] - x[1]);
  return `${by.map(([k, v]) => `${k} ${v}`).join(', ')} viewers on each Pathway at the end (content steering)`;
}

export function formatReport(r: LoadReport): string {
  const lines = [
    `streamedge loadtest ${r.target}`,
    `  viewers       started ${r.viewers.started}, ended ${r.viewers.ended}, failed ${r.viewers.failed}, peak ${r.viewers.peakConcurrent} (${r.config.workers} worker${r.config.workers === 1 ? '' : 's'}, profile ${r.config.profile}, +${r.config.latencyMs} ms)`,
    `  startup       p50 ${fmt(r.startupMs.p50, ' ms', 0)}  p95 ${fmt(r.startupMs.p95, ' ms', 0)}  (${r.startupMs.count} viewers)`,
    `  rebuffering   ratio ${(r.rebufferRatio * 100).toFixed(3)} %  stalls ${r.stalls} (${r.stallsPerViewerHour.toFixed(1)} per viewer-hour, ${r.stallSec.toFixed(1)} s)`,
    `  bitrate       average ${(r.averageBitrateBps / 1e6).toFixed(2)} Mbit/s  switches ${r.switches} (abandons ${r.abandons})` +
      (r.cmsdCappedDownloads > 0 ? `  capped by the edge (CMSD mb) on ${r.cmsdCappedDownloads} downloads` : ''),
    `  live latency  ${r.liveLatencySec ? `p50 ${fmt(r.liveLatencySec.p50, ' s', 2)}  p95 ${fmt(r.liveLatencySec.p95, ' s', 2)}${r.listingDelaySec ? `  (of which listing delay p50 ${fmt(r.listingDelaySec.p50, ' s', 2)})` : ''}` : 'n/a (VOD)'}`,
    `  requests      ${r.requests.total} (${r.requests.perSec.toFixed(1)}/s), ${(r.requests.bytes / 1e6).toFixed(1)} MB`,
  ];
  for (const [k, o] of Object.entries(r.byObject)) {
    lines.push(
      `    ${k.padEnd(9)} ${String(o.count).padStart(8)}  ttfb p50 ${fmt(o.ttfbMs.p50, ' ms', 2)} p99 ${fmt(o.ttfbMs.p99, ' ms', 2)}  download p50 ${fmt(o.downloadMs.p50, ' ms', 2)} p99 ${fmt(o.downloadMs.p99, ' ms', 2)}`,
    );
  }
  const errs = Object.entries(r.errors);
  lines.push(`  errors        ${errs.length === 0 ? 'none' : errs.map(([k, v]) => `${k} ${v}`).join(', ')}`);
  if (r.pathways) lines.push(`  steering      ${formatPathways(r.pathways)}`);
  if (r.videoFamilies) {
    const by = Object.entries(r.videoFamilies).sort((x, y) => y[1] - x[1] || x[0].localeCompare(y[0]));
    lines.push(
      `  video codecs  ${by.map(([k, v]) => `${k} ${v}`).join(', ')} viewers${r.config.hevcShare !== undefined ? ` (--hevc-share ${r.config.hevcShare})` : ''}`,
    );
  }
  if (r.edge) {
    lines.push(
      `  edge          hit ratio ${r.edge.hitRatio === null ? '-' : (r.edge.hitRatio * 100).toFixed(1) + ' %'}  offload ${r.edge.offload === null ? '-' : (r.edge.offload * 100).toFixed(1) + ' %'}  requests ${r.edge.requests}  upstream ${r.edge.upstreamRequests}  collapsed ${r.edge.collapsed}` +
        (r.edge.eventLoopDelayP99Ms === null ? '' : `  event-loop p99 ≤ ${r.edge.eventLoopDelayP99Ms} ms`),
    );
    if (r.edge.cmcd && r.edge.cmcd.requests > 0) {
      lines.push(
        `  edge CMCD     ${r.edge.cmcd.requests} requests with CMCD, ${r.edge.cmcd.starvations} buffer-starvation signals (the viewers counted ${r.stalls} stalls)`,
      );
    }
  }
  if (r.partLagMs) {
    lines.push(
      `  part arrival  p50 ${fmt(r.partLagMs.p50, ' ms', 0)}  p99 ${fmt(r.partLagMs.p99, ' ms', 0)} after the part's end (program date-time + duration)`,
    );
  }
  lines.push(
    `  load tester   cpu ${(r.loadTester.cpuUserSec + r.loadTester.cpuSystemSec).toFixed(1)} s (${r.loadTester.cores.toFixed(2)} cores, ${r.loadTester.cpuSecPer1000Viewers.toFixed(2)} s per 1000 viewers${r.loadTester.hold ? `; hold ${r.loadTester.hold.cores.toFixed(2)} cores, ${r.loadTester.hold.cpuUsPerRequest.toFixed(1)} µs per request` : ''}), event-loop delay p99 ${r.loadTester.eventLoopDelayP99Ms.toFixed(1)} ms${r.loadTester.holdEventLoopDelayP99Ms === null ? '' : ` (hold ${r.loadTester.holdEventLoopDelayP99Ms.toFixed(1)} ms)`}, rss ${r.loadTester.maxRssMB} MB`,
  );
  for (const a of r.agents ?? []) {
    lines.push(
      `    agent ${a.host} ${a.agentId.slice(0, 8)}  ${a.viewers} viewers, ${a.requests} requests, cpu ${a.cpuSec.toFixed(1)} s (${a.cores.toFixed(2)} cores; hold ${a.holdCores.toFixed(2)}), event-loop p99 ${a.eventLoopDelayP99Ms.toFixed(1)} ms, rss ${a.maxRssMB} MB`,
    );
  }
  if (r.loadTester.warning) lines.push(`  WARNING       ${r.loadTester.warning}`);
  for (const a of r.agents ?? []) if (a.warning) lines.push(`  WARNING       ${a.warning}`);
  for (const t of r.thresholds ?? []) {
    lines.push(`  threshold     ${t.ok ? 'ok  ' : 'FAIL'} ${t.threshold} (actual ${t.actualText})`);
  }
  return lines.join('\n') + '\n';
}

export interface ProgressSnapshot {
  elapsedSec: number;
  started: number;
  playing: number;
  ended: number;
  requests: number;
  stalls: number;
  errors: number;
  /** Cumulative: Σ bitrate × media seconds, media seconds, Σ latency and its sample count. */
  bitrateSeconds: number;
  mediaSec: number;
  latencySumSec: number;
  latencySamples: number;
}

/** The counters a viewer thread reports once a second (everything but the elapsed time). */
export type ProgressCounters = Omit<ProgressSnapshot, 'elapsedSec'>;

/** Counters of a run that has not started: the identity for summing several runs' counters. */
export function zeroProgressCounters(): ProgressCounters {
  return {
    started: 0,
    playing: 0,
    ended: 0,
    requests: 0,
    stalls: 0,
    errors: 0,
    bitrateSeconds: 0,
    mediaSec: 0,
    latencySumSec: 0,
    latencySamples: 0,
  };
}

export function progressCounters(s: LoadStats): ProgressCounters {
  const t = s.totals;
  return {
    started: t.started,
    playing: t.playing,
    ended: t.ended,
    requests: s.requests,
    stalls: t.stalls,
    errors: Object.values(s.errors).reduce((a, b) => a + b, 0),
    bitrateSeconds: t.bitrateSeconds,
    mediaSec: t.mediaSec,
    latencySumSec: t.latencySumSec,
    latencySamples: t.latencySamples,
  };
}

/** One second of the run, for the HTML report's charts. */
export interface TimelinePoint {
  t: number;
  playing: number;
  requestsPerSec: number;
  /** Stalls counted so far. */
  stalls: number;
  errors: number;
  /** Mean bitrate of the video downloaded in this second (bit/s), null if none. */
  bitrateBps: number | null;
  /** Mean live latency of this second's samples (s), null if none. */
  latencySec: number | null;
}

export function timelinePoint(cur: ProgressSnapshot, prev: ProgressSnapshot | undefined): TimelinePoint {
  const dt = cur.elapsedSec - (prev?.elapsedSec ?? 0);
  const dMedia = cur.mediaSec - (prev?.mediaSec ?? 0);
  const dLat = cur.latencySamples - (prev?.latencySamples ?? 0);
  return {
    t: round(cur.elapsedSec, 2),
    playing: cur.playing,
    requestsPerSec: dt > 0 ? round((cur.requests - (prev?.requests ?? 0)) / dt, 1) : 0,
    stalls: cur.stalls,
    errors: cur.errors,
    bitrateBps: dMedia > 0 ? Math.round((cur.bitrateSeconds - (prev?.bitrateSeconds ?? 0)) / dMedia) : null,
    latencySec: dLat > 0 ? round((cur.latencySumSec - (prev?.latencySumSec ?? 0)) / dLat) : null,
  };
}

/** A TTFB distribution as log-spaced bins (upper edges in ms) with their counts. */
export interface TtfbHistogram {
  edgesMs: number[];
  counts: number[];
}

/** Bins from the HDR histogram's quantiles: each of 400 quantiles stands for 1/400 of the samples. */
function ttfbHistogram(s: LoadStats, kind: string): TtfbHistogram | undefined {
  const n = s.count(`ttfb.${kind}`);
  if (n === 0) return undefined;
  const edgesMs = [0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000, Infinity];
  const counts = edgesMs.map(() => 0);
  const Q = 400;
  for (let i = 0; i < Q; i++) {
    const v = s.percentileMs(`ttfb.${kind}`, ((i + 0.5) * 100) / Q) ?? 0;
    const bin = edgesMs.findIndex((e) => v <= e);
    counts[bin] += n / Q;
  }
  return { edgesMs: edgesMs.map((e) => (Number.isFinite(e) ? e : -1)), counts: counts.map((c) => Math.round(c)) };
}

export function progressLine(
  p: ProgressSnapshot,
  totalViewers: number,
  prevRequests: number,
  intervalSec: number,
): string {
  const rate = intervalSec > 0 ? (p.requests - prevRequests) / intervalSec : 0;
  return `t=${p.elapsedSec.toFixed(0)}s viewers ${p.started}/${totalViewers} playing ${p.playing} ended ${p.ended}  req/s ${rate.toFixed(0)}  stalls ${p.stalls}  errors ${p.errors}`;
}
