/**
 * Fleet membership as heartbeats in a JetStream KV bucket. Each edge puts {url, pop, name, startedAt,
 * version} under `<pop>.<id>` every `heartbeatMs`; every edge watches the bucket and judges a member
 * live while its last heartbeat arrived less than `ttlMs` ago. The age is measured on the reader's
 * clock from the moment it saw the heartbeat, so clock skew between machines does not matter, and
 * no expiry event is needed (nats-server 2.9 sends none when a key's TTL passes). A clean shutdown
 * deletes the key (leaves at once); a crashed member leaves after `ttlMs`.
 *
 * While this edge is disconnected from NATS it cannot see heartbeats, so it judges nobody: the last
 * known members stay (the peer router still skips a peer that fails), and each gets a fresh grace
 * period on reconnect.
 */
import { createHash } from 'node:crypto';
import { Kvm, type KV } from '@nats-io/kv';
import { StreamedgeError } from '../../src/errors.js';
import type { FleetConnection } from '../../src/fleet/nats-connection.js';

export const MEMBERS_BUCKET = 'streamedge_members';

export interface MemberInfo {
  url: string;
  pop: string;
  name: string;
  startedAt: string;
  version: string;
}

export interface LiveMember extends MemberInfo {
  /** Milliseconds since this edge saw the member's last heartbeat. */
  ageMs: number;
}

export interface MembershipOptions {
  self: MemberInfo;
  heartbeatMs?: number;
  /** A member whose last heartbeat is older than this has left (default 3 × heartbeat). */
  ttlMs?: number;
  now?: () => number;
}

const POP_NAME = /^[A-Za-z0-9_-]{1,64}$/;

/** The KV key of a member: `<pop>.<hash of its URL>` (KV keys allow only a few characters). */
export function memberKey(pop: string, url: string): string {
  return `${pop}.${createHash('sha256').update(url).digest('hex').slice(0, 24)}`;
}

export function checkPopName(pop: string): string {
  if (!POP_NAME.test(pop)) {
    throw new StreamedgeError('BAD_OPTION', `--pop "${pop}" must be 1-64 letters, digits, "-" or "_"`);
  }
  return pop;
}

interface Seen {
  info: MemberInfo;
  at: number;
}

export class Membership {
  readonly #seen = new Map<string, Seen>();
  readonly #listeners = new Set<(members: LiveMember[]) => void>();
  readonly #key: string;
  readonly #heartbeatMs: number;
  readonly #ttlMs: number;
  readonly #now: () => number;
  #timer: NodeJS.Timeout | undefined;
  #watching: Promise<void> | undefined;
  #stopWatch: (() => void) | undefined;
  #lastLive = '';
  #closed = false;
  #beats = 0;

  private constructor(
    private readonly conn: FleetConnection,
    private readonly kv: KV,
    private readonly o: MembershipOptions,
  ) {
    this.#key = memberKey(o.self.pop, o.self.url);
    this.#heartbeatMs = o.heartbeatMs ?? 1000;
    this.#ttlMs = o.ttlMs ?? 3 * this.#heartbeatMs;
    this.#now = o.now ?? Date.now;
  }

  /** Joins the fleet: the first heartbeat is written and the current members are read before this resolves. */
  static async join(conn: FleetConnection, o: MembershipOptions): Promise<Membership> {
    checkPopName(o.self.pop);
    const kv = await new Kvm(conn.nc).create(MEMBERS_BUCKET, { history: 1, ttl: 60_000 });
    const m = new Membership(conn, kv, o);
    await m.beat();
    await m.startWatch();
    m.#timer = setInterval(() => {
      void m.beat();
      m.sweep();
    }, m.#heartbeatMs);
    m.#timer.unref();
    conn.onChange((up) => {
      if (!up) return;
      const t = m.#now();
      for (const s of m.#seen.values()) s.at = t; // grace after an outage
      void m.beat();
    });
    return m;
  }

  get self(): MemberInfo {
    return this.o.self;
  }
  get heartbeats(): number {
    return this.#beats;
  }

  private async beat(): Promise<void> {
    if (this.#closed || !this.conn.connected) return;
    try {
      await this.kv.put(this.#key, JSON.stringify(this.o.self));
      this.#beats++;
    } catch {
      // disconnected meanwhile: the next beat after reconnect writes it
    }
  }

  private async startWatch(): Promise<void> {
    const it = await this.kv.watch({ key: '>' });
    this.#stopWatch = () => it.stop();
    let initialised!: () => void;
    const ready = new Promise<void>((r) => (initialised = r));
    this.#watching = (async () => {
      for await (const e of it) {
        if (e.operation === 'PUT') {
          try {
            const info = e.json<MemberInfo>();
            if (typeof info.url === 'string' && typeof info.pop === 'string')
              this.#seen.set(e.key, { info, at: this.#now() });
          } catch {
            // not a member record: ignore it
          }
        } else this.#seen.delete(e.key);
        if (!e.isUpdate || it.getPending() === 0) initialised();
        this.sweep();
      }
    })();
    // an empty bucket sends nothing: our own first heartbeat is in it, so one entry always arrives
    await Promise.race([ready, new Promise((r) => setTimeout(r, 2000))]);
  }

  /** Live members (of one PoP, or all), sorted by URL. */
  live(pop?: string): LiveMember[] {
    const t = this.#now();
    const out: LiveMember[] = [];
    for (const [key, s] of this.#seen) {
      const ageMs = t - s.at;
      if (key !== this.#key && this.conn.connected && ageMs >= this.#ttlMs) continue;
      if (pop !== undefined && s.info.pop !== pop) continue;
      out.push({ ...s.info, ageMs: key === this.#key ? 0 : ageMs });
    }
    if (!this.#seen.has(this.#key) && (pop === undefined || pop === this.o.self.pop))
      out.push({ ...this.o.self, ageMs: 0 });
    return out.sort((a, b) => (a.url < b.url ? -1 : a.url > b.url ? 1 : 0));
  }

  /** Calls `fn` with the live members of this edge's PoP whenever that set changes (and once now). */
  onChange(fn: (members: LiveMember[]) => void): () => void {
    this.#listeners.add(fn);
    fn(this.live(this.o.self.pop));
    return () => this.#listeners.delete(fn);
  }

  private sweep(): void {
    if (!this.conn.connected) return; // judge nobody while we cannot see heartbeats
    const members = this.live(this.o.self.pop);
    const sig = members.map((m) => m.url).join(' ');
    if (sig === this.#lastLive) return;
    this.#lastLive = sig;
    for (const fn of this.#listeners) fn(members);
  }

  /** Leaves the fleet: stops heartbeating and deletes this member's key (others see it leave at once). */
  async leave(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    if (this.conn.connected) await this.kv.delete(this.#key).catch(() => undefined);
    this.#stopWatch?.();
    await this.#watching?.catch(() => undefined);
    this.#listeners.clear();
  }
}
