/**
 * One timer for every wait of every viewer in a thread: deadlines go into 10 ms slots, and a
 * single Node timer is armed for the earliest slot. Thousands of viewers then cost one timer
 * callback per slot instead of one timer (and one abort listener) each.
 */
import { createHistogram, type RecordableHistogram } from 'node:perf_hooks';

const SLOT_MS = 10;

/**
 * What the wheel runs: `fn` is called as a method of the entry (`entry.fn()`), so a caller's own
 * object with an `fn` method can be the entry itself (schedule()), with no closure or wrapper
 * allocated per wait.
 */
export interface WheelEntry {
  fn(): void;
}
type Entry = WheelEntry;

export class TimerWheel {
  /**
   * How late the wheel ran its entries (µs): per turn, the time from its last entry's slot to
   * when that entry ran: how late the viewers' own timers were, which a viewer pool counts with
   * the event loop's delay. (A bound on the entries run per turn, the rest left to the next turn,
   * was tried and removed: it capped how many waits a thread could end per second, and 5,000
   * viewers' reloads outran it on a loaded box.)
   */
  readonly lateness: RecordableHistogram = createHistogram();
  private readonly slots = new Map<number, Entry[]>();
  /** The slots that hold entries, ascending. */
  private readonly order: number[] = [];
  private armedSlot = Infinity;
  private timer: NodeJS.Timeout | undefined;
  /** Entries of the first slot in `order` already run. */
  private ran = 0;
  /** A turn is running (runDue from inside an entry does nothing). */
  private ticking = false;
  private readonly fire = () => this.tick();

  /** Runs `fn` after `ms` (rounded up to the next 10 ms slot). Returns a handle for cancel(). */
  after(ms: number, fn: () => void): object {
    const entry: Entry = { fn };
    this.schedule(ms, entry);
    return entry;
  }

  /**
   * Calls `entry.fn()` after `ms` (rounded up to the next 10 ms slot): the entry is its own handle
   * for cancel(). An entry is scheduled once at a time.
   */
  schedule(ms: number, entry: WheelEntry): void {
    const slot = Math.ceil((performance.now() + Math.max(0, ms)) / SLOT_MS);
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
  }

  /** Makes a pending `after` do nothing. */
  cancel(handle: object): void {
    (handle as Entry).fn = noop;
  }

  /** Drops every pending entry (their functions never run). */
  clear(): void {
    this.slots.clear();
    this.order.length = 0;
    this.ran = 0;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.armedSlot = Infinity;
  }

  /**
   * Runs the entries already due, between the wheel's own timer turns: called from I/O callbacks
   * (each response a viewer gets) with their `performance.now()`. libuv runs timers only between
   * poll phases, and one poll phase handles up to 48 rounds of 1,024 ready sockets when each round
   * comes back full: with thousands of busy connections in one thread (and a server that answers
   * at once) that is seconds of I/O callbacks during which no timer runs, and every viewer's
   * reload and ramp start waited for it. Driven from the I/O as well, the viewers' waits end on
   * time; `lateness` records these turns too.
   */
  runDue(now: number): void {
    if (!this.ticking && now >= this.armedSlot * SLOT_MS) this.tick(now);
  }

  get pending(): number {
    let n = 0;
    for (const l of this.slots.values()) n += l.length;
    return n - this.ran;
  }

  private arm(slot: number): void {
    clearTimeout(this.timer);
    this.armedSlot = slot;
    this.timer = setTimeout(this.fire, Math.max(0, slot * SLOT_MS - performance.now()));
  }

  private tick(at = performance.now()): void {
    this.ticking = true;
    try {
      this.turn(at);
    } finally {
      this.ticking = false;
    }
  }

  private turn(at: number): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.armedSlot = Infinity;
    const now = at / SLOT_MS;
    let lastSlot = -1;
    // slots in order; entries added while firing land in a later slot or at the end of this one
    while (this.order.length > 0 && this.order[0] <= now) {
      const list = this.slots.get(this.order[0])!;
      while (this.ran < list.length) {
        lastSlot = this.order[0];
        list[this.ran++].fn();
      }
      this.slots.delete(this.order[0]);
      this.order.shift();
      this.ran = 0;
    }
    this.recordLateness(lastSlot);
    if (this.order.length > 0) this.arm(this.order[0]);
  }

  private recordLateness(slot: number): void {
    if (slot >= 0) this.lateness.record(Math.max(1, Math.round((performance.now() - slot * SLOT_MS) * 1000)));
  }
}

function noop(): void {}
