/**
 * Turns bench/results/*.json into the README's figures table, so the table cannot drift from the
 * JSON. Every ratio a bench recorded is listed (a numeric field whose key, or a parent's key, is
 * `ratio`, `ratios` or `ratio…`), the unflattering ones first, with the run size and the load
 * average the bench recorded in its `machine` block (bench/machine-info.ts).
 */

export interface BenchResult {
  file: string;
  json: Record<string, unknown>;
}

export type Verdict = 'worse' | 'better' | 'even' | '';

export interface RatioRow {
  path: string;
  value: number;
  verdict: Verdict;
}

const RUN_SIZE_KEYS = [
  'requests',
  'requested',
  'connections',
  'clients',
  'viewers',
  'hlsViewers',
  'llViewers',
  'objects',
  'entries',
  'rounds',
  'sessions',
  'durationSeconds',
  'durationS',
  'seconds',
  'benchSeconds',
];

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isRatioKey = (k: string): boolean => /^ratios?$/i.test(k) || /^ratios?[A-Z]/.test(k);

/** How to read a ratio from its name: which way is good. Absolute figures (µs, ms) get no verdict. */
export function direction(key: string): 'higher' | 'lower' | undefined {
  if (/(Us|Ms)$/.test(key)) return undefined;
  if (/requestsPerSecond|bytesPerSecond|Rps|Capacity|offload|bitrate|^put|^get|hitRatio|WithBytes/i.test(key))
    return 'higher';
  if (
    /latency|ttfb|startup|stall|rebuffer|cpu|cores|flush|wakeup|over|requests|firstByte|baseline|switches|^ratio$/i.test(
      key,
    )
  )
    return 'lower';
  return undefined;
}

function verdictOf(key: string, value: number): Verdict {
  const d = direction(key);
  if (!d) return '';
  if (Math.abs(value - 1) < 0.005) return 'even';
  return (d === 'higher') === value > 1 ? 'better' : 'worse';
}

/** A label for an array element: its name, trace or object size, else its index. */
function elementLabel(v: unknown, i: number): string {
  if (isRecord(v)) {
    for (const k of ['name', 'trace', 'target']) if (typeof v[k] === 'string') return v[k];
    if (typeof v.objectBytes === 'number') return `${v.objectBytes} B`;
  }
  return String(i);
}

/** Every ratio in a result, unflattering first, then by path. */
export function ratiosOf(json: unknown): RatioRow[] {
  const rows: RatioRow[] = [];
  const walk = (v: unknown, path: string[], underRatio: boolean): void => {
    if (Array.isArray(v)) {
      v.forEach((x, i) => walk(x, [...path, `[${elementLabel(x, i)}]`], underRatio));
    } else if (isRecord(v)) {
      for (const [k, x] of Object.entries(v)) {
        if (k === 'machine' || k === 'series') continue;
        walk(x, [...path, k], underRatio || isRatioKey(k));
      }
    } else if (typeof v === 'number' && Number.isFinite(v) && underRatio) {
      const key = path[path.length - 1] ?? '';
      const named = isRatioKey(key) ? path.slice(-2).join('.') : key;
      rows.push({ path: path.join('.').replace(/\.\[/g, '['), value: v, verdict: verdictOf(named, v) });
    }
  };
  walk(json, [], false);
  const rank: Record<Verdict, number> = { worse: 0, '': 1, even: 2, better: 3 };
  return rows.sort((a, b) => rank[a.verdict] - rank[b.verdict] || a.path.localeCompare(b.path));
}

/** The run size: the first (shallowest) occurrence of each size field. */
export function runSizeOf(json: unknown): string {
  const found = new Map<string, number>();
  let level: { v: unknown; depth: number }[] = [{ v: json, depth: 0 }];
  while (level.length > 0 && found.size < 6) {
    const next: typeof level = [];
    for (const { v, depth } of level) {
      if (depth > 4) continue;
      const entries = Array.isArray(v)
        ? v.map((x, i) => [String(i), x] as const)
        : isRecord(v)
          ? Object.entries(v)
          : [];
      for (const [k, x] of entries) {
        if (k === 'machine') continue;
        if (typeof x === 'number' && RUN_SIZE_KEYS.includes(k) && !found.has(k)) found.set(k, x);
        else if (typeof x === 'object' && x !== null) next.push({ v: x, depth: depth + 1 });
      }
    }
    level = next;
  }
  return RUN_SIZE_KEYS.filter((k) => found.has(k))
    .map((k) => `${k} ${found.get(k)!}`)
    .join(', ');
}

function loadOf(json: Record<string, unknown>): string {
  const m = json.machine;
  if (!isRecord(m)) return 'not recorded';
  const first = (x: unknown): string => (Array.isArray(x) && typeof x[0] === 'number' ? x[0].toFixed(1) : '?');
  const cpus = typeof m.cpus === 'number' ? ` on ${m.cpus} cores` : '';
  if (m.loadAverageBefore === null && m.loadAverageAfter === null) return `not recorded${cpus}`;
  return `${first(m.loadAverageBefore)} → ${first(m.loadAverageAfter)}${cpus}`;
}

function fmt(x: number): string {
  return Math.abs(x) >= 100 ? x.toFixed(0) : Math.abs(x) >= 10 ? x.toFixed(1) : x.toFixed(3).replace(/\.?0+$/, '');
}

/** The markdown table: one row per ratio, grouped by bench. */
export function renderFigures(results: BenchResult[]): string {
  const lines = [
    '| bench (file) | ratio | value | reads as | run size | load average (1 min, before → after) |',
    '|---|---|---|---|---|---|',
  ];
  for (const { file, json } of [...results].sort((a, b) => a.file.localeCompare(b.file))) {
    const rows = ratiosOf(json);
    const size = runSizeOf(json) || '—';
    const load = loadOf(json);
    if (rows.length === 0) {
      lines.push(`| \`${file}\` | (no ratio recorded) | | | ${size} | ${load} |`);
      continue;
    }
    rows.forEach((r, i) => {
      const head = i === 0 ? `\`${file}\`` : '';
      const tail = i === 0 ? `${size} | ${load}` : ' | ';
      lines.push(`| ${head} | ${r.path} | ${fmt(r.value)} | ${r.verdict} | ${tail} |`);
    });
  }
  return lines.join('\n') + '\n';
}
