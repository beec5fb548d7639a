/**
 * A push-fed async iterable of Buffers: the fill pushes upstream chunks in, the store's put
 * pulls them out at its own pace. `fail()` makes the consumer's iteration throw, so a fill
 * that breaks midway never becomes a stored object. `drained()` lets the producer wait when
 * the consumer is far behind (the store, not a client, may slow a fill).
 */
export class ByteQueue implements AsyncIterable<Buffer> {
  private readonly items: Buffer[] = [];
  private queuedBytes = 0;
  private ended = false;
  private error: Error | undefined;
  private wakeConsumer: (() => void) | undefined;
  private wakeProducer: (() => void) | undefined;

  constructor(private readonly highWaterBytes: number) {}

  get bytes(): number {
    return this.queuedBytes;
  }

  push(chunk: Buffer): void {
    if (this.ended || this.error || this.abandoned) return;
    this.items.push(chunk);
    this.queuedBytes += chunk.length;
    this.wakeConsumer?.();
  }

  end(): void {
    this.ended = true;
    this.wakeConsumer?.();
  }

  fail(e: Error): void {
    if (this.ended) return;
    this.error = e;
    this.items.length = 0;
    this.queuedBytes = 0;
    this.wakeConsumer?.();
    this.wakeProducer?.();
  }

  /** Resolves when the queue holds less than its high-water mark (or the consumer stopped). */
  drained(): Promise<void> {
    if (this.queuedBytes < this.highWaterBytes || this.error || this.abandoned) return Promise.resolve();
    return new Promise((resolve) => {
      this.wakeProducer = () => {
        this.wakeProducer = undefined;
        resolve();
      };
    });
  }

  private abandoned = false;

  /** The consumer will not read (any more): drop what is queued, never block the producer. */
  abandon(): void {
    this.abandoned = true;
    this.items.length = 0;
    this.queuedBytes = 0;
    this.wakeProducer?.();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Buffer> {
    try {
      for (;;) {
        if (this.error) throw this.error;
        const next = this.items.shift();
        if (next) {
          this.queuedBytes -= next.length;
          if (this.queuedBytes < this.highWaterBytes) this.wakeProducer?.();
          yield next;
          continue;
        }
        if (this.ended) return;
        await new Promise<void>((resolve) => {
          this.wakeConsumer = () => {
            this.wakeConsumer = undefined;
            resolve();
          };
        });
      }
    } finally {
      // the consumer stopped early (store refused or closed): never block the producer again
      this.abandon();
    }
  }
}
