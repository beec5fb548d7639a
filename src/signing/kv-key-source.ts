/**
 * Verification keys from a NATS JetStream KV bucket: the JWKS under one key, watched, so a kid
 * added (or withdrawn) by `streamedge keys rotate` reaches every process without a restart. A value
 * that is not a valid JWKS keeps the previous keys (logged without content). An empty or absent
 * entry means no keys (every token is refused until one is published).
 */
import { StaticKeySet, verificationKeysFromJwks, type KeyLookup, type KeySource, type TokenAlg } from './keys.js';
import type { KeyLog } from './reloading-key-source.js';

/** The bucket and entry the fleet keeps its JWKS in. */
export const KEYS_BUCKET = 'streamedge_keys';
export const JWKS_ENTRY = 'jwks';

/** One value of the JWKS entry: a NATS KV entry, or one relayed from the process that watches it. */
export interface JwksEntry {
  operation: string;
  value: Uint8Array;
  revision: number;
}

/**
 * What KvKeySource reads the JWKS from: a NATS KV bucket (`@nats-io/kv`'s KV fits), or the
 * relay a multi-worker edge's worker reads its supervisor's bucket through (edge/cluster).
 */
export interface JwksBucket {
  get(key: string): Promise<JwksEntry | null>;
  watch(opts: { key: string; include: 'updates' }): Promise<AsyncIterable<JwksEntry> & { stop(): void }>;
}

export class KvKeySource implements KeySource {
  readonly #set = new StaticKeySet();
  readonly #listeners = new Set<() => void>();
  #revision = 0;
  #stop: (() => void) | undefined;
  #loop: Promise<void> | undefined;

  private constructor(private readonly log: KeyLog | undefined) {}

  /** Reads the current JWKS and follows changes; resolves once the current value is loaded. */
  static async open(kv: JwksBucket, opts: { log?: KeyLog; entry?: string } = {}): Promise<KvKeySource> {
    const src = new KvKeySource(opts.log);
    const entry = opts.entry ?? JWKS_ENTRY;
    const first = await kv.get(entry);
    if (first && first.operation === 'PUT') await src.load(first.value, first.revision);
    const it = await kv.watch({ key: entry, include: 'updates' });
    src.#stop = () => it.stop();
    src.#loop = (async () => {
      for await (const e of it) {
        if (e.revision <= src.#revision) continue;
        if (e.operation === 'PUT') await src.load(e.value, e.revision);
        else {
          src.#revision = e.revision;
          src.#set.replace([]);
          src.log?.warn({ entry }, 'signing keys withdrawn from the fleet (entry deleted)');
          src.changed();
        }
      }
    })();
    return src;
  }

  private async load(value: Uint8Array, revision: number): Promise<void> {
    try {
      const keys = await verificationKeysFromJwks(
        JSON.parse(new TextDecoder().decode(value)),
        `${KEYS_BUCKET}/${JWKS_ENTRY}`,
      );
      this.#set.replace(keys);
      this.#revision = revision;
      this.log?.info({ revision, kids: keys.map((k) => k.kid ?? '(none)') }, 'signing keys loaded from the fleet');
      this.changed();
    } catch (e) {
      this.log?.warn(
        { revision, msg: e instanceof SyntaxError ? 'not JSON' : (e as Error).message },
        'fleet signing keys not loaded: keeping the previous keys',
      );
    }
  }

  private changed(): void {
    for (const fn of this.#listeners) fn();
  }

  get generation(): number {
    return this.#set.generation;
  }
  /** The revision of the JWKS entry in use (0 = none yet). */
  get revision(): number {
    return this.#revision;
  }
  kids(): string[] {
    return this.#set.keys().map((k) => k.kid ?? '');
  }
  algorithms(): ReadonlySet<TokenAlg> {
    return this.#set.algorithms();
  }
  lookup(alg: TokenAlg, kid: string | undefined): Promise<KeyLookup> {
    return this.#set.lookup(alg, kid);
  }
  onReload(fn: () => void): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }
  async close(): Promise<void> {
    this.#stop?.();
    await this.#loop?.catch(() => undefined);
    this.#listeners.clear();
  }
}
