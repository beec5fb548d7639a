/**
 * A FleetLink that exists before the fleet does: the edge must open its store and listen before it
 * can join (its URL is its identity), yet must not serve a byte before the purge replay. Until the
 * real link is set, content requests wait, health says "joining the fleet" and purge answers 503.
 * When `arm`ed, the wait is bounded: past it (NATS unreachable at start-up) the edge marks its whole
 * cache stale and serves, and keeps trying to join in the background.
 */
import type { PurgeSpec } from '../purge.js';
import type { FleetLink, FleetPurgeAnswer } from './fleet-link.js';

export class DeferredFleetLink implements FleetLink {
  #link: FleetLink | undefined;
  #set!: (l: FleetLink) => void;
  readonly #arrived = new Promise<FleetLink>((r) => (this.#set = r));
  #gaveUp = false;
  #giveUp!: () => void;
  readonly #gaveUpSignal = new Promise<void>((r) => (this.#giveUp = r));
  #timer: NodeJS.Timeout | undefined;

  /** The fleet joined. */
  resolve(link: FleetLink): void {
    clearTimeout(this.#timer);
    this.#link = link;
    this.#set(link);
  }

  /** Bounds the wait for the fleet: after `ms`, `onGiveUp` runs (mark the cache stale) and requests go on. */
  arm(ms: number, onGiveUp: () => Promise<void>): void {
    if (this.#link) return;
    this.#timer = setTimeout(() => {
      if (this.#link) return;
      void onGiveUp()
        .catch(() => undefined)
        .then(() => {
          this.#gaveUp = true;
          this.#giveUp();
        });
    }, ms);
    this.#timer.unref();
  }

  disarm(): void {
    clearTimeout(this.#timer);
  }

  get ready(): boolean {
    return this.#link?.ready ?? this.#gaveUp;
  }
  async whenReady(): Promise<void> {
    await Promise.race([this.#arrived.then((l) => l.whenReady()), this.#gaveUpSignal]);
  }
  health(): { reasons: string[]; report: unknown } {
    if (this.#link) return this.#link.health();
    if (this.#gaveUp)
      return {
        reasons: [],
        report: { state: 'not joined: NATS unreachable; serving with the whole cache marked stale, still trying' },
      };
    return { reasons: ['joining the fleet'], report: { state: 'joining' } };
  }
  async purge(specs: PurgeSpec[], requestId: string): Promise<FleetPurgeAnswer> {
    if (this.#link) return this.#link.purge(specs, requestId);
    return {
      status: 503,
      body: { error: 'purge not published: this edge has not joined the fleet yet (NATS unreachable); retry' },
      headers: { 'retry-after': '5' },
    };
  }
  purgeFloor(): number {
    return this.#link?.purgeFloor() ?? 0;
  }
  async reachPurgeFloor(seq: number): Promise<boolean> {
    if (this.#link) return this.#link.reachPurgeFloor(seq);
    if (this.#gaveUp) return false;
    const l = await Promise.race([this.#arrived, this.#gaveUpSignal.then(() => undefined)]);
    return l ? l.reachPurgeFloor(seq) : false;
  }
}
