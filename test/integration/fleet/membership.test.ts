import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FleetConnection } from '../../../src/fleet/nats-connection.js';
import { Membership, type LiveMember } from '../../../edge/fleet/membership.js';
import { ownerOf } from '../../../edge/tiering/rendezvous.js';
import { startNatsServer, type NatsServer } from './nats-server.js';
import { waitFor } from './wait.js';

let nats: NatsServer;
beforeAll(async () => {
  nats = await startNatsServer();
});
afterAll(async () => {
  await nats.close();
});

interface Node {
  conn: FleetConnection;
  m: Membership;
  seen: LiveMember[];
}

async function join(url: string, pop: string): Promise<Node> {
  const conn = await FleetConnection.open({ url: nats.url, backoffMs: 50 });
  const m = await Membership.join(conn, {
    self: { url, pop, name: url.slice(-4), startedAt: new Date().toISOString(), version: 'test' },
    heartbeatMs: 200,
    ttlMs: 1000,
  });
  const node: Node = { conn, m, seen: [] };
  m.onChange((members) => (node.seen = members));
  return node;
}

const urls = (n: Node): string[] => n.seen.map((m) => m.url);
const keys = Array.from({ length: 300 }, (_, i) => `/vod/asset/seg-${i}.m4s`);

describe('fleet membership (heartbeats in a KV bucket, real nats-server)', () => {
  it('sees the PoP members; a member that stops heartbeating leaves within seconds and only its keys move', async () => {
    const pop = 'p1';
    const nodes = [
      await join('http://127.0.0.1:1001', pop),
      await join('http://127.0.0.1:1002', pop),
      await join('http://127.0.0.1:1003', pop),
    ];
    const other = await join('http://127.0.0.1:2001', 'p2');
    try {
      for (const n of nodes) await waitFor('three members in the PoP', () => n.seen.length === 3);
      expect(urls(nodes[0])).toEqual(['http://127.0.0.1:1001', 'http://127.0.0.1:1002', 'http://127.0.0.1:1003']);
      // the other PoP is visible fleet-wide, but never an owner in p1
      expect(nodes[0].m.live().map((m) => m.url)).toContain('http://127.0.0.1:2001');
      const health = nodes[0].m.live(pop)[0];
      expect(health).toMatchObject({ pop, version: 'test' });
      expect(typeof health.startedAt).toBe('string');

      const before = new Map(keys.map((k) => [k, ownerOf(urls(nodes[0]), k)!]));
      const dead = 'http://127.0.0.1:1002';
      const deadOwned = [...before.values()].filter((o) => o === dead).length;
      expect(deadOwned).toBeGreaterThan(30); // it owned a real share

      // crash: the connection goes away without deleting the key (no clean leave)
      await nodes[1].conn.nc.close();
      // bounded wait: member TTL 1 s here, so "within a few seconds" with slack for a loaded machine
      for (const n of [nodes[0], nodes[2]]) await waitFor('the dead member to leave', () => n.seen.length === 2, 8000);
      expect(urls(nodes[0])).toEqual(['http://127.0.0.1:1001', 'http://127.0.0.1:1003']);

      const after = new Map(keys.map((k) => [k, ownerOf(urls(nodes[0]), k)!]));
      let moved = 0;
      for (const k of keys) {
        if (before.get(k) === after.get(k)) continue;
        moved++;
        expect(before.get(k)).toBe(dead); // only the dead member's keys moved
      }
      expect(moved).toBe(deadOwned);
      // both survivors agree on every owner
      for (const k of keys) expect(ownerOf(urls(nodes[2]), k)).toBe(after.get(k));

      // a clean leave is seen at once (the key is deleted, no TTL wait)
      await nodes[2].m.leave();
      await waitFor('the clean leave', () => nodes[0].seen.length === 1, 3000);
    } finally {
      for (const n of [...nodes, other]) {
        await n.m.leave();
        await n.conn.close();
      }
    }
  });

  it('a new member joins and takes about a third of the keys, from each existing member', async () => {
    const pop = 'p3';
    const a = await join('http://127.0.0.1:3001', pop);
    const b = await join('http://127.0.0.1:3002', pop);
    try {
      await waitFor('two members', () => a.seen.length === 2);
      const before = new Map(keys.map((k) => [k, ownerOf(urls(a), k)!]));
      const c = await join('http://127.0.0.1:3003', pop);
      try {
        await waitFor('three members', () => a.seen.length === 3);
        let taken = 0;
        for (const k of keys) {
          const now = ownerOf(urls(a), k)!;
          if (now === before.get(k)) continue;
          expect(now).toBe('http://127.0.0.1:3003'); // keys only move to the newcomer
          taken++;
        }
        expect(taken).toBeGreaterThan(keys.length / 6);
        expect(taken).toBeLessThan(keys.length / 2);
      } finally {
        await c.m.leave();
        await c.conn.close();
      }
    } finally {
      for (const n of [a, b]) {
        await n.m.leave();
        await n.conn.close();
      }
    }
  });
});
