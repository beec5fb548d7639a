import { describe, expect, it } from 'vitest';
import { ownerOf, rankNodes } from '../../../edge/tiering/rendezvous.js';
import { PeerRouter } from '../../../edge/tiering/peers.js';

const keys = Array.from({ length: 6000 }, (_, i) => `/vod/a/seg-${i}.m4s`);

describe('rendezvous hashing', () => {
  it('spreads keys evenly and agrees with rankNodes', () => {
    const nodes = ['http://a:1', 'http://b:1', 'http://c:1'];
    const counts = new Map<string, number>();
    for (const k of keys) {
      const o = ownerOf(nodes, k)!;
      expect(rankNodes(nodes, k)[0]).toBe(o);
      counts.set(o, (counts.get(o) ?? 0) + 1);
    }
    for (const n of nodes) expect(counts.get(n)! / keys.length).toBeGreaterThan(0.28);
  });
  it('adding a node moves about 1/N of keys, all of them to the new node', () => {
    const before = ['http://a:1', 'http://b:1', 'http://c:1'];
    const after = [...before, 'http://d:1'];
    let moved = 0;
    for (const k of keys) {
      const o1 = ownerOf(before, k);
      const o2 = ownerOf(after, k);
      if (o1 !== o2) {
        moved++;
        expect(o2).toBe('http://d:1');
      }
    }
    expect(moved / keys.length).toBeGreaterThan(0.2);
    expect(moved / keys.length).toBeLessThan(0.3);
  });
});

describe('peer router', () => {
  it('owner fetches upstream itself; others go to the owner; dead peers are skipped until retry', () => {
    let t = 0;
    const peers = ['http://a:1', 'http://b:1', 'http://c:1'];
    const routers = peers.map((p) => new PeerRouter(peers, p, 1000, () => t));
    const key = '/x';
    const owner = ownerOf(peers, key)!;
    for (const r of routers) {
      if (r.self === owner) expect(r.candidates(key)).toEqual([]);
      else expect(r.candidates(key)[0]).toBe(owner);
    }
    const nonOwner = routers.find((r) => r.self !== owner)!;
    nonOwner.markDead(owner);
    expect(nonOwner.candidates(key)).not.toContain(owner);
    t += 1001;
    expect(nonOwner.candidates(key)[0]).toBe(owner);
    expect(nonOwner.isPeer(owner)).toBe(true);
    expect(nonOwner.isPeer('http://evil:1')).toBe(false);
    expect(nonOwner.others()).toHaveLength(2);
  });
});
