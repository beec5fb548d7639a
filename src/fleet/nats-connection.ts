/**
 * One connection to NATS for the fleet: the credential (user + password, token or NKey seed) comes
 * from a file or the environment, never from the command line; TLS when asked; automatic reconnect
 * with exponential backoff and jitter, forever. The state (connected or not, why) is kept for
 * health and for purge, which refuses while disconnected. Secrets never reach a log line.
 */
import { readFileSync } from 'node:fs';
import {
  connect,
  nkeyAuthenticator,
  tokenAuthenticator,
  usernamePasswordAuthenticator,
  type Authenticator,
  type NatsConnection,
} from '@nats-io/transport-node';
import { StreamedgeError } from '../errors.js';

export const NATS_PASSWORD_ENV = 'STREAMEDGE_NATS_PASSWORD';
export const NATS_TOKEN_ENV = 'STREAMEDGE_NATS_TOKEN';
export const NATS_NKEY_ENV = 'STREAMEDGE_NATS_NKEY_SEED';

export type NatsCredential =
  { kind: 'user'; user: string; password: string } | { kind: 'token'; token: string } | { kind: 'nkey'; seed: string };

export interface NatsTls {
  caFile?: string;
  certFile?: string;
  keyFile?: string;
}

export interface FleetConnectionOptions {
  /** nats://host:port or tls://host:port (several, comma-separated). No credential in it. */
  url: string;
  credential?: NatsCredential;
  tls?: NatsTls;
  /** Client name shown by the server (e.g. the edge's name). */
  name?: string;
  /** First reconnect delay; doubles up to maxBackoffMs (default 250 ms → 5 s). */
  backoffMs?: number;
  maxBackoffMs?: number;
  log?: { info(o: object, m: string): void; warn(o: object, m: string): void };
}

/** Where the credential is read from: files first, else the environment. */
export interface NatsCredentialSources {
  user?: string;
  passwordFile?: string;
  tokenFile?: string;
  nkeyFile?: string;
}

function readSecret(file: string, what: string): string {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch (e) {
    throw new StreamedgeError(
      'KEY_FILE',
      `cannot read ${what} file ${file}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`,
    );
  }
}

/** The NATS credential from files or $STREAMEDGE_NATS_PASSWORD / _TOKEN / _NKEY_SEED (undefined = none). */
export function natsCredentialFrom(
  s: NatsCredentialSources,
  env: NodeJS.ProcessEnv = process.env,
): NatsCredential | undefined {
  const nonEmpty = (v: string | undefined): string | undefined => (v !== undefined && v !== '' ? v : undefined);
  if (s.nkeyFile !== undefined) return { kind: 'nkey', seed: readSecret(s.nkeyFile, 'the NATS NKey seed') };
  if (s.tokenFile !== undefined) return { kind: 'token', token: readSecret(s.tokenFile, 'the NATS token') };
  if (s.user !== undefined) {
    const password =
      s.passwordFile !== undefined ? readSecret(s.passwordFile, 'the NATS password') : nonEmpty(env[NATS_PASSWORD_ENV]);
    if (password === undefined) {
      throw new StreamedgeError(
        'BAD_OPTION',
        `--nats-user needs --nats-password-file or $${NATS_PASSWORD_ENV} (never a password on the command line)`,
      );
    }
    return { kind: 'user', user: s.user, password };
  }
  const seed = nonEmpty(env[NATS_NKEY_ENV]);
  if (seed !== undefined) return { kind: 'nkey', seed };
  const token = nonEmpty(env[NATS_TOKEN_ENV]);
  if (token !== undefined) return { kind: 'token', token };
  return undefined;
}

/** The URL without any userinfo (safe for logs and health). */
export function redactNatsUrl(url: string): string {
  return url
    .split(',')
    .map((u) => u.trim().replace(/^([a-z]+:\/\/)[^@/]*@/i, '$1'))
    .join(',');
}

function authenticator(c: NatsCredential): Authenticator {
  if (c.kind === 'user') return usernamePasswordAuthenticator(c.user, c.password);
  if (c.kind === 'token') return tokenAuthenticator(c.token);
  return nkeyAuthenticator(new TextEncoder().encode(c.seed));
}

export class FleetConnection {
  #connected = true;
  #reason = '';
  #reconnects = 0;
  #listeners = new Set<(connected: boolean) => void>();

  private constructor(
    readonly nc: NatsConnection,
    readonly url: string,
    private readonly log: FleetConnectionOptions['log'],
  ) {
    void this.watchStatus();
  }

  static async open(o: FleetConnectionOptions): Promise<FleetConnection> {
    if (/^[a-z]+:\/\/[^/]*@/i.test(o.url)) {
      throw new StreamedgeError(
        'BAD_OPTION',
        '--nats: put no credential in the URL; use --nats-user with --nats-password-file, --nats-token-file, --nats-nkey-file or the environment',
      );
    }
    const base = o.backoffMs ?? 250;
    const max = o.maxBackoffMs ?? 5000;
    let attempt = 0;
    const tls = o.tls && Object.keys(o.tls).length > 0 ? o.tls : undefined;
    let nc: NatsConnection;
    try {
      nc = await connect({
        servers: o.url.split(',').map((s) => s.trim()),
        ...(o.name !== undefined ? { name: o.name } : {}),
        ...(o.credential ? { authenticator: authenticator(o.credential) } : {}),
        ...(tls ? { tls } : {}),
        reconnect: true,
        maxReconnectAttempts: -1,
        reconnectDelayHandler: () => {
          const d = Math.min(max, base * 2 ** Math.min(attempt++, 10));
          return d / 2 + Math.random() * (d / 2);
        },
        pingInterval: 2000,
        maxPingOut: 2,
        timeout: 5000,
      });
    } catch (e) {
      throw new StreamedgeError(
        'NATS_CONNECT',
        `cannot connect to NATS at ${redactNatsUrl(o.url)}: ${(e as Error).message}`,
      );
    }
    const c = new FleetConnection(nc, redactNatsUrl(o.url), o.log);
    c.onChange((up) => {
      if (up) attempt = 0;
    });
    return c;
  }

  get connected(): boolean {
    return this.#connected && !this.nc.isClosed();
  }
  /** Why the connection is down ('' when up). */
  get reason(): string {
    return this.connected ? '' : this.#reason || 'closed';
  }
  get reconnects(): number {
    return this.#reconnects;
  }

  onChange(fn: (connected: boolean) => void): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  private set(up: boolean, reason: string): void {
    const changed = up !== this.#connected;
    this.#connected = up;
    this.#reason = reason;
    if (changed) for (const fn of this.#listeners) fn(up);
  }

  private async watchStatus(): Promise<void> {
    for await (const s of this.nc.status()) {
      if (s.type === 'disconnect') {
        this.log?.warn({ nats: this.url }, 'NATS disconnected: reconnecting with backoff');
        this.set(false, `disconnected from NATS at ${this.url}`);
      } else if (s.type === 'reconnect') {
        this.#reconnects++;
        this.log?.info({ nats: this.url }, 'NATS reconnected');
        this.set(true, '');
      } else if (s.type === 'error') {
        this.log?.warn({ nats: this.url, msg: s.error.message }, 'NATS error');
      }
    }
  }

  async close(): Promise<void> {
    if (this.nc.isClosed()) return;
    await this.nc.drain().catch(() => this.nc.close());
    this.set(false, 'closed');
  }
}
