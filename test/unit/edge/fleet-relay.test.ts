/**
 * The worker's end of a multi-worker fleet member (edge/cluster/worker-fleet.ts) over an in-memory
 * IPC channel standing in for the supervisor: content waits for the supervisor's "ready", purges
 * and floors are asked of it, a fleet purge is refused while the store process is away, and the
 * relayed keys lose no entry pushed between the first read and the watch.
 */
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { WorkerFleetLink } from '../../../edge/cluster/worker-fleet.js';
import type { FleetMessage } from '../../../edge/cluster/fleet-ipc.js';
import type { Edge } from '../../../edge/server.js';
import type { PurgeSpec } from '../../../edge/purge.js';

function harness() {
  const toSupervisor: FleetMessage[] = [];
  let deliver: (m: unknown) => void = () => undefined;
  let sent: () => void = () => undefined;
  const link = new WorkerFleetLink(
    {
      send: (m) => {
        toSupervisor.push(m);
        sent();
      },
    },
    (fn) => {
      deliver = fn;
      return () => (deliver = () => undefined);
    },
  );
  /** The next message the worker sends (resolves at once if one is queued). */
  const next = async (): Promise<FleetMessage> => {
    if (toSupervisor.length === 0) await new Promise<void>((r) => (sent = r));
    return toSupervisor.shift()!;
  };
  return { link, deliver: (m: FleetMessage) => deliver(m), next };
}

const state = (ready: boolean, floor = 0): FleetMessage => ({
  type: 'fleet-state',
  state: { ready, floor, health: { reasons: [], report: { pop: 'p1' } }, members: 2, deadLetters: 0 },
});

describe('WorkerFleetLink', () => {
  it('holds content until the supervisor says the replay is done; health is the supervisor’s report', async () => {
    const h = harness();
    expect(h.link.ready).toBe(false);
    expect(h.link.health().reasons).toEqual(['joining the fleet']);
    let released = false;
    const waiting = h.link.whenReady().then(() => (released = true));
    h.deliver(state(false));
    await Promise.resolve();
    expect(released).toBe(false);
    h.deliver(state(true, 7));
    await waiting;
    expect(h.link.ready).toBe(true);
    expect(h.link.purgeFloor()).toBe(7);
    expect(h.link.health().report).toEqual({ pop: 'p1' });
  });

  it('publishes a purge through the supervisor and returns its answer; a floor beyond its own is asked of it', async () => {
    const h = harness();
    const specs: PurgeSpec[] = [{ kind: 'prefix', value: '/vod/', mode: 'hard' }];
    const answer = h.link.purge(specs, 'req-1');
    const ask = await h.next();
    expect(ask).toMatchObject({ type: 'fleet-ask', ask: { op: 'purge', specs, requestId: 'req-1' } });
    h.deliver({ type: 'fleet-reply', id: (ask as { id: number }).id, value: { status: 200, body: { seq: 3 } } });
    expect(await answer).toEqual({ status: 200, body: { seq: 3 } });

    h.deliver(state(true, 3));
    expect(await h.link.reachPurgeFloor(2)).toBe(true); // already applied: nothing asked
    const reach = h.link.reachPurgeFloor(5);
    const q = await h.next();
    expect(q).toMatchObject({ type: 'fleet-ask', ask: { op: 'reach', seq: 5 } });
    h.deliver({ type: 'fleet-reply', id: (q as { id: number }).id, value: false });
    expect(await reach).toBe(false);
  });

  it('a purge the supervisor cannot confirm answers 503 with a reason (nothing claimed)', async () => {
    const h = harness();
    const answer = h.link.purge([{ kind: 'url', value: '/a', mode: 'hard' }], 'req-2');
    const ask = await h.next();
    h.deliver({ type: 'fleet-reply', id: (ask as { id: number }).id, error: 'NATS is down' });
    const a = await answer;
    expect(a.status).toBe(503);
    expect(JSON.stringify(a.body)).toContain('NATS is down');
  });

  it('applies a fleet purge through its edge, and refuses it while the store process is away', async () => {
    const h = harness();
    let objects: number | undefined = 5;
    const applied: PurgeSpec[][] = [];
    const peers: string[][] = [];
    const registry = new Registry();
    const edge = {
      metrics: { registry },
      storeObjects: () => objects,
      applyPurge: (s: PurgeSpec[]) => {
        applied.push(s);
        return Promise.resolve(2);
      },
      setPeers: (urls: string[]) => peers.push(urls),
      setUpstreamCredential: () => undefined,
    } as unknown as Edge;
    const bound = h.link.bind({ edge });
    const hello = await h.next();
    expect(hello).toMatchObject({ type: 'fleet-ask', ask: { op: 'hello' } });
    h.deliver({ type: 'fleet-reply', id: (hello as { id: number }).id, value: true });
    await bound;

    const specs: PurgeSpec[] = [{ kind: 'tag', value: 'asset-1', mode: 'soft' }];
    h.deliver({ type: 'fleet-ask', id: 11, ask: { op: 'apply', specs } });
    expect(await h.next()).toEqual({ type: 'fleet-reply', id: 11, value: 2 });
    expect(applied).toEqual([specs]);

    objects = undefined; // the store process is not connected
    h.deliver({ type: 'fleet-ask', id: 12, ask: { op: 'apply', specs } });
    const refused = await h.next();
    expect(refused).toMatchObject({ type: 'fleet-reply', id: 12 });
    expect((refused as { error?: string }).error).toMatch(/store process is not connected/);
    expect(applied).toHaveLength(1);

    h.deliver({ type: 'fleet-peers', urls: ['http://a', 'http://b'], self: 'http://b' });
    expect(peers).toEqual([['http://a', 'http://b']]);

    // the fleet's figures, as the supervisor says them; each purge's lag observed here
    h.deliver(state(true, 4));
    h.deliver({ type: 'fleet-lag', seconds: 0.02 });
    const text = await registry.metrics();
    expect(text).toMatch(/^edge_fleet_members 2$/m);
    expect(text).toMatch(/^edge_fleet_purge_lag_seconds_count 1$/m);
  });

  it('relayed keys: an entry pushed between the first read and the watch is not lost', async () => {
    const h = harness();
    const first = h.link.keys.get();
    const ask = await h.next();
    expect(ask).toMatchObject({ ask: { op: 'keys' } });
    const entry = (revision: number, text: string) => ({
      operation: 'PUT',
      revision,
      value: Buffer.from(text).toString('base64'),
    });
    h.deliver({ type: 'fleet-reply', id: (ask as { id: number }).id, value: entry(1, 'one') });
    expect(Buffer.from((await first)!.value).toString()).toBe('one');
    h.deliver({ type: 'fleet-keys', entry: entry(2, 'two') }); // before the watch starts
    const w = await h.link.keys.watch();
    h.deliver({ type: 'fleet-keys', entry: entry(3, 'three') });
    const seen: string[] = [];
    for await (const e of w) {
      seen.push(`${e.revision}:${Buffer.from(e.value).toString()}`);
      if (seen.length === 2) w.stop();
    }
    expect(seen).toEqual(['2:two', '3:three']);
  });
});
