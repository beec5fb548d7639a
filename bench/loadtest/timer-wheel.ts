/**
 * One timer for every wait of every viewer in a thread: deadlines go into 10 ms slots, and a
 * single Node timer is armed for the earliest slot. Thousands of viewers then cost one timer
 * callback per slot instead of one timer (and one abort listener) each.
 */
const SLOT_MS = 10;

interface Entry {
  fn: () => void;
}

export class TimerWheel {
  private readonly slots = new Map<number, Entry[]>();
  /** The slots that hold entries, ascending. */
  private readonly order: number[] = [];
  private armedSlot = Infinity;
  private timer: NodeJS.Timeout | undefined;
  private readonly fire = () => this.tick();

  /** Runs `fn` after `ms` (rounded up to the next 10 ms slot). Returns a handle for cancel(). */
  after(ms: number, fn: () => void): object {
    const slot = Math.ceil((performance.now() + Math.max(0, ms)) / SLOT_MS);
    const entry: Entry = { fn };
    const list = this.slots.get(slot);
    if (list) list.push(entry);
    else {
      this.slots.set(slot, [entry]);
      // binary insertion: new slots are rare next to new entries
      let lo = 0;
      let hi = this.order.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (this.order[mid] < slot) lo = mid + 1;
        else hi = mid;
      }
      this.order.splice(lo, 0, slot);
    }
    if (slot < this.armedSlot) this.arm(slot);
    return entry;
  }

  /** Makes a pending `after` do nothing. */
  cancel(handle: object): void {
    (handle as Entry).fn = noop;
  }

  /** Drops every pending entry (their functions never run). */
  clear(): void {
    this.slots.clear();
    this.order.length = 0;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.armedSlot = Infinity;
  }

  get pending(): number {
    let n = 0;
    for (const l of this.slots.values()) n += l.length;
    return n;
  }

  private arm(slot: number): void {
    clearTimeout(this.timer);
    this.armedSlot = slot;
    this.timer = setTimeout(this.fire, Math.max(0, slot * SLOT_MS - performance.now()));
  }

  private tick(): void {
    this.timer = undefined;
    this.armedSlot = Infinity;
    const now = performance.now() / SLOT_MS;
    let due = 0;
    while (due < this.order.length && this.order[due] <= now) due++;
    const slots = this.order.splice(0, due);
    for (const slot of slots) {
      const list = this.slots.get(slot)!;
      this.slots.delete(slot);
      for (const e of list) e.fn();
    }
    // entries added while firing are in `order` too
    if (this.order.length > 0) this.arm(this.order[0]);
  }
}

function noop(): void {}
