/**
 * The fleet's JWKS entry relayed from the supervisor (which watches the NATS KV bucket over the
 * edge's one connection) to each worker, which verifies tokens with a KvKeySource of its own over
 * the relayed entries: same revision order, same handling of a withdrawn entry or a bad JWKS.
 */
import type { JwksBucket, JwksEntry } from '../../src/signing/kv-key-source.js';
import type { RelayedJwksEntry } from './fleet-ipc.js';

export function toRelayed(e: JwksEntry): RelayedJwksEntry {
  return { operation: e.operation, revision: e.revision, value: Buffer.from(e.value).toString('base64') };
}

function fromRelayed(e: RelayedJwksEntry): JwksEntry {
  return { operation: e.operation, revision: e.revision, value: new Uint8Array(Buffer.from(e.value, 'base64')) };
}

/** Supervisor side: the bucket as KvKeySource reads it, with every entry it sees also given to `onEntry`. */
export function teeBucket(bucket: JwksBucket, onEntry: (e: JwksEntry) => void): JwksBucket {
  return {
    get: async (key) => {
      const e = await bucket.get(key);
      if (e) onEntry(e);
      return e;
    },
    watch: async (opts) => {
      const it = await bucket.watch(opts);
      return {
        stop: () => it.stop(),
        async *[Symbol.asyncIterator]() {
          for await (const e of it) {
            onEntry(e);
            yield e;
          }
        },
      };
    },
  };
}

/**
 * Worker side: `get` asks the supervisor for the current entry; `watch` yields every entry pushed
 * since this bucket was made (so one pushed between the get and the watch is not lost).
 */
export class RelayedBucket implements JwksBucket {
  readonly #queue: JwksEntry[] = [];
  #wake: (() => void) | undefined;
  #stopped = false;

  constructor(private readonly current: () => Promise<RelayedJwksEntry | null>) {}

  /** An entry the supervisor pushed. */
  push(e: RelayedJwksEntry): void {
    this.#queue.push(fromRelayed(e));
    this.#wake?.();
  }

  async get(): Promise<JwksEntry | null> {
    const e = await this.current();
    return e ? fromRelayed(e) : null;
  }

  watch(): Promise<AsyncIterable<JwksEntry> & { stop(): void }> {
    const stop = (): void => {
      this.#stopped = true;
      this.#wake?.();
    };
    const next = async (): Promise<JwksEntry | undefined> => {
      while (this.#queue.length === 0 && !this.#stopped) await new Promise<void>((r) => (this.#wake = r));
      this.#wake = undefined;
      return this.#stopped ? undefined : this.#queue.shift();
    };
    return Promise.resolve({
      stop,
      async *[Symbol.asyncIterator]() {
        for (let e = await next(); e !== undefined; e = await next()) yield e;
      },
    });
  }
}
