/**
 * The store process's CMCD session table over its real Unix socket, with two raw links speaking
 * frames.ts as two workers would: periodic reports merged into one table, a view request that first
 * asks every worker for its latest activity (FlushCmcd), and a worker that never answers, which
 * delays the view and the metrics by GATHER_MS at most instead of hanging them.
 */
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { CmcdMetrics, type CmcdSessionsView } from '../../../edge/cmcd-metrics.js';
import { Frame, json } from '../../../edge/cluster/frames.js';
import { GATHER_MS } from '../../../edge/cluster/store-service.js';
import { serviceWithTwoLinks } from './store-link.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setUp() {
  const registry = new Registry();
  const cmcd = new CmcdMetrics(registry, Date.now);
  const { a, b } = await serviceWithTwoLinks({
    prefix: 'store-service-cmcd-',
    defer: (fn) => cleanups.push(fn),
    hooks: {
      own: () => registry.getMetricsAsJSON(),
      merge: () => registry.metrics(),
      cmcdSessions: (report) => cmcd.merge(report),
      cmcdView: (query) => cmcd.view(query),
    },
  });
  return { a, b };
}

const activity = (sid: string, requests: number, starvations: number) => {
  const now = Date.now();
  return { sid, first: now - 1000, last: now, requests, starvations, lastStarved: starvations ? now : 0 };
};

describe('StoreService: the CMCD session table', () => {
  it('merges the workers’ reports, and a view first collects what each worker has not reported yet', async () => {
    const { a, b } = await setUp();
    a.send(Frame.CmcdSessions, 0, { sessions: [activity('s', 3, 1)] });
    a.send(Frame.CmcdView, 7, { limit: 10 });
    // the store process asks both workers for their latest activity before it answers
    const flushA = await a.next((f) => f.type === Frame.FlushCmcd);
    const flushB = await b.next((f) => f.type === Frame.FlushCmcd);
    b.send(Frame.CmcdSessions, flushB.id, { sessions: [activity('s', 2, 0), activity('t', 1, 0)] });
    a.send(Frame.CmcdSessions, flushA.id, { sessions: [] });
    const reply = await a.next((f) => f.type === Frame.Reply && f.id === 7);
    const view = json<{ value: CmcdSessionsView }>(reply.payload).value;
    expect(view.sessions).toBe(2);
    expect(view.starvedSessions).toBe(1);
    expect(view.list.map((s) => [s.sid, s.requests, s.starvations])).toEqual([
      ['s', 5, 1],
      ['t', 1, 0],
    ]);
  });

  it('a worker that never answers delays the view and the metrics by GATHER_MS, not forever', async () => {
    const { a, b } = await setUp();
    b.send(Frame.CmcdSessions, 0, { sessions: [activity('quiet', 1, 0)] });
    const asked = Date.now();
    a.send(Frame.CmcdView, 3, { limit: 10 });
    const flushA = await a.next((f) => f.type === Frame.FlushCmcd);
    a.send(Frame.CmcdSessions, flushA.id, { sessions: [] });
    // b received its FlushCmcd and does not answer
    await b.next((f) => f.type === Frame.FlushCmcd);
    const reply = await a.next((f) => f.type === Frame.Reply && f.id === 3);
    expect(Date.now() - asked).toBeGreaterThanOrEqual(GATHER_MS - 50);
    expect(json<{ value: CmcdSessionsView }>(reply.payload).value.list.map((s) => s.sid)).toEqual(['quiet']);
    a.send(Frame.Metrics, 4, {});
    const collect = await a.next((f) => f.type === Frame.Collect);
    a.send(Frame.MetricsJson, collect.id, { metrics: [] });
    const text = json<{ value: string }>((await a.next((f) => f.type === Frame.Reply && f.id === 4)).payload).value;
    expect(text).toMatch(/^edge_cmcd_sessions 1$/m);
  }, 20_000);
});
