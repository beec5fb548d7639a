/** Intrusive doubly-linked list in LRU order (head = least recently used, tail = most recent), tracking bytes. */
export interface LruNode {
  prev: LruNode | null;
  next: LruNode | null;
  size: number;
}

export class LruList<N extends LruNode> {
  private head: N | null = null;
  private tail: N | null = null;
  bytes = 0;
  count = 0;

  /** Appends at the most-recently-used end. */
  push(n: N): void {
    n.prev = this.tail;
    n.next = null;
    if (this.tail) this.tail.next = n;
    else this.head = n;
    this.tail = n;
    this.bytes += n.size;
    this.count++;
  }

  remove(n: N): void {
    if (n.prev) n.prev.next = n.next;
    else this.head = n.next as N | null;
    if (n.next) n.next.prev = n.prev;
    else this.tail = n.prev as N | null;
    n.prev = n.next = null;
    this.bytes -= n.size;
    this.count--;
  }

  /** Moves a member to the most-recently-used end. */
  touch(n: N): void {
    this.remove(n);
    this.push(n);
  }

  /** Least recently used member. */
  peekOldest(): N | null {
    return this.head;
  }

  /** Changes a member's size in place. */
  resize(n: N, size: number): void {
    this.bytes += size - n.size;
    n.size = size;
  }
}
