/** The bench's readable summary: one block per trace, ours beside hls.js. */
import type { LiveQoe, VodQoe } from './qoe-metrics.js';

type Cell = VodQoe | LiveQoe | { error: string } | undefined;

const mbps = (x: unknown) => (typeof x === 'number' ? `${(x / 1e6).toFixed(2)} Mb/s` : '–');
const num = (d: number) => (x: unknown) => (typeof x === 'number' ? x.toFixed(d) : '–');
const pct = (x: unknown) => (typeof x === 'number' ? `${(x * 100).toFixed(2)} %` : '–');
const ms = (x: unknown) => (typeof x === 'number' ? `${Math.round(x)} ms` : '–');
const sec = (x: unknown) => (typeof x === 'number' ? `${x.toFixed(2)} s` : '–');

const VOD_ROWS: [string, string, (x: unknown) => string][] = [
  ['played avg bitrate', 'playedAvgBitrateBps', mbps],
  ['engine avg bitrate', 'engineAvgBitrateBps', mbps],
  ['time on top rung', 'playedTopShare', pct],
  ['rebuffer ratio', 'rebufferRatio', pct],
  ['stalls', 'stalls', num(0)],
  ['stall time', 'stallMs', ms],
  ['frozen playhead', 'frozenMs', ms],
  ['played switches', 'playedSwitches', num(0)],
  ['engine switches', 'engineSwitches', num(0)],
  ['startup', 'startupMs', ms],
  ['aborted downloads', 'abortedVideoDownloads', num(0)],
  ['video MB fetched', 'videoBytes', (x) => (typeof x === 'number' ? (x / 1e6).toFixed(1) : '–')],
];

const LIVE_ROWS: [string, string, (x: unknown) => string][] = [
  ['latency p50 (PDT)', 'wallClockLatencyP50', sec],
  ['latency p95 (PDT)', 'wallClockLatencyP95', sec],
  ['latency at start', 'wallClockLatencyAtStart', sec],
  ['engine latency p50', 'engineLatencyP50', sec],
  ['engine latency p95', 'engineLatencyP95', sec],
  ['engine avg bitrate', 'engineAvgBitrateBps', mbps],
  ['rebuffer ratio', 'rebufferRatio', pct],
  ['stalls', 'stalls', num(0)],
  ['startup', 'startupMs', ms],
  ['avg playback rate', 'avgPlaybackRate', num(3)],
];

function block(title: string, rows: typeof VOD_ROWS, ours: Cell, theirs: Cell): string {
  const lines = [
    `${title}`,
    `  ${'metric'.padEnd(22)}${'ours'.padStart(14)}${'hls.js'.padStart(14)}${'ours/hls.js'.padStart(13)}`,
  ];
  const get = (c: Cell, k: string): unknown =>
    c && !('error' in c) ? (c as unknown as Record<string, unknown>)[k] : undefined;
  for (const [label, key, fmt] of rows) {
    const a = get(ours, key);
    const b = get(theirs, key);
    const ratio = typeof a === 'number' && typeof b === 'number' && b !== 0 ? (a / b).toFixed(2) : '–';
    lines.push(`  ${label.padEnd(22)}${fmt(a).padStart(14)}${fmt(b).padStart(14)}${ratio.padStart(13)}`);
  }
  for (const [name, c] of [
    ['ours', ours],
    ['hls.js', theirs],
  ] as const) {
    if (c && 'error' in c) lines.push(`  ${name} FAILED: ${c.error}`);
    else if (c && (c.pageErrors.length || c.failedRequests.length)) {
      lines.push(`  ${name} page errors: ${[...c.failedRequests, ...c.pageErrors].slice(0, 4).join(' | ')}`);
    }
  }
  return lines.join('\n');
}

export function vodTable(trace: string, about: string, ours: Cell, theirs: Cell): string {
  return block(`VOD · ${trace} (${about})`, VOD_ROWS, ours, theirs);
}

export function liveTable(trace: string, about: string, ours: Cell, theirs: Cell): string {
  return block(`LIVE LL-HLS · ${trace} (${about})`, LIVE_ROWS, ours, theirs);
}
