/**
 * What the edge server needs from its fleet (edge/fleet/edge-fleet.ts implements it). Kept apart so
 * the server depends on this small contract, not on NATS.
 */
import type { PurgeSpec } from '../purge.js';

/**
 * Request header carrying the purge position (stream sequence) the sender has applied. A tier that
 * receives it waits until it has applied that far before answering from its cache, so a purge is
 * never undone by refetching from a tier (shield or owner peer) that has not applied it yet.
 */
export const PURGE_FLOOR_HEADER = 'x-streamedge-purge-floor';

export interface FleetPurgeAnswer {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

export interface FleetLink {
  /** True once the missed purges are replayed (or the bounded wait ended with the cache marked stale). */
  readonly ready: boolean;
  whenReady(): Promise<void>;
  /** Health section (no secrets) and reasons that make the edge not ready. */
  health(): { reasons: string[]; report: unknown };
  /** Publishes a purge to the whole fleet and waits for the live members to apply it. */
  purge(specs: PurgeSpec[], requestId: string): Promise<FleetPurgeAnswer>;
  /** The purge sequence this edge has applied (sent upstream as PURGE_FLOOR_HEADER). */
  purgeFloor(): number;
  /** Resolves true once this edge has applied purges up to `seq` (false after a bounded wait). */
  reachPurgeFloor(seq: number): Promise<boolean>;
}

/** What the fleet needs from the edge it serves. */
export interface FleetEdgeHooks {
  applyPurge(specs: PurgeSpec[]): Promise<number>;
  cacheIsEmpty(): Promise<boolean>;
  /** The live members of this edge's PoP changed: their URLs (this edge included). */
  setPeers(urls: string[]): void;
  /** The fleet's upstream credential changed (undefined: none in the fleet). */
  setUpstreamCredential?(credential: string | undefined): void;
}
