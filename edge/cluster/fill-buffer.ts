/**
 * One fill's bytes as they arrive, for any number of readers that may join late: each reader gets
 * every chunk from the first one on, then live chunks, then the end (or the error).
 */
export interface FillHead {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** Set when the owning peer of the PoP answered (it stores the object, this edge does not). */
  viaPeer?: string;
}

export class FillBuffer {
  head: FillHead | undefined;
  readonly chunks: Buffer[] = [];
  private ended = false;
  private failed: Error | undefined;
  private wake: (() => void)[] = [];
  private headWaiters: { resolve: (h: FillHead) => void; reject: (e: Error) => void }[] = [];

  setHead(h: FillHead): void {
    this.head = h;
    for (const w of this.headWaiters.splice(0)) w.resolve(h);
  }

  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.notify();
  }

  end(): void {
    this.ended = true;
    this.notify();
  }

  fail(e: Error): void {
    if (this.ended || this.failed) return;
    this.failed = e;
    for (const w of this.headWaiters.splice(0)) w.reject(e);
    this.notify();
  }

  /** The body arrived whole (not failed). */
  get complete(): boolean {
    return this.ended;
  }

  get done(): boolean {
    return this.ended || this.failed !== undefined;
  }

  /** Bytes received so far. */
  get size(): number {
    let n = 0;
    for (const c of this.chunks) n += c.length;
    return n;
  }

  headReady(): Promise<FillHead> {
    if (this.head) return Promise.resolve(this.head);
    if (this.failed) return Promise.reject(this.failed);
    return new Promise((resolve, reject) => this.headWaiters.push({ resolve, reject }));
  }

  /** Every chunk from the start, then live ones; throws the fill's error if it failed. */
  async *read(): AsyncGenerator<Buffer> {
    let i = 0;
    for (;;) {
      while (i < this.chunks.length) yield this.chunks[i++];
      if (this.failed) throw this.failed;
      if (this.ended) return;
      await new Promise<void>((r) => this.wake.push(r));
    }
  }

  private notify(): void {
    for (const w of this.wake.splice(0)) w();
  }
}
