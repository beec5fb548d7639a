import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { FleetConnection } from '../../../src/fleet/nats-connection.js';
import { PURGE_STREAM, PURGE_SUBJECT, PurgeStream, type PurgePosition } from '../../../edge/fleet/purge-stream.js';
import type { PurgeSpec } from '../../../edge/purge.js';
import { startNatsServer, type NatsServer } from './nats-server.js';
import { waitFor } from './wait.js';

let nats: NatsServer;
beforeAll(async () => {
  nats = await startNatsServer();
});
afterAll(async () => {
  await nats.close();
});

interface Member {
  url: string;
  conn: FleetConnection;
  stream: PurgeStream;
  applied: PurgeSpec[][];
  staleMarks: string[];
  lags: number[];
  dead: string[];
  empty: boolean;
}

const positions = new Map<string, PurgePosition>();

async function member(url: string, opts: { empty?: boolean } = {}): Promise<Member> {
  const conn = await FleetConnection.open({ url: nats.url, backoffMs: 50 });
  const m: Partial<Member> & { applied: PurgeSpec[][]; staleMarks: string[]; lags: number[]; dead: string[] } = {
    url,
    conn,
    applied: [],
    staleMarks: [],
    lags: [],
    dead: [],
    empty: opts.empty ?? false,
  };
  m.stream = await PurgeStream.open(
    conn,
    { member: url, consumer: `edge_${url.slice(-4)}`, replayTimeoutMs: 10_000 },
    {
      apply: async (specs) => {
        m.applied.push(specs);
        return specs.length;
      },
      cacheIsEmpty: async () => m.empty!,
      loadPosition: async () => positions.get(url),
      savePosition: async (p) => {
        positions.set(url, p);
      },
      markAllStale: async (reason) => {
        m.staleMarks.push(reason);
      },
      onApplied: (s) => m.lags.push(s),
      onDeadLetter: (r) => m.dead.push(r),
    },
  );
  return m as Member;
}

async function stop(m: Member): Promise<void> {
  await m.stream.close();
  await m.conn.close();
}

const spec = (value: string): PurgeSpec[] => [{ kind: 'url', value, mode: 'hard' }];

describe('purge through a JetStream stream (real nats-server)', () => {
  it('reaches every member, answers once all applied, and a member that was down replays before it is ready', async () => {
    const a = await member('http://127.0.0.1:5001', { empty: true });
    let b = await member('http://127.0.0.1:5002', { empty: true });
    const c = await member('http://127.0.0.1:5003', { empty: true });
    try {
      await Promise.all([a.stream.ready, b.stream.ready, c.stream.ready]);
      const all = () => [a.url, b.url, c.url];
      const out = await a.stream.publish(spec('/vod/x/seg-1.m4s'), all, 5000);
      expect(out.missing).toEqual([]);
      expect(out.applied).toEqual(all());
      for (const m of [a, b, c]) expect(m.applied).toEqual([spec('/vod/x/seg-1.m4s')]);
      expect(a.lags.length).toBe(1);
      expect(a.lags[0]).toBeGreaterThanOrEqual(0);

      // b goes down; purges published meanwhile name it as missing after the timeout
      await stop(b);
      const missed = await a.stream.publish(spec('/vod/x/seg-2.m4s'), all, 500);
      expect(missed.missing).toEqual([b.url]);
      expect(missed.applied).toEqual([a.url, c.url]);
      await a.stream.publish([{ kind: 'prefix', value: '/vod/y/', mode: 'soft' }], () => [a.url, c.url], 5000);

      // b comes back with the same durable consumer: it replays both before it is ready
      b = await member('http://127.0.0.1:5002', { empty: false });
      expect(b.stream.state).not.toBe('gave-up');
      await b.stream.ready;
      expect(b.stream.state).toBe('caught-up');
      expect(b.applied).toEqual([spec('/vod/x/seg-2.m4s'), [{ kind: 'prefix', value: '/vod/y/', mode: 'soft' }]]);
      expect(b.staleMarks).toEqual([]); // it knew its position: nothing to doubt
      expect(b.stream.appliedSeq).toBe(missed.seq + 1);
      expect(await b.stream.waitForSeq(missed.seq, 10)).toBe(true);
    } finally {
      for (const m of [a, b, c]) await stop(m);
    }
  });

  it('a member away longer than the stream keeps purges marks its whole cache stale', async () => {
    let a = await member('http://127.0.0.1:6001', { empty: false });
    const b = await member('http://127.0.0.1:6002', { empty: true });
    const jsm = await jetstreamManager(b.conn.nc);
    try {
      await a.stream.ready;
      await stop(a);
      await b.stream.publish(spec('/vod/gone.m4s'), () => [b.url], 5000);
      await jsm.streams.purge(PURGE_STREAM); // the retention limit dropped what `a` never saw
      a = await member('http://127.0.0.1:6001', { empty: false });
      await a.stream.ready;
      expect(a.staleMarks.length).toBe(1);
      expect(a.staleMarks[0]).toMatch(/longer than the stream keeps purges/);
      expect(a.applied).toEqual([]);
    } finally {
      await stop(a);
      await stop(b);
    }
  });

  it('a member whose consumer was removed resumes from its saved position (nothing skipped, nothing doubted)', async () => {
    let a = await member('http://127.0.0.1:6201', { empty: false });
    const b = await member('http://127.0.0.1:6202', { empty: true });
    const jsm = await jetstreamManager(b.conn.nc);
    try {
      await Promise.all([a.stream.ready, b.stream.ready]);
      expect(a.staleMarks.length).toBe(1); // its first start had a cache and no position
      await stop(a);
      await b.stream.publish(spec('/while-away.m4s'), () => [b.url], 5000);
      await jsm.consumers.delete(PURGE_STREAM, 'edge_6201'); // e.g. removed for inactivity
      a = await member('http://127.0.0.1:6201', { empty: false });
      await a.stream.ready;
      expect(a.applied).toEqual([spec('/while-away.m4s')]);
      expect(a.staleMarks).toEqual([]); // the restart had a valid position: nothing doubted
    } finally {
      await stop(a);
      await stop(b);
    }
  });

  it('a new member with a non-empty cache and no position marks it stale; with an empty cache it does not', async () => {
    const full = await member('http://127.0.0.1:6101', { empty: false });
    expect(positions.has('http://127.0.0.1:6102')).toBe(false);
    const fresh = await member('http://127.0.0.1:6102', { empty: true });
    try {
      await Promise.all([full.stream.ready, fresh.stream.ready]);
      expect(full.staleMarks.length).toBe(1);
      expect(fresh.staleMarks).toEqual([]);
    } finally {
      await stop(full);
      await stop(fresh);
    }
  });

  it('a bad message is dead-lettered and skipped; the next purge still applies', async () => {
    const a = await member('http://127.0.0.1:7001', { empty: true });
    try {
      await a.stream.ready;
      const js = jetstream(a.conn.nc);
      await js.publish(PURGE_SUBJECT, 'not json at all');
      await js.publish(PURGE_SUBJECT, JSON.stringify({ v: 1, id: 'x1', from: 'm', specs: [{ kind: 'drop-table' }] }));
      const out = await a.stream.publish(spec('/after-bad.m4s'), () => [a.url], 5000);
      expect(out.missing).toEqual([]);
      expect(a.dead).toEqual(['not JSON', 'bad purge spec']);
      expect(a.applied).toEqual([spec('/after-bad.m4s')]);
      // terminated, not redelivered: the consumer has nothing pending
      const ci = await (await jetstreamManager(a.conn.nc)).consumers.info(PURGE_STREAM, 'edge_7001');
      expect(ci.num_ack_pending).toBe(0);
      expect(ci.num_pending).toBe(0);
    } finally {
      await stop(a);
    }
  });

  it('while NATS is down, purge is refused with a reason; after NATS returns it works again without a restart', async () => {
    const a = await member('http://127.0.0.1:8001', { empty: true });
    try {
      await a.stream.ready;
      await nats.stop();
      await waitFor('the client to see the outage', () => !a.conn.connected);
      await expect(a.stream.publish(spec('/down.m4s'), () => [a.url], 1000)).rejects.toThrow(
        /purge not published: disconnected from NATS/,
      );
      await nats.start();
      await waitFor('reconnect', () => a.conn.connected, 15_000);
      expect(a.conn.reconnects).toBeGreaterThanOrEqual(1);
      const out = await waitFor(
        'a purge to go through after the outage',
        async () => {
          const o = await a.stream.publish(spec('/up.m4s'), () => [a.url], 2000);
          return o.missing.length === 0 ? o : undefined;
        },
        15_000,
      );
      expect(out.applied).toEqual([a.url]);
      expect(a.applied.at(-1)).toEqual(spec('/up.m4s'));
    } finally {
      await stop(a);
    }
  });
});
