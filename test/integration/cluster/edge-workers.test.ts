import { afterEach, describe, expect, it } from 'vitest';
import { startUpstream, type Upstream } from '../edge/helpers.js';
import {
  ADMIN_TOKEN,
  type Answer,
  type SupervisedEdge,
  eventually,
  get,
  metricsText,
  type Pending,
  processes,
  series,
  startGet,
  startSupervisedEdge,
  total,
} from './supervised-edge.js';

/**
 * `streamedge edge --workers 2` end to end: a real supervisor, store process and two HTTP workers
 * (node:cluster) on loopback, a real lmdb store, a test origin that counts what it is asked.
 * Which worker answered is read from `x-edge-worker`; process ids from the summed metrics.
 */
const BODY_BYTES = 256 * 1024;
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** An origin whose media bodies (`/m/...`) are sent in two halves; the second waits for release(). */
async function gatedOrigin(): Promise<{ up: Upstream; release(): void; version: () => number }> {
  let release!: () => void;
  let gate = new Promise<void>((r) => (release = r));
  let version = 0;
  const up = await startUpstream((req, res) => {
    version++;
    const v = version;
    const body = Buffer.alloc(BODY_BYTES, v & 0xff);
    body.write(`v=${v};`, 0);
    if (req.url?.startsWith('/hints/')) res.writeEarlyHints({ link: '</init.mp4>; rel=preload' });
    res.writeHead(200, {
      'content-type': 'video/mp4',
      'cache-control': 'max-age=300',
      'content-length': String(body.length),
      'x-version': String(v),
    });
    res.write(body.subarray(0, BODY_BYTES / 2));
    if (req.url?.startsWith('/gated/')) void gate.then(() => res.end(body.subarray(BODY_BYTES / 2)));
    else res.end(body.subarray(BODY_BYTES / 2));
  });
  cleanups.push(() => up.close());
  return {
    up,
    release: () => {
      release();
      gate = new Promise<void>((r) => (release = r));
    },
    version: () => version,
  };
}

async function edgeFor(up: Upstream): Promise<SupervisedEdge> {
  const edge = await startSupervisedEdge(up.url, 2);
  cleanups.push(() => edge.stop());
  return edge;
}

/** Sends `n` requests on connections of their own; resolves with the answers as they complete. */
function many(base: string, path: string, n: number): Promise<Answer>[] {
  return Array.from({ length: n }, () => get(base, path));
}

/**
 * Waiters on one fill, on both workers: fires requests for `path` in batches of 4 on connections of
 * their own until at least `perWorker` of them stream from each worker (their response heads
 * arrived, so each is attached to the fill), bounded. Which worker accepts a connection is the
 * kernel's choice (SCHED_NONE), so the count needed is not known in advance.
 */
async function waitersOnBothWorkers(base: string, path: string, perWorker: number): Promise<Pending[]> {
  const out: Pending[] = [];
  const on = new Map<string, number>();
  for (let i = 0; i < 24 && !((on.get('0') ?? 0) >= perWorker && (on.get('1') ?? 0) >= perWorker); i++) {
    const batch = Array.from({ length: 4 }, () => startGet(base, path));
    out.push(...batch);
    for (const w of await Promise.all(batch.map((p) => p.head))) on.set(w ?? '?', (on.get(w ?? '?') ?? 0) + 1);
  }
  const tally = [...on].map(([w, n]) => `worker ${w}: ${n}`).join(', ');
  expect(on.get('0') ?? 0, `waiters streaming per worker (${tally})`).toBeGreaterThanOrEqual(perWorker);
  expect(on.get('1') ?? 0, `waiters streaming per worker (${tally})`).toBeGreaterThanOrEqual(perWorker);
  return out;
}

/** Requests `path` until both workers have answered it (bounded); returns the answers. */
async function fromBothWorkers(base: string, path: string): Promise<Answer[]> {
  const seen: Answer[] = [];
  for (let i = 0; i < 40 && new Set(seen.map((a) => a.worker)).size < 2; i++) {
    seen.push(...(await Promise.all(many(base, path, 4))));
  }
  expect(new Set(seen.map((a) => a.worker))).toEqual(new Set(['0', '1']));
  return seen;
}

describe('edge --workers 2', () => {
  it('makes one upstream fill per key with waiters spread over both workers, bytes streamed to all', async () => {
    const o = await gatedOrigin();
    const edge = await edgeFor(o.up);
    // every waiter streams the fill's first half (its head arrived) while the upstream holds the rest
    const waiters = await waitersOnBothWorkers(edge.url, '/gated/seg-1.m4s', 8);
    const m = await metricsText(edge.url);
    const facts = m
      .split('\n')
      .filter((l) => /^edge_(misses|collapsed|upstream_requests|requests)_total/.test(l))
      .join('\n');
    expect(series(m, 'edge_misses_total') + series(m, 'edge_collapsed_total'), facts).toBe(waiters.length);
    expect(o.up.count('/gated/seg-1.m4s'), facts).toBe(1);
    o.release();
    const answers = await Promise.all(waiters.map((p) => p.answer));
    expect(new Set(answers.map((a) => a.worker))).toEqual(new Set(['0', '1']));
    for (const a of answers) {
      expect(a.status).toBe(200);
      expect(a.body.length).toBe(BODY_BYTES);
      expect(a.body.subarray(0, 4).toString()).toBe('v=1;');
    }
    expect(o.up.count('/gated/seg-1.m4s')).toBe(1);
    // stored once: from now on both workers answer it as a hit without going upstream (no waiting for
    // the commit's announcement: a request before it joins its worker's finished fill, or is told by
    // the store process that the key was stored meanwhile, and answers from the store)
    const after = await fromBothWorkers(edge.url, '/gated/seg-1.m4s');
    for (const a of after) expect(String(a.headers['cache-status'])).toContain('; hit');
    expect(o.up.count('/gated/seg-1.m4s')).toBe(1);
  });

  it('requests fired at both workers across a fill’s end: one upstream fetch, and every answer carries its bytes', async () => {
    const o = await gatedOrigin();
    const edge = await edgeFor(o.up);
    const path = '/gated/seg-9.m4s';
    // one waiter holds the fill open in one worker; the other worker has none of its own until asked
    const first = get(edge.url, path);
    await eventually(async () => (o.up.count(path) === 1 ? true : undefined), 'the fill started');
    // loops on fresh connections (spread over both workers) run from before the body's end until
    // both workers have answered hits, so requests land before, at and after the fill's end and its
    // commit, in workers with and without a fill of their own
    const answers: Answer[] = [];
    const hits = new Map<string, number>();
    let stop = false;
    const loop = async (): Promise<void> => {
      for (let i = 0; i < 60 && !stop; i++) {
        const a = await get(edge.url, path);
        answers.push(a);
        if (String(a.headers['cache-status']).includes('; hit')) {
          hits.set(a.worker ?? '?', (hits.get(a.worker ?? '?') ?? 0) + 1);
          if ((hits.get('0') ?? 0) >= 5 && (hits.get('1') ?? 0) >= 5) stop = true;
        }
      }
    };
    const loops = Array.from({ length: 6 }, loop);
    o.release();
    answers.push(await first);
    await Promise.all(loops);
    expect(hits.get('0') ?? 0).toBeGreaterThanOrEqual(5);
    expect(hits.get('1') ?? 0).toBeGreaterThanOrEqual(5);
    // exactly one upstream request, and no answer came from a second one: every body is version 1
    expect(o.up.count(path)).toBe(1);
    for (const a of answers) {
      expect(a.status).toBe(200);
      expect(a.body.length).toBe(BODY_BYTES);
      expect(a.body.subarray(0, 4).toString()).toBe('v=1;');
    }
    // an answer that is not a hit came from the one fill while it ran (the miss that started it, or collapsed onto it)
    const m = await metricsText(edge.url);
    expect(total(m, 'edge_upstream_requests_total')).toBe(1);
  });

  it('a worker SIGKILLed mid-fill: the other worker’s waiters get every byte, the object is stored, the worker respawns', async () => {
    const o = await gatedOrigin();
    const edge = await edgeFor(o.up);
    const before = processes(await metricsText(edge.url));
    const w0 = before.find((p) => p.role === 'worker' && p.worker === '0');
    expect(w0).toBeDefined();
    const waiters = (await waitersOnBothWorkers(edge.url, '/gated/seg-2.m4s', 4)).map((p) =>
      p.answer.then(
        (a) => ({ ok: true as const, a }),
        () => ({ ok: false as const }),
      ),
    );
    process.kill(w0!.pid, 'SIGKILL');
    o.release();
    const results = await Promise.all(waiters);
    const served = results.flatMap((r) => (r.ok ? [r.a] : []));
    // worker 1's waiters are whole; worker 0's were cut (never a short body presented as complete)
    expect(served.some((a) => a.worker === '1')).toBe(true);
    for (const a of served) {
      expect(a.worker).toBe('1');
      expect(a.body.length).toBe(BODY_BYTES);
    }
    // the fill completed for the survivors and was stored: the very next request is whole and makes
    // no second upstream request. It is a hit, or (within the worker's 2 s linger of a finished fill,
    // before the commit's announcement reached it) answered from that finished fill: "collapsed"
    const again = await get(edge.url, '/gated/seg-2.m4s');
    expect(again.status).toBe(200);
    expect(again.body.length).toBe(BODY_BYTES);
    expect(String(again.headers['cache-status'])).toMatch(/; hit|fwd=uri-miss; ttl=\d+; collapsed/);
    expect(o.up.count('/gated/seg-2.m4s')).toBe(1);
    // the supervisor respawned worker 0 (a new pid), and both serve the stored object
    await eventually(async () => {
      const ps = processes(await metricsText(edge.url));
      const w = ps.find((p) => p.role === 'worker' && p.worker === '0');
      return w && w.pid !== w0!.pid ? w : undefined;
    }, 'worker 0 respawned');
    await fromBothWorkers(edge.url, '/gated/seg-2.m4s');
    expect(o.up.count('/gated/seg-2.m4s')).toBe(1);
  });

  it('a purge reaches every worker: no worker serves the purged copy afterwards', async () => {
    const o = await gatedOrigin();
    const edge = await edgeFor(o.up);
    // both workers hold the one stored copy, v=1 (RAM tier after their first disk hit): the requests
    // right after the first one's end are hits, never a second fill (the worker that filled may
    // answer within its 2 s linger from the finished fill, "collapsed", as in the test above)
    await get(edge.url, '/open/seg-3.m4s');
    const version = (a: Answer): number => Number(/^v=(\d+);/.exec(a.body.subarray(0, 8).toString())?.[1]);
    const warm = await fromBothWorkers(edge.url, '/open/seg-3.m4s');
    for (const a of warm) {
      expect(String(a.headers['cache-status'])).toMatch(/; hit|fwd=uri-miss; ttl=\d+; collapsed/);
      expect(version(a)).toBe(1);
    }
    expect(o.up.count('/open/seg-3.m4s')).toBe(1);
    const purge = await get(edge.url, '/_edge/purge', {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ url: '/open/seg-3.m4s' }),
    });
    expect(purge.status).toBe(200);
    expect((JSON.parse(purge.body.toString()) as { purged: number }).purged).toBe(1);
    // no worker serves the purged copy: every answer is a newer version, fetched again
    const after = await fromBothWorkers(edge.url, '/open/seg-3.m4s');
    for (const a of after) expect(version(a)).toBe(2);
    expect(o.up.count('/open/seg-3.m4s')).toBe(2);
  });

  it('a CMSD cap PUT to one worker reaches every worker, and the worker respawned after it starts with it', async () => {
    const o = await gatedOrigin();
    const edge = await startSupervisedEdge(o.up.url, 2, ['--cmsd-max-bitrate', '4000']);
    cleanups.push(() => edge.stop());
    // the cap each answer carries, from both workers: `mb=<kbps>`
    const caps = async () =>
      new Set(
        (await fromBothWorkers(edge.url, '/open/seg-8.m4s')).map((a) =>
          String(a.headers['cmsd-dynamic']).replace(/^"[^"]*";/, ''),
        ),
      );
    expect(await caps()).toEqual(new Set(['mb=4000']));
    const put = await get(edge.url, '/_edge/cmsd', {
      method: 'PUT',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: '{"maxBitrateKbps": 1500}',
    });
    expect([put.status, JSON.parse(put.body.toString())]).toEqual([200, { maxBitrateKbps: 1500 }]);
    await eventually(async () => {
      const c = await caps();
      return c.size === 1 && c.has('mb=1500') ? c : undefined;
    }, 'both workers on the new cap');
    // the worker that took the PUT dies; its replacement starts with the cap the supervisor kept
    const took = processes(await metricsText(edge.url)).find((p) => p.role === 'worker' && p.worker === put.worker);
    expect(took).toBeDefined();
    process.kill(took!.pid, 'SIGKILL');
    await eventually(async () => {
      const w = processes(await metricsText(edge.url)).find((p) => p.role === 'worker' && p.worker === put.worker);
      return w && w.pid !== took!.pid ? w : undefined;
    }, 'the worker respawned');
    expect(await caps()).toEqual(new Set(['mb=1500']));
  });

  it('sums metrics across workers and the store process', async () => {
    const o = await gatedOrigin();
    const edge = await edgeFor(o.up);
    await get(edge.url, '/open/seg-4.m4s');
    const answers = await fromBothWorkers(edge.url, '/open/seg-4.m4s');
    // a worker may answer a request from its own fill that has just ended before the store process
    // has committed the entry: "collapsed" (one upstream request all the same), seen under load
    const counted = (m: string): number =>
      series(m, 'edge_requests_total{result="hit"}') +
      series(m, 'edge_requests_total{result="miss"}') +
      series(m, 'edge_requests_total{result="collapsed"}');
    // a request is counted when its response closes, which may come a moment after the client read
    // it: wait until every request so far is in the sum, then check it holds no more than them
    let last = '';
    const m = await eventually(async () => {
      last = await metricsText(edge.url);
      return counted(last) >= 1 + answers.length ? last : undefined;
    }, 'every request counted').catch((e: Error) => {
      // what was counted instead, and from which processes (a rare failure under load: see it whole)
      const lines = last.split('\n').filter((l) => /^edge_(requests_total|process_info)\{/.test(l));
      throw new Error(`${e.message}: ${1 + answers.length} requests, ${counted(last)} counted; ${lines.join('; ')}`);
    });
    const ps = processes(m);
    expect(
      ps
        .filter((p) => p.role === 'worker')
        .map((p) => p.worker)
        .sort(),
    ).toEqual(['0', '1']);
    expect(ps.filter((p) => p.role === 'store')).toHaveLength(1);
    expect(new Set(ps.map((p) => p.pid)).size).toBe(3);
    // every request so far, whichever worker answered it (the metrics request counts after it answers)
    expect(counted(m)).toBe(1 + answers.length);
    // every request after the first one's end was served from the edge (a hit, or the ended fill)
    for (const a of answers) expect(String(a.headers['cache-status'])).toMatch(/; (hit|collapsed)(;|$)/);
    expect(series(m, 'edge_requests_total{result="miss"}')).toBe(1);
    expect(series(m, 'edge_hits_total')).toBe(series(m, 'edge_requests_total{result="hit"}'));
    // the one upstream request was made by the store process; the store's object count once, not per worker
    expect(total(m, 'edge_upstream_requests_total')).toBe(1);
    expect(series(m, 'edge_store_objects')).toBe(1);
    expect(series(m, 'edge_store_admitting')).toBe(1);
  });

  it('counts a CMCD session once across workers (the store process merges their reports) and lists it whole', async () => {
    const o = await gatedOrigin();
    const edge = await edgeFor(o.up);
    const cmcd = `CMCD=${encodeURIComponent('ot=v,sid="both",br=990')}`;
    await get(edge.url, `/open/seg-5.m4s?${cmcd}`);
    const answers = await fromBothWorkers(edge.url, `/open/seg-5.m4s?${cmcd}`);
    const starved = await get(
      edge.url,
      `/open/seg-5.m4s?${encodeURIComponent('x')}&CMCD=${encodeURIComponent('bs,ot=v,sid="one"')}`,
    );
    expect(starved.status).toBe(200);
    const m = await metricsText(edge.url);
    expect(series(m, 'edge_cmcd_requests_total{ot="v"}')).toBe(1 + answers.length + 1);
    expect(series(m, 'edge_cmcd_buffer_starvation_total{ot="v"}')).toBe(1);
    expect(series(m, 'edge_cmcd_starved_sessions')).toBe(1);
    // "both" reached both workers and is one session; "one" the other
    expect(series(m, 'edge_cmcd_sessions')).toBe(2);
    expect(o.up.count('/open/seg-5.m4s')).toBe(1); // CMCD is not keyed
    // the per-session view, asked of either worker, has every worker's requests (no second's delay)
    const more = await fromBothWorkers(edge.url, `/open/seg-5.m4s?${cmcd}`);
    const view = await get(edge.url, '/_edge/cmcd/sessions', {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    expect(view.status).toBe(200);
    const v = JSON.parse(view.body.toString()) as {
      sessions: number;
      starvedSessions: number;
      list: { sid: string; requests: number; starvations: number; br?: number }[];
    };
    expect(v.sessions).toBe(2);
    expect(v.starvedSessions).toBe(1);
    expect(v.list.map((s) => s.sid)).toEqual(['one', 'both']);
    expect(v.list[1]).toMatchObject({ requests: 1 + answers.length + more.length, starvations: 0, br: 990 });
    expect((await get(edge.url, '/_edge/cmcd/sessions')).status).toBe(401);
  });

  it('a rolling restart (SIGHUP) under a client loop fails no request', async () => {
    const o = await gatedOrigin();
    const edge = await edgeFor(o.up);
    await get(edge.url, '/open/seg-5.m4s');
    const before = processes(await metricsText(edge.url)).filter((p) => p.role === 'worker');
    let stop = false;
    let ok = 0;
    const failures: string[] = [];
    const loop = async () => {
      while (!stop) {
        try {
          const a = await get(edge.url, '/open/seg-5.m4s');
          if (a.status === 200 && a.body.length === BODY_BYTES) ok++;
          else failures.push(`status ${a.status}, ${a.body.length} bytes`);
        } catch (e) {
          failures.push(String(e));
        }
      }
    };
    const loops = Array.from({ length: 4 }, loop);
    await eventually(async () => (ok >= 50 ? true : undefined), 'the loop under way');
    edge.proc.kill('SIGHUP');
    await eventually(
      async () => {
        if (!edge.logs.some((l) => l.msg === 'rolling restart done')) return undefined;
        const now = processes(await metricsText(edge.url)).filter((p) => p.role === 'worker');
        return now.length === 2 && now.every((p) => !before.some((b) => b.pid === p.pid)) ? now : undefined;
      },
      'both workers replaced',
      240_000,
    );
    const atRestart = ok;
    await eventually(async () => (ok >= atRestart + 50 ? true : undefined), 'the loop served by the new workers');
    stop = true;
    await Promise.all(loops);
    expect(failures).toEqual([]);
    expect(ok).toBeGreaterThan(100);
    expect(o.up.count('/open/seg-5.m4s')).toBe(1);
  }, 300_000);

  it('the store process killed: hits are still served, it is restarted, and fills are stored again through it', async () => {
    const o = await gatedOrigin();
    const edge = await edgeFor(o.up);
    await get(edge.url, '/open/seg-6.m4s');
    // stored before the store process goes: the next request waits for the commit and is a hit
    const stored = await get(edge.url, '/open/seg-6.m4s');
    expect(String(stored.headers['cache-status'])).toContain('; hit');
    const store = processes(await metricsText(edge.url)).find((p) => p.role === 'store');
    expect(store).toBeDefined();
    process.kill(store!.pid, 'SIGKILL');
    // hits on both workers while the store process is gone (or restarting)
    const hits = await fromBothWorkers(edge.url, '/open/seg-6.m4s');
    for (const a of hits) {
      expect(a.status).toBe(200);
      expect(String(a.headers['cache-status'])).toContain('hit');
    }
    expect(o.up.count('/open/seg-6.m4s')).toBe(1);
    // restarted with a new pid; fills are stored again through it
    await eventually(async () => {
      // the metrics collection reaches only workers linked to it: both are back when both answer
      const ps = processes(await metricsText(edge.url));
      const s = ps.find((p) => p.role === 'store');
      return s && s.pid !== store!.pid && ps.filter((p) => p.role === 'worker').length === 2 ? s : undefined;
    }, 'store process restarted, both workers linked to it');
    // What is promised once both workers are linked to the restarted store process: one upstream fill
    // per key, stored through it, and every request after the first one's end whole, without going
    // upstream: a hit, or (within the filling worker's 2 s linger of its finished fill, before the
    // commit's announcement reached it) answered from that finished fill, "collapsed", as in the
    // worker-SIGKILL test above; then a hit on both workers. (Before both are linked, a worker
    // without a link fetches for itself and stores nothing.)
    const first = await get(edge.url, '/open/seg-7.m4s');
    expect(first.status).toBe(200);
    const after = await fromBothWorkers(edge.url, '/open/seg-7.m4s');
    const seen = after.map((a) => `${a.worker}: ${String(a.headers['cache-status'])}`);
    for (const a of after) {
      expect(a.status).toBe(200);
      expect(a.body.equals(first.body)).toBe(true);
      expect(String(a.headers['cache-status']), seen.join('\n')).toMatch(/; hit|fwd=uri-miss; ttl=\d+; collapsed/);
    }
    // stored through the restarted store process: both workers come to answer it as a hit
    await eventually(async () => {
      const again = await fromBothWorkers(edge.url, '/open/seg-7.m4s');
      const hitOn = new Set(
        again.filter((a) => String(a.headers['cache-status']).includes('; hit')).map((a) => a.worker),
      );
      return hitOn.size === 2 ? true : undefined;
    }, 'both workers answering seg-7 as a hit');
    expect(o.up.count('/open/seg-7.m4s'), seen.join('\n')).toBe(1);
  });

  it('103 Early Hints from the origin reach the client whose request started the fill, through the store process', async () => {
    const o = await gatedOrigin();
    const edge = await edgeFor(o.up);
    const a = await get(edge.url, '/hints/seg-10.m4s');
    expect(a.status).toBe(200);
    expect(a.body.length).toBe(BODY_BYTES);
    expect(a.infos).toEqual([{ status: 103, link: '</init.mp4>; rel=preload' }]);
    expect(o.up.count('/hints/seg-10.m4s')).toBe(1);
  });

  it('the workers accept their connections themselves (SCHED_NONE): with the supervisor stopped, fresh connections are answered', async () => {
    const o = await gatedOrigin();
    const edge = await edgeFor(o.up);
    await fromBothWorkers(edge.url, '/m/seg-accept.m4s');
    // under node's round-robin the supervisor accepts every connection and hands it over: stopped,
    // nothing new would be answered; here the workers take them from the shared socket
    process.kill(edge.proc.pid!, 'SIGSTOP');
    let timer: NodeJS.Timeout | undefined;
    try {
      const answers = await Promise.race([
        Promise.all(many(edge.url, '/m/seg-accept.m4s', 8)),
        new Promise<'hung'>((r) => (timer = setTimeout(() => r('hung'), 15_000))),
      ]);
      expect(answers, 'fresh connections answered while the supervisor is stopped').not.toBe('hung');
      for (const a of answers as Answer[]) {
        expect(a.status).toBe(200);
        expect(a.body.length).toBe(BODY_BYTES);
        expect(String(a.headers['cache-status'])).toContain('; hit');
      }
    } finally {
      clearTimeout(timer);
      process.kill(edge.proc.pid!, 'SIGCONT');
    }
    expect(o.up.count('/m/seg-accept.m4s')).toBe(1);
  });

  it('SIGTERM drains: a request in flight is answered in full, then every process exits', async () => {
    const o = await gatedOrigin();
    const edge = await edgeFor(o.up);
    const inFlight = get(edge.url, '/gated/seg-8.m4s');
    await eventually(async () => (o.up.count('/gated/seg-8.m4s') === 1 ? true : undefined), 'the fill started');
    edge.proc.kill('SIGTERM');
    await eventually(
      async () => (edge.logs.filter((l) => l.msg === 'edge worker draining').length === 2 ? true : undefined),
      'both workers draining',
    );
    o.release();
    const a = await inFlight;
    expect(a.status).toBe(200);
    expect(a.body.length).toBe(BODY_BYTES);
    expect(await edge.exited).toBe(0);
  });

  it('stopped while a worker is respawning: every process exits (the starting worker too), bounded', async () => {
    const o = await gatedOrigin();
    const edge = await edgeFor(o.up);
    const ps = processes(await metricsText(edge.url));
    const w0 = ps.find((p) => p.role === 'worker' && p.worker === '0')!;
    process.kill(w0.pid, 'SIGKILL');
    // the supervisor forks the replacement at once (a first death): stop it while that one loads
    await eventually(
      async () => (edge.logs.some((l) => l.msg === 'edge worker died: respawning it') ? true : undefined),
      'the respawn',
    );
    edge.proc.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const code = await Promise.race([
      edge.exited,
      new Promise<'hung'>((r) => (timer = setTimeout(() => r('hung'), 60_000))),
    ]).finally(() => clearTimeout(timer));
    expect(code, 'the supervisor exits on SIGTERM while a worker is starting').toBe(0);
    // no child left behind: the store process and the surviving worker are gone
    for (const p of ps) {
      if (p.pid === w0.pid) continue;
      expect(() => process.kill(p.pid, 0), `${p.role} ${p.worker} (${p.pid}) exited`).toThrow();
    }
    expect(edge.logs.some((l) => String(l.msg).includes('did not exit'))).toBe(false);
  });
});
