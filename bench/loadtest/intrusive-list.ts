/**
 * A doubly linked list threaded through its members' own `prev`/`next` fields: adding and removing
 * allocate nothing. For the few requests and waits each viewer has in flight at once: a `Set` per
 * viewer reallocated its hash table as its one to three entries came and went (a V8 table shrinks
 * on delete and grows again on add), once per request, and those tables lived as long as the
 * viewer's next request, long enough for the young-generation GC to copy them.
 */
export interface Linked<T> {
  prev: T | undefined;
  next: T | undefined;
}

export class IntrusiveList<T extends Linked<T>> {
  private head: T | undefined;

  add(x: T): void {
    x.prev = undefined;
    x.next = this.head;
    if (this.head) this.head.prev = x;
    this.head = x;
  }

  /** Removes `x` if it is in the list (removing one that is not does nothing). */
  remove(x: T): void {
    if (x.prev) x.prev.next = x.next;
    else if (this.head === x) this.head = x.next;
    else return;
    if (x.next) x.next.prev = x.prev;
    x.prev = undefined;
    x.next = undefined;
  }

  get empty(): boolean {
    return this.head === undefined;
  }

  /** Empties the list and returns what it held (newest first). */
  drain(): T[] {
    const out: T[] = [];
    for (let x = this.head; x;) {
      const next: T | undefined = x.next;
      x.prev = undefined;
      x.next = undefined;
      out.push(x);
      x = next;
    }
    this.head = undefined;
    return out;
  }
}
