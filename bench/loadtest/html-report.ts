/**
 * `--html report.html`: the load-test report as one self-contained page, for people to read at
 * a glance. No external fetches: the charts are inline SVG built here (time series of viewers,
 * requests/s, stalls, bitrate and latency; TTFB histograms per object type), the styles inline,
 * the data also embedded as JSON for anyone who wants to re-plot it.
 */
import { formatPathways, type LoadReport, type TimelinePoint, type TtfbHistogram } from './report.js';

const W = 560;
const H = 180;
const PAD = { l: 56, r: 12, t: 24, b: 28 };

const esc = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

function niceMax(v: number): number {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (v <= m * p) return m * p;
  return 10 * p;
}

const fmtNum = (v: number) =>
  Math.abs(v) >= 1e6
    ? `${+(v / 1e6).toFixed(2)}M`
    : Math.abs(v) >= 1e3
      ? `${+(v / 1e3).toFixed(1)}k`
      : `${+v.toFixed(2)}`;

/** A line chart of one timeline series (gaps where the value is null). */
function lineChart(id: string, title: string, unit: string, points: { x: number; y: number | null }[]): string {
  const xs = points.map((p) => p.x);
  const xMax = Math.max(1, ...xs);
  const yMax = niceMax(Math.max(0, ...points.map((p) => p.y ?? 0)));
  const sx = (x: number) => PAD.l + (x / xMax) * (W - PAD.l - PAD.r);
  const sy = (y: number) => H - PAD.b - (y / yMax) * (H - PAD.t - PAD.b);
  let d = '';
  let pen = false;
  for (const p of points) {
    if (p.y === null) {
      pen = false;
      continue;
    }
    d += `${pen ? 'L' : 'M'}${sx(p.x).toFixed(1)},${sy(p.y).toFixed(1)}`;
    pen = true;
  }
  const ticks = [0, 0.5, 1]
    .map((f) => {
      const y = sy(yMax * f);
      return `<line x1="${PAD.l}" x2="${W - PAD.r}" y1="${y}" y2="${y}" class="grid"/><text x="${PAD.l - 6}" y="${y + 4}" text-anchor="end">${fmtNum(yMax * f)}</text>`;
    })
    .join('');
  const xTicks = [0, 0.5, 1]
    .map((f) => `<text x="${sx(xMax * f)}" y="${H - 8}" text-anchor="middle">${Math.round(xMax * f)} s</text>`)
    .join('');
  return `<figure class="chart" data-chart="${id}"><svg viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${esc(title)}">
<text x="${PAD.l}" y="16" class="title">${esc(title)}${unit ? ` (${esc(unit)})` : ''}</text>${ticks}${xTicks}
<path class="series" d="${d}"/></svg></figure>`;
}

/** A bar chart of one TTFB histogram. */
function histogramChart(kind: string, h: TtfbHistogram): string {
  const n = h.counts.length;
  const cMax = niceMax(Math.max(1, ...h.counts));
  const bw = (W - PAD.l - PAD.r) / n;
  const bars = h.counts
    .map((c, i) => {
      const bh = (c / cMax) * (H - PAD.t - PAD.b);
      const label =
        h.edgesMs[i] < 0 ? '>10s' : `≤${h.edgesMs[i] >= 1000 ? `${h.edgesMs[i] / 1000}s` : `${h.edgesMs[i]}`}`;
      return `<rect class="bar" x="${(PAD.l + i * bw + 1).toFixed(1)}" y="${(H - PAD.b - bh).toFixed(1)}" width="${(bw - 2).toFixed(1)}" height="${bh.toFixed(1)}"><title>${label} ms: ${c}</title></rect>${
        i % 2 === 0
          ? `<text x="${(PAD.l + (i + 0.5) * bw).toFixed(1)}" y="${H - 8}" text-anchor="middle">${label}</text>`
          : ''
      }`;
    })
    .join('');
  return `<figure class="chart" data-chart="ttfb-${esc(kind)}"><svg viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="TTFB ${esc(kind)}">
<text x="${PAD.l}" y="16" class="title">TTFB, ${esc(kind)} (requests per bin, ms)</text>
<text x="${PAD.l - 6}" y="${PAD.t + 4}" text-anchor="end">${fmtNum(cMax)}</text>${bars}</svg></figure>`;
}

function row(k: string, v: string): string {
  return `<tr><th>${esc(k)}</th><td>${esc(v)}</td></tr>`;
}

export function renderHtmlReport(r: LoadReport): string {
  const tl: TimelinePoint[] = r.timeline;
  const series = (f: (p: TimelinePoint) => number | null) => tl.map((p) => ({ x: p.t, y: f(p) }));
  const charts = [
    lineChart(
      'viewers',
      'Viewers playing',
      '',
      series((p) => p.playing),
    ),
    lineChart(
      'requests',
      'Requests per second',
      '',
      series((p) => p.requestsPerSec),
    ),
    lineChart(
      'stalls',
      'Stalls so far',
      '',
      series((p) => p.stalls),
    ),
    lineChart(
      'bitrate',
      'Video bitrate downloaded',
      'bit/s',
      series((p) => p.bitrateBps),
    ),
    lineChart(
      'latency',
      'Live latency',
      's',
      series((p) => p.latencySec),
    ),
  ];
  const histograms = Object.entries(r.ttfbHistograms).map(([k, h]) => histogramChart(k, h));
  const lt = r.loadTester;
  const summary = [
    row('target', r.target),
    row('started', r.startedAt),
    row('viewers', `${r.viewers.started} started, ${r.viewers.failed} failed, peak ${r.viewers.peakConcurrent}`),
    row('stalls', `${r.stalls} (rebuffering ${(r.rebufferRatio * 100).toFixed(3)} %)`),
    row('startup', `p50 ${r.startupMs.p50 ?? '-'} ms, p95 ${r.startupMs.p95 ?? '-'} ms`),
    row(
      'bitrate',
      `${(r.averageBitrateBps / 1e6).toFixed(2)} Mbit/s average, ${r.switches} switches` +
        (r.cmsdCappedDownloads > 0 ? `, capped by the edge (CMSD mb) on ${r.cmsdCappedDownloads} downloads` : ''),
    ),
    row(
      'live latency',
      r.liveLatencySec ? `p50 ${r.liveLatencySec.p50} s, p95 ${r.liveLatencySec.p95} s` : 'n/a (VOD)',
    ),
    row('requests', `${r.requests.total} (${r.requests.perSec}/s)`),
    row(
      'errors',
      Object.keys(r.errors).length === 0
        ? 'none'
        : Object.entries(r.errors)
            .map(([k, v]) => `${k} ${v}`)
            .join(', '),
    ),
    ...(r.pathways ? [row('steering', formatPathways(r.pathways))] : []),
    row(
      'edge hit ratio',
      r.edge
        ? r.edge.hitRatio === null
          ? '-'
          : `${(r.edge.hitRatio * 100).toFixed(1)} %`
        : 'edge metrics not reachable',
    ),
    ...(r.edge && r.edge.offload !== null
      ? [row('edge offload (not sent upstream)', `${(r.edge.offload * 100).toFixed(1)} %`)]
      : []),
    ...(r.edge?.cmcd && r.edge.cmcd.requests > 0
      ? [
          row(
            'edge CMCD',
            `${r.edge.cmcd.requests} requests with CMCD, ${r.edge.cmcd.starvations} buffer-starvation signals (the viewers counted ${r.stalls} stalls)`,
          ),
        ]
      : []),
    row(
      'load tester',
      `${(lt.cpuUserSec + lt.cpuSystemSec).toFixed(1)} CPU s (${lt.cores} cores), event-loop delay p99 ${lt.eventLoopDelayP99Ms} ms`,
    ),
    ...(r.thresholds ?? []).map((t) =>
      row(`threshold ${t.threshold}`, `${t.ok ? 'ok' : 'FAIL'} (actual ${t.actualText})`),
    ),
  ].join('');
  const hit =
    r.edge && r.edge.hitRatio !== null
      ? `<figure class="chart" data-chart="hit-ratio"><svg viewBox="0 0 ${W} 48" width="${W}" height="48" role="img" aria-label="edge hit ratio">
<text x="0" y="14" class="title">Edge hit ratio ${(r.edge.hitRatio * 100).toFixed(1)} %, offload ${r.edge.offload === null ? '-' : `${(r.edge.offload * 100).toFixed(1)} %`} (${r.edge.requests} requests, ${r.edge.collapsed} collapsed, ${r.edge.upstreamRequests} upstream)</text>
<rect x="0" y="22" width="${W}" height="18" class="track"/><rect x="0" y="22" width="${(W * r.edge.hitRatio).toFixed(1)}" height="18" class="bar"/></svg></figure>`
      : '';
  const warning = lt.warning ? `<p class="warn">${esc(lt.warning)}</p>` : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>streamedge loadtest ${esc(r.target)}</title>
<style>
body{font:14px system-ui,sans-serif;margin:24px;color:#222;max-width:1200px}
h1{font-size:18px} table{border-collapse:collapse;margin-bottom:16px} th{text-align:left;padding:2px 12px 2px 0;color:#555;font-weight:normal} td{padding:2px 0}
.charts{display:flex;flex-wrap:wrap;gap:12px} figure{margin:0;border:1px solid #ddd;border-radius:4px;padding:4px}
svg text{font-size:11px;fill:#555} svg .title{font-size:12px;fill:#222}
.grid{stroke:#eee} .series{fill:none;stroke:#1f6feb;stroke-width:1.5} .bar{fill:#1f6feb} .track{fill:#eee}
.warn{background:#fff3cd;border:1px solid #e0c060;padding:8px}
</style></head><body>
<h1>streamedge loadtest</h1>${warning}
<table>${summary}</table>
${hit}
<h2>Over time</h2><div class="charts">${charts.join('\n')}</div>
<h2>Time to first byte</h2><div class="charts">${histograms.join('\n')}</div>
<script type="application/json" id="report-data">${JSON.stringify(r).replace(/</g, '\\u003c')}</script>
</body></html>
`;
}
