/**
 * Request coalescing: at most one fill per cache key at a time. The first request for a key
 * creates the fill (the leader); every other request for the key attaches to it. A fill leaves
 * the table once its outcome is settled in the store, so later requests find the stored object.
 * Also counts requests held waiting for an upstream response head, under a cap.
 */
import type { Fill } from './fill.js';

export class Coalescer {
  private readonly fills = new Map<string, Fill>();
  private heldNow = 0;

  constructor(private readonly maxHeld: number) {}

  get size(): number {
    return this.fills.size;
  }
  get held(): number {
    return this.heldNow;
  }

  get(key: string): Fill | undefined {
    return this.fills.get(key);
  }

  all(): IterableIterator<Fill> {
    return this.fills.values();
  }

  /** The fill for `key`, creating (and starting) it with `create` if none is in flight. */
  join(key: string, create: () => Fill): { fill: Fill; leader: boolean } {
    const existing = this.fills.get(key);
    if (existing) {
      existing.readers++;
      return { fill: existing, leader: false };
    }
    const fill = create();
    fill.readers++;
    this.fills.set(key, fill);
    const leave = () => {
      if (this.fills.get(key) === fill) this.fills.delete(key);
    };
    void fill.stored.then(leave, leave);
    fill.start();
    return { fill, leader: true };
  }

  /** Try to hold one more request; false when the cap is reached. */
  hold(): boolean {
    if (this.heldNow >= this.maxHeld) return false;
    this.heldNow++;
    return true;
  }

  release(): void {
    this.heldNow--;
  }

  cancelAll(reason: string): void {
    for (const f of this.fills.values()) f.cancel(reason);
    this.fills.clear();
  }
}
