/**
 * A server certificate that follows its files, like the signing keys
 * (src/signing/reloading-key-source.ts): `--tls-cert`/`--tls-key` are watched, and when either
 * changes the pair is re-read, checked (readable, key matches certificate) and swapped into every
 * attached server with `server.setSecureContext`: new connections get the new certificate,
 * established ones carry on, nothing restarts. A pair that fails to load keeps the previous one
 * (logged by file name, never content). A certificate outside its validity period is a warning
 * with the date, at start and at each reload.
 */
import { unwatchFile, watchFile, type Stats } from 'node:fs';
import type { Server as TlsServer } from 'node:tls';
import { loadTlsMaterial, validityWarning, type TlsFiles, type TlsMaterial } from './tls-material.js';
import { TLS_PROTOCOL_OPTIONS } from './secure-server-options.js';

/** Where certificate loads are reported (a pino logger fits). */
export interface TlsLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export class ReloadingTls {
  #material: TlsMaterial;
  #generation = 0;
  readonly #servers = new Set<TlsServer>();
  readonly #listeners = new Set<(m: TlsMaterial) => void>();
  #closed = false;
  #ticketKeys: Buffer | undefined;

  readonly #onChange = (cur: Stats, prev: Stats): void => {
    if (cur.mtimeMs !== prev.mtimeMs || cur.size !== prev.size || cur.ino !== prev.ino) void this.reload();
  };

  private constructor(
    readonly files: TlsFiles,
    material: TlsMaterial,
    private readonly log: TlsLog | undefined,
    intervalMs: number,
  ) {
    this.#material = material;
    for (const f of [files.certFile, files.keyFile]) {
      watchFile(f, { interval: intervalMs, persistent: false }, this.#onChange);
    }
  }

  /** Loads the pair (throws a StreamedgeError naming the file on a bad one) and starts watching it. */
  static async open(files: TlsFiles, opts: { log?: TlsLog; intervalMs?: number } = {}): Promise<ReloadingTls> {
    const m = await loadTlsMaterial(files);
    const t = new ReloadingTls(files, m, opts.log, opts.intervalMs ?? 1000);
    t.#report('TLS certificate loaded');
    return t;
  }

  get material(): TlsMaterial {
    return this.#material;
  }

  /** Increases with each successful reload. */
  get generation(): number {
    return this.#generation;
  }

  /** The session ticket keys every attached server uses (undefined: each server its own random ones). */
  get ticketKeys(): Buffer | undefined {
    return this.#ticketKeys;
  }

  /**
   * Shares TLS session ticket keys (48 bytes) with other processes serving the same name (the
   * workers of one edge), so a session resumes whichever of them answers. Applies to every
   * attached server now and to servers attached later, and survives certificate reloads.
   */
  setTicketKeys(keys: Buffer): void {
    if (keys.length !== 48) throw new RangeError('TLS session ticket keys are 48 bytes');
    this.#ticketKeys = Buffer.from(keys);
    for (const s of this.#servers) s.setTicketKeys(this.#ticketKeys);
  }

  /** Keeps `server`'s certificate current (until close()). */
  attach(server: TlsServer): void {
    if (this.#ticketKeys) server.setTicketKeys(this.#ticketKeys);
    this.#servers.add(server);
    server.once('close', () => this.#servers.delete(server));
  }

  /** Calls `fn` with the new material after every successful reload; returns an unsubscribe function. */
  onReload(fn: (m: TlsMaterial) => void): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  /** Re-reads both files now; true when the new pair is in use. */
  async reload(): Promise<boolean> {
    if (this.#closed) return false;
    let next: TlsMaterial;
    try {
      next = await loadTlsMaterial(this.files);
    } catch (e) {
      this.log?.warn(
        { certFile: this.files.certFile, keyFile: this.files.keyFile, msg: (e as Error).message },
        'TLS certificate not reloaded: keeping the previous one',
      );
      return false;
    }
    if (next.fingerprint256 === this.#material.fingerprint256 && next.key.equals(this.#material.key)) return true;
    this.#material = next;
    this.#generation++;
    for (const s of this.#servers) {
      s.setSecureContext({
        ...TLS_PROTOCOL_OPTIONS,
        cert: next.cert,
        key: next.key,
        ...(this.#ticketKeys ? { ticketKeys: this.#ticketKeys } : {}),
      });
    }
    this.#report('TLS certificate reloaded');
    for (const fn of this.#listeners) fn(next);
    return true;
  }

  #report(msg: string): void {
    const m = this.#material;
    this.log?.info(
      {
        certFile: this.files.certFile,
        subject: m.subject,
        subjectAltName: m.subjectAltName,
        validTo: m.validTo.toISOString(),
        fingerprint256: m.fingerprint256,
      },
      msg,
    );
    const warning = validityWarning(m, this.files.certFile);
    if (warning) this.log?.warn({ certFile: this.files.certFile, validTo: m.validTo.toISOString() }, warning);
  }

  close(): void {
    this.#closed = true;
    for (const f of [this.files.certFile, this.files.keyFile]) unwatchFile(f, this.#onChange);
    this.#servers.clear();
    this.#listeners.clear();
  }
}
