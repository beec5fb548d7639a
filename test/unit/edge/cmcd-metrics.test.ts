/**
 * The edge's CMCD metrics (edge/cmcd-metrics.ts): requests and starvation signals by object type,
 * sessions playing and starved, starvation signals per ended session; bounded session table.
 */
import { describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { CmcdMetrics, MAX_SESSIONS, SESSION_IDLE_MS } from '../../../edge/cmcd-metrics.js';

interface Series {
  labels: Record<string, string | number>;
  value: number;
  metricName?: string;
}

async function series(r: Registry, name: string): Promise<Series[]> {
  const all = (await r.getMetricsAsJSON()) as unknown as { name: string; values: Series[] }[];
  return all.find((m) => m.name === name)?.values ?? [];
}

async function value(r: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const s = (await series(r, name)).find((v) =>
    Object.entries(labels).every(([k, want]) => String(v.labels[k]) === want),
  );
  return s?.value ?? 0;
}

/** The ended-session histogram: bucket upper bound → cumulative count, and the count. */
async function endedSessions(r: Registry): Promise<{ buckets: Map<number, number>; count: number }> {
  const buckets = new Map<number, number>();
  let count = 0;
  for (const v of await series(r, 'edge_cmcd_session_starvations')) {
    if (v.metricName?.endsWith('_bucket'))
      buckets.set(v.labels.le === '+Inf' ? Infinity : Number(v.labels.le), v.value);
    if (v.metricName?.endsWith('_count')) count = v.value;
  }
  return { buckets, count };
}

function setup() {
  let t = 1_000_000;
  const r = new Registry();
  const m = new CmcdMetrics(r, () => t);
  return { r, m, advance: (ms: number) => (t += ms) };
}

describe('CMCD metrics of the edge', () => {
  it('counts requests and starvation signals by object type, unknown types as other', async () => {
    const { r, m } = setup();
    m.note({ sid: 'a', ot: 'v' });
    m.note({ sid: 'a', ot: 'v', bs: true });
    m.note({ sid: 'a', ot: 'm' });
    m.note({ sid: 'b', ot: 'zz' });
    m.note({ bs: true });
    expect(await value(r, 'edge_cmcd_requests_total', { ot: 'v' })).toBe(2);
    expect(await value(r, 'edge_cmcd_requests_total', { ot: 'm' })).toBe(1);
    expect(await value(r, 'edge_cmcd_requests_total', { ot: 'other' })).toBe(1);
    expect(await value(r, 'edge_cmcd_requests_total', { ot: 'none' })).toBe(1);
    expect(await value(r, 'edge_cmcd_buffer_starvation_total', { ot: 'v' })).toBe(1);
    expect(await value(r, 'edge_cmcd_buffer_starvation_total', { ot: 'none' })).toBe(1);
    expect((await series(r, 'edge_cmcd_requests_total')).map((s) => s.labels.ot)).not.toContain('zz');
  });

  it('gauges the sessions playing and those that starved within the idle window', async () => {
    const { r, m, advance } = setup();
    m.note({ sid: 'a', ot: 'v' });
    m.note({ sid: 'b', ot: 'v' });
    m.note({ sid: 'b', ot: 'a', bs: true });
    expect(await value(r, 'edge_cmcd_sessions')).toBe(2);
    expect(await value(r, 'edge_cmcd_starved_sessions')).toBe(1);
    // b keeps playing without starving: after the window it counts as playing, not starved
    advance(SESSION_IDLE_MS - 1000);
    m.note({ sid: 'b', ot: 'v' });
    advance(2000);
    expect(await value(r, 'edge_cmcd_sessions')).toBe(1); // a went idle and ended
    expect(await value(r, 'edge_cmcd_starved_sessions')).toBe(0);
  });

  it('observes the starvation signals of each session when it ends', async () => {
    const { r, m, advance } = setup();
    m.note({ sid: 'calm', ot: 'v' });
    for (let i = 0; i < 3; i++) {
      m.note({ sid: 'rough', ot: 'v', bs: true });
      m.note({ sid: 'rough', ot: 'v' });
    }
    expect((await endedSessions(r)).count).toBe(0); // both still playing
    advance(SESSION_IDLE_MS + 1);
    const { buckets, count } = await endedSessions(r);
    expect(count).toBe(2);
    expect(buckets.get(0)).toBe(1); // calm: no starvation
    expect(buckets.get(2)).toBe(1); // rough: 3 signals, above 2
    expect(buckets.get(3)).toBe(2);
    expect(await value(r, 'edge_cmcd_sessions')).toBe(0);
  });

  it('keeps at most MAX_SESSIONS, ending the least recently active one first', async () => {
    const { r, m } = setup();
    for (let i = 0; i < MAX_SESSIONS; i++) m.note({ sid: `s${i}` });
    m.note({ sid: 's0', bs: true }); // s0 active again: s1 is now the oldest
    m.note({ sid: 'new' });
    expect(await value(r, 'edge_cmcd_sessions')).toBe(MAX_SESSIONS);
    const { buckets, count } = await endedSessions(r);
    expect(count).toBe(1);
    expect(buckets.get(0)).toBe(1); // the one ended (s1) had no starvation; s0's is still tracked
    expect(await value(r, 'edge_cmcd_starved_sessions')).toBe(1);
  });
});
