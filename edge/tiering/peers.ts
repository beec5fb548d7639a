/**
 * The peers of one PoP: each cache key has one owner (rendezvous hashing over the peer URLs).
 * A non-owner fetches from the owner, marking the hop so the owner goes upstream instead of
 * forwarding again; only the owner stores the object. A peer that fails is skipped (the next
 * in rank order takes over) until `retryMs` has passed, then tried again.
 */
import { rankNodes } from './rendezvous.js';

/** Request header a peer sets when it forwards to the owner; its value is the sender's URL. */
export const HOP_HEADER = 'x-streamedge-hop';

export class PeerRouter {
  private readonly deadUntil = new Map<string, number>();

  constructor(
    private peerList: readonly string[],
    private selfUrl: string | undefined,
    private readonly retryMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  get peers(): readonly string[] {
    return this.peerList;
  }
  get self(): string | undefined {
    return this.selfUrl;
  }

  /** Replaces the peer list (fleet membership changed); `self` is added when missing. */
  setPeers(peers: readonly string[], self: string): void {
    this.selfUrl = self;
    this.peerList = peers.includes(self) ? [...peers] : [...peers, self];
    for (const p of this.deadUntil.keys()) if (!this.peerList.includes(p)) this.deadUntil.delete(p);
  }

  get enabled(): boolean {
    return this.peers.length > 1 && this.self !== undefined;
  }

  isPeer(url: string | undefined): boolean {
    return url !== undefined && url !== this.self && this.peers.includes(url);
  }

  /**
   * Peers to try for `key`, best first, before this edge would go upstream itself.
   * Empty when this edge owns the key (or every better-ranked peer is marked dead).
   */
  candidates(key: string): string[] {
    if (!this.enabled) return [];
    const out: string[] = [];
    const t = this.now();
    for (const node of rankNodes(this.peers, key)) {
      if (node === this.self) break;
      const until = this.deadUntil.get(node);
      if (until !== undefined && until > t) continue;
      out.push(node);
    }
    return out;
  }

  markDead(peer: string): void {
    this.deadUntil.set(peer, this.now() + this.retryMs);
  }

  markAlive(peer: string): void {
    this.deadUntil.delete(peer);
  }

  deadPeers(): string[] {
    const t = this.now();
    return [...this.deadUntil].filter(([, until]) => until > t).map(([p]) => p);
  }

  /** Peers other than this edge (purge fan-out). */
  others(): string[] {
    return this.peers.filter((p) => p !== this.self);
  }
}
