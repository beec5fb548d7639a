/**
 * The edge's CMCD metrics (edge/cmcd-metrics.ts): requests and starvation signals by object type,
 * sessions playing and starved, starvation signals per ended session; bounded session table; a
 * multi-worker edge's workers relaying their sessions to one table (edge/cmcd-sessions.ts), and the
 * per-session view of /_edge/cmcd/sessions.
 */
import { describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { CmcdMetrics } from '../../../edge/cmcd-metrics.js';
import { MAX_SESSIONS, SESSION_IDLE_MS, sessionReport } from '../../../edge/cmcd-sessions.js';
import type { CmcdLogFields } from '../../../src/http/cmcd.js';

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

describe('CMCD sessions across the workers of one edge', () => {
  /** A store process's CmcdMetrics and two workers' (relayed), on one clock. */
  function cluster() {
    let t = 1_000_000;
    const clock = () => t;
    const store = new Registry();
    const m = new CmcdMetrics(store, clock);
    const workers = [0, 1].map(() => {
      const r = new Registry();
      return { r, m: new CmcdMetrics(r, clock, true) };
    });
    /** What the store clients do every second and before each scrape. */
    const report = () => {
      for (const w of workers) {
        const rep = w.m.takeReport();
        // through JSON, as on the wire
        if (rep) m.merge(sessionReport(JSON.parse(JSON.stringify(rep))));
      }
    };
    return { store, m, workers, report, advance: (ms: number) => (t += ms) };
  }

  it('counts a session once however many workers its requests reached, and exactly its signals', async () => {
    const c = cluster();
    const one = setup(); // the same requests on a single-process edge
    const requests: [number, CmcdLogFields][] = [
      [0, { sid: 'both', ot: 'v', br: 990 }],
      [1, { sid: 'both', ot: 'v', bs: true, bl: 0 }],
      [0, { sid: 'both', ot: 'a', bs: true }],
      [1, { sid: 'lone', ot: 'm', cid: 'sample' }],
    ];
    for (const [w, f] of requests) {
      c.workers[w].m.note(f);
      one.m.note(f);
    }
    // a worker has no session gauges of its own (the summed scrape would count it again)
    expect(await series(c.workers[0].r, 'edge_cmcd_sessions')).toEqual([]);
    expect(await series(c.workers[0].r, 'edge_cmcd_session_starvations')).toEqual([]);
    expect(c.workers[1].m.view({ limit: 10 }).list).toEqual([]);
    c.report();
    expect(await value(c.store, 'edge_cmcd_sessions')).toBe(2);
    expect(await value(c.store, 'edge_cmcd_starved_sessions')).toBe(1);
    expect(c.m.view({ limit: 10 })).toEqual(one.m.view({ limit: 10 }));
    const both = c.m.view({ limit: 10, sid: 'both' }).list[0];
    expect(both).toMatchObject({ sid: 'both', requests: 3, starvations: 2, br: 990, bl: 0 });
    // the next second's report adds to the same sessions; an idle minute ends each once
    c.workers[0].m.note({ sid: 'both', ot: 'v' });
    c.report();
    expect(c.m.view({ limit: 10, sid: 'both' }).list[0].requests).toBe(4);
    expect(c.workers[0].m.takeReport()).toBeUndefined(); // taken: nothing new since
    c.advance(SESSION_IDLE_MS + 1);
    const ended = await endedSessions(c.store);
    expect(ended.count).toBe(2);
    expect(ended.buckets.get(0)).toBe(1); // lone
    expect(ended.buckets.get(1)).toBe(1); // both: 2 signals, above 1
    expect(await value(c.store, 'edge_cmcd_sessions')).toBe(0);
  });

  it('shows the sessions with the most starvation first, their latest CMCD values and times', () => {
    const { m, advance } = setup();
    m.note({ sid: 'calm', ot: 'v', cid: 'news', st: 'l', sf: 'h', br: 3000, bl: 8000, mtp: 12000 });
    m.note({ sid: 'rough', ot: 'v', bs: true, br: 3000 });
    advance(2000);
    m.note({ sid: 'rough', ot: 'v', bs: true, br: 990, bl: 300 });
    m.note({ sid: 'once', ot: 'v', bs: true });
    advance(500);
    const v = m.view({ limit: 10 });
    expect(v).toMatchObject({ windowSec: SESSION_IDLE_MS / 1000, sessions: 3, starvedSessions: 2 });
    expect(v.list.map((s) => s.sid)).toEqual(['rough', 'once', 'calm']);
    expect(v.list[0]).toEqual({
      sid: 'rough',
      requests: 2,
      starvations: 2,
      startedSecAgo: 2.5,
      lastSeenSecAgo: 0.5,
      lastStarvedSecAgo: 0.5,
      br: 990,
      bl: 300,
    });
    expect(v.list[2]).toMatchObject({ cid: 'news', st: 'l', sf: 'h', mtp: 12000, starvations: 0 });
    expect(v.list[2].lastStarvedSecAgo).toBeUndefined();
    expect(m.view({ limit: 1 }).list.map((s) => s.sid)).toEqual(['rough']);
    expect(m.view({ limit: 10, starvedOnly: true }).list.map((s) => s.sid)).toEqual(['rough', 'once']);
    expect(m.view({ limit: 10, sid: 'nobody' }).list).toEqual([]);
  });

  it('takes only well-formed sessions from a report', () => {
    const good = { sid: 'a', first: 1, last: 2, requests: 1, starvations: 0, lastStarved: 0, br: 990, cid: 'x' };
    expect(
      sessionReport([
        good,
        { ...good, sid: '' },
        { ...good, sid: 'x'.repeat(65) },
        { ...good, requests: -1 },
        { ...good, last: 'soon' },
        { ...good, br: 'fast' },
        null,
        7,
      ]),
    ).toEqual([good, { sid: 'a', first: 1, last: 2, requests: 1, starvations: 0, lastStarved: 0, cid: 'x' }]);
    expect(sessionReport({ sid: 'a' })).toEqual([]);
  });
});
