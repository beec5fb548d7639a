/**
 * Verification keys that follow their files: one KeySource over the configured keys, re-read when
 * a JWKS, PEM or secret file changes, so keys rotate without a restart. Used by origin and edge.
 */
import { unwatchFile, watchFile, type Stats } from 'node:fs';
import { resolveVerificationKeys, type VerificationKeyConfig } from './key-config.js';
import type { KeyLookup, KeySource, TokenAlg } from './keys.js';

/** Where key reloads are reported (a pino logger fits). */
export interface KeyLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

/**
 * The configured verification keys as one source, re-read when a key file changes (JWKS, PEM or
 * secret file): replace the file to rotate keys without a restart. A file that fails to load
 * keeps the previous keys (logged by file name, never content).
 */
export class ReloadingKeySource implements KeySource {
  #inner: KeySource;
  #base = 0;
  readonly #listeners = new Set<() => void>();
  readonly #files: string[];

  readonly #onChange = (cur: Stats, prev: Stats): void => {
    if (cur.mtimeMs !== prev.mtimeMs || cur.size !== prev.size || cur.ino !== prev.ino) void this.reload();
  };

  private constructor(
    private readonly cfg: VerificationKeyConfig,
    inner: KeySource,
    private readonly log: KeyLog | undefined,
    intervalMs: number,
  ) {
    this.#inner = inner;
    this.#files = [...(cfg.jwksFiles ?? []), ...(cfg.publicKeyFiles ?? []).map((s) => s.slice(s.indexOf('=') + 1))];
    if (cfg.secretFile !== undefined) this.#files.push(cfg.secretFile);
    for (const f of this.#files) watchFile(f, { interval: intervalMs, persistent: false }, this.#onChange);
  }

  static async open(
    cfg: VerificationKeyConfig,
    opts: { log?: KeyLog; intervalMs?: number } = {},
  ): Promise<ReloadingKeySource> {
    return new ReloadingKeySource(cfg, await resolveVerificationKeys(cfg), opts.log, opts.intervalMs ?? 1000);
  }

  get generation(): number {
    return this.#base + this.#inner.generation;
  }
  algorithms(): ReadonlySet<TokenAlg> {
    return this.#inner.algorithms();
  }
  lookup(alg: TokenAlg, kid: string | undefined): Promise<KeyLookup> {
    return this.#inner.lookup(alg, kid);
  }
  /** Calls `fn` after every successful reload; returns an unsubscribe function. */
  onReload(fn: () => void): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }
  /** Re-reads every configured key now; true when the new keys are in use. */
  async reload(): Promise<boolean> {
    try {
      const next = await resolveVerificationKeys(this.cfg);
      this.#base = this.generation + 1; // strictly increases: verifiers drop cached results
      this.#inner = next;
      this.log?.info({ files: this.#files }, 'signing keys reloaded');
      for (const fn of this.#listeners) fn();
      return true;
    } catch (e) {
      this.log?.warn(
        { files: this.#files, msg: (e as Error).message },
        'signing keys not reloaded: keeping the previous keys',
      );
      return false;
    }
  }
  close(): void {
    for (const f of this.#files) unwatchFile(f, this.#onChange);
    this.#listeners.clear();
  }
}
