/**
 * A FleetLink that exists before the fleet does: the edge must open its store and listen before it
 * can join (its URL is its identity), yet must not serve a byte before the purge replay. Until the
 * real link is set, content requests wait, health says "joining the fleet" and purge answers 503.
 */
import type { PurgeSpec } from '../purge.js';
import type { FleetLink, FleetPurgeAnswer } from './fleet-link.js';

export class DeferredFleetLink implements FleetLink {
  #link: FleetLink | undefined;
  #set!: (l: FleetLink | undefined) => void;
  readonly #arrived = new Promise<FleetLink | undefined>((r) => (this.#set = r));

  /** The fleet joined (or failed: `undefined` lets waiting requests go on without it). */
  resolve(link: FleetLink | undefined): void {
    this.#link = link;
    this.#set(link);
  }

  get ready(): boolean {
    return this.#link?.ready ?? false;
  }
  async whenReady(): Promise<void> {
    const l = await this.#arrived;
    await l?.whenReady();
  }
  health(): { reasons: string[]; report: unknown } {
    return this.#link?.health() ?? { reasons: ['joining the fleet'], report: { state: 'joining' } };
  }
  async purge(specs: PurgeSpec[], requestId: string): Promise<FleetPurgeAnswer> {
    if (this.#link) return this.#link.purge(specs, requestId);
    return {
      status: 503,
      body: { error: 'this edge is still joining the fleet; retry' },
      headers: { 'retry-after': '1' },
    };
  }
  purgeFloor(): number {
    return this.#link?.purgeFloor() ?? 0;
  }
  async reachPurgeFloor(seq: number): Promise<boolean> {
    const l = await this.#arrived;
    return l ? l.reachPurgeFloor(seq) : false;
  }
}
