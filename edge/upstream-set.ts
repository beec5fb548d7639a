/**
 * Primary/backup upstreams (`--upstream <a>,<b>`): which one a request goes to, and failover.
 *
 * Requests go to the first healthy upstream in the order given (the "current" one). An upstream
 * is marked down when a request to it fails to connect (TLS verification included), times out
 * before its response head (silence: `timeoutMs` for ordinary requests; requests the upstream
 * holds, LL-HLS blocking reloads, keep their longer timeout), answers 5xx, or breaks off a body
 * midway. A 5xx answered for a live channel (`/live/<channel>/…`) moves that channel alone, as
 * duress does (below): an origin answers 503 for one channel whose encoder is starting, has
 * failed or lags (a held reload or part not produced within three target durations), while its
 * other channels and its VOD are fine; until session 47 that 503 marked the whole origin down
 * (its own back-off and trial return; segment affinity does not hold a segment there). A request
 * that failed that way before its response head is retried at once on the next upstream: nothing
 * has reached the client yet (an edge only sends what it got after the head).
 * When an upstream is marked down, requests still waiting for its head (held blocking reloads,
 * held parts) are cancelled and retried on the next one too. A body that breaks midway cannot be
 * retried: the fill fails and its readers' responses are aborted (edge/fill.ts), never cached.
 *
 * Return to the primary is passive with back-off: once the back-off (1 s, doubling per failure
 * in a row, at most 30 s) has passed, ONE request tries it again (the others stay on the
 * backup); a good answer makes it current again, a failure doubles the back-off and the request
 * goes on to the backup, so a viewer never waits for a probe. No extra traffic, no health path
 * to agree on with the tier above (an origin and a shield edge answer health at different paths).
 *
 * Duress (CTA-5006 CMSD-Dynamic `du`: "move to another server if you can"): an upstream whose
 * answer says it is under duress is used for that answer (it is a good one) but new requests go
 * to the next upstream, as after a failure, with the same back-off and trial return (in-flight
 * requests to it are not cancelled). Duress said on a live channel's answer (`/live/<channel>/…`,
 * also behind `/t/<token>`) moves that channel alone: an origin says `du` for one lagging
 * encoder, and its other channels (and VOD) stay where they are. On any other path it moves the
 * whole upstream. With a single upstream it changes nothing.
 *
 * Segment affinity: a live media segment and its parts (`seg-<n>.m4s`, `seg-<n>.<p>.m4s`) go to
 * the upstream that served the segment's first piece while it is healthy, so the return to the
 * primary never splits a segment between two encoders (their bytes differ, their timelines do
 * not; see the README, "Redundant live origins"). Only a failover in the middle of a segment
 * splits one: the old upstream is gone.
 */
import type { Readable } from 'node:stream';
import { StreamedgeError } from '../src/errors.js';
import { type Upstream, type UpstreamRequestInit, type UpstreamResponse, upstreamError } from './upstream.js';
import { CMSD_DYNAMIC, cmsdAdvice } from '../src/http/cmsd.js';

/** Whether a response's CMSD-Dynamic has a hop under duress. */
function underDuress(headers: UpstreamResponse['headers']): boolean {
  const v = headers[CMSD_DYNAMIC];
  if (v === undefined) return false;
  return cmsdAdvice(Array.isArray(v) ? v.join(', ') : v).duress;
}

/**
 * The part of the URL space a `du` applies to: a live channel (`/live/<channel>/`, the origin's
 * URL layout, also behind a signed path `/t/<token>/`), or '' (the whole upstream).
 */
export function duressScope(target: string): string {
  return LIVE_CHANNEL.exec(target)?.[1] ?? '';
}
const LIVE_CHANNEL = /^(?:\/t\/[^/?#]+)?(\/live\/[^/?#]+\/)/;

export interface UpstreamSetOptions {
  /** Base URLs (origin plus an optional path prefix, no trailing slash), primary first. */
  bases: string[];
  /** Longest wait for a response head before an ordinary request fails over (with a backup). */
  timeoutMs: number;
  /** Back-off before a failed upstream is tried again: first, and most (default 1 s, 30 s). */
  retryInitialMs?: number;
  retryMaxMs?: number;
  now?: () => number;
  /**
   * `current` moved from one upstream to another (a failover, or the return to the primary); with
   * `scope`, only that live channel's requests moved (duress, or its return).
   */
  onSwitch?: (from: string, to: string, reason: string, scope?: string) => void;
}

/** One upstream as health and the admin view show it. */
export interface UpstreamMemberState {
  url: string;
  role: 'primary' | 'backup';
  healthy: boolean;
  current: boolean;
  /** Failures in a row (0 when healthy). */
  failures: number;
  lastError?: string;
  /** When it will be tried again (ISO time), while down. */
  retryAt?: string;
  /** Live channels it said it is under duress for: their requests go elsewhere until retryAt. */
  duress?: { scope: string; failures: number; retryAt: string }[];
  /** Live channels it answered 5xx for: their requests go elsewhere until retryAt. */
  channelsDown?: { scope: string; failures: number; retryAt: string; lastError: string }[];
}

/** Back-off state: of an upstream as a whole, or of one live channel on it (duress). */
interface Health {
  downUntil: number;
  failures: number;
  lastError?: string;
  /** A request is trying it after its back-off. */
  trial: boolean;
  /** Of a live channel on an upstream: what holds it back (its `du`, or a 5xx it answered). */
  reason?: ChannelHold;
}

type ChannelHold = 'duress' | '5xx';

interface Member extends Health {
  base: string;
  origin: string;
  prefix: string;
  index: number;
  /** Live channel (duressScope) → its back-off on this upstream (duress, or a 5xx it answered). */
  scopes: Map<string, Health>;
  /** Requests waiting for a response head: cancelled (and retried elsewhere) if it goes down. */
  pending: Set<AbortController>;
}

/** Path of a live media segment or part: its segment (`…/seg-<n>`) is the affinity key. */
const SEGMENT_PIECE = /^([^?#]*\/seg-\d+)(?:\.\d+)?\.m4s(?:[?#]|$)/;
const AFFINITY_LIMIT = 4096;
/** Live channels under duress remembered per upstream (the oldest is forgotten beyond this). */
const SCOPE_LIMIT = 1024;
const FAILOVER = 'upstream marked down';
const DURESS = 'under duress (CMSD-Dynamic du)';

export class UpstreamSet {
  private readonly members: Member[];
  private readonly now: () => number;
  private currentIndex = 0;
  /** Segment → index of the upstream that served its first piece (insertion-ordered, bounded). */
  private readonly affinity = new Map<string, number>();

  constructor(
    private readonly upstream: Pick<Upstream, 'request'>,
    private readonly opts: UpstreamSetOptions,
  ) {
    if (opts.bases.length === 0) throw new StreamedgeError('BAD_OPTION', 'at least one upstream is needed');
    this.now = opts.now ?? Date.now;
    this.members = opts.bases.map((base, index) => {
      const u = new URL(base);
      return {
        base,
        origin: `${u.protocol}//${u.host}`,
        prefix: u.pathname === '/' ? '' : u.pathname,
        index,
        downUntil: 0,
        failures: 0,
        trial: false,
        scopes: new Map(),
        pending: new Set(),
      };
    });
  }

  /** The upstream new requests go to. */
  get current(): string {
    return this.members[this.currentIndex].base;
  }

  get size(): number {
    return this.members.length;
  }

  state(): UpstreamMemberState[] {
    const now = this.now();
    return this.members.map((m) => ({
      url: m.base,
      role: m.index === 0 ? 'primary' : 'backup',
      healthy: m.failures === 0,
      current: m.index === this.currentIndex,
      failures: m.failures,
      ...(m.lastError !== undefined && m.failures > 0 ? { lastError: m.lastError } : {}),
      ...(m.failures > 0 ? { retryAt: new Date(Math.max(now, m.downUntil)).toISOString() } : {}),
      ...this.channelHolds(m, now),
    }));
  }

  /** `m`'s live channels held back, by what holds them (no field for none). */
  private channelHolds(m: Member, now: number): Pick<UpstreamMemberState, 'duress' | 'channelsDown'> {
    const of = (reason: ChannelHold) =>
      [...m.scopes]
        .filter(([, h]) => h.reason === reason)
        .map(([scope, h]) => ({
          scope,
          failures: h.failures,
          retryAt: new Date(Math.max(now, h.downUntil)).toISOString(),
          lastError: h.lastError ?? '',
        }));
    const duress = of('duress').map(({ lastError: _said, ...d }) => d);
    const down = of('5xx');
    return { ...(duress.length ? { duress } : {}), ...(down.length ? { channelsDown: down } : {}) };
  }

  /**
   * Sends a request to the current upstream, failing over as described above. Only GET and HEAD
   * without a body are retried; anything else goes to one upstream only.
   */
  async request(target: string, init: UpstreamRequestInit): Promise<UpstreamResponse & { upstream: string }> {
    const method = (init.method ?? 'GET').toUpperCase();
    const retryable = init.body === undefined && (method === 'GET' || method === 'HEAD');
    const tried = new Set<number>();
    const scope = this.members.length > 1 ? duressScope(target) : '';
    let lastError: StreamedgeError | undefined;
    for (;;) {
      const m = this.pick(target, scope, tried);
      if (!m) break;
      tried.add(m.index);
      const last = !retryable || this.pick(target, scope, tried, true) === undefined;
      const own = new AbortController();
      const signal = init.signal ? AbortSignal.any([init.signal, own.signal]) : own.signal;
      const held = init.pool === 'held';
      const headersTimeoutMs =
        this.members.length > 1 && !held
          ? Math.min(init.headersTimeoutMs ?? this.opts.timeoutMs, this.opts.timeoutMs)
          : init.headersTimeoutMs;
      m.pending.add(own);
      let res: UpstreamResponse;
      try {
        res = await this.upstream.request(m.origin, `${m.prefix}${target}`, {
          ...init,
          signal,
          ...(headersTimeoutMs !== undefined ? { headersTimeoutMs } : {}),
        });
      } catch (e) {
        this.endTrial(m, scope);
        const err = upstreamError(e, m.origin);
        if (init.signal?.aborted) throw err; // the caller gave up: not the upstream's fault
        const failedOver = own.signal.aborted; // another request marked it down meanwhile
        if (!failedOver) {
          if (err.code !== 'UPSTREAM_UNREACHABLE' && err.code !== 'UPSTREAM_TIMEOUT') throw err;
          this.markDown(m, err.code === 'UPSTREAM_TIMEOUT' ? 'timeout' : 'connect', err.message);
        }
        lastError = err;
        if (last) throw err;
        continue;
      } finally {
        m.pending.delete(own);
      }
      if (res.status >= 500 && res.status <= 599) {
        this.endTrial(m, scope);
        if (scope === '') this.markDown(m, '5xx', `answered ${res.status}`);
        else this.holdChannel(m, scope, '5xx', `answered ${res.status}`);
        if (!last) {
          res.body.destroy();
          continue;
        }
        return { ...res, upstream: m.base };
      }
      if (this.members.length > 1 && underDuress(res.headers)) this.markDuress(m, scope);
      else this.markUp(m, scope);
      this.remember(target, m.index);
      this.watchBody(m, res.body, init.signal);
      return { ...res, upstream: m.base };
    }
    throw lastError ?? new StreamedgeError('UPSTREAM_UNREACHABLE', 'no upstream to try');
  }

  /**
   * The next upstream for `target` (in live channel `scope`), skipping `tried`: the segment's
   * upstream if it is healthy (duress does not split a segment), else the first one neither down
   * nor under duress for the channel, or one whose back-off has passed (one trial at a time), or,
   * when every one is held back, the one that comes back soonest (a last resort beats a refusal).
   * `peek`: only whether there is one (no trial is claimed).
   */
  private pick(target: string, scope: string, tried: Set<number>, peek = false): Member | undefined {
    const now = this.now();
    const open = this.members.filter((m) => !tried.has(m.index));
    if (open.length === 0) return undefined;
    const pinned = this.affinityOf(target);
    // (not where the channel answered 5xx: its segment there may never be finished)
    const pin = open.find((m) => m.index === pinned && m.failures === 0 && m.scopes.get(scope)?.reason !== '5xx');
    if (pin) return pin;
    // earlier (preferred) members due for a trial come before a healthy backup
    for (const m of open) {
      const h = this.holding(m, scope);
      if (!h) return m;
      if (!h.trial && h.downUntil <= now) {
        if (!peek) h.trial = true;
        return m;
      }
    }
    if (peek) return open[0];
    const until = (m: Member): number => this.holding(m, scope)!.downUntil;
    return [...open].sort((x, y) => until(x) - until(y))[0];
  }

  /** What holds requests of `scope` back from `m`: its own failures, else its duress for the channel. */
  private holding(m: Member, scope: string): Health | undefined {
    if (m.failures > 0) return m;
    return scope === '' ? undefined : m.scopes.get(scope);
  }

  /** A request ended without a good answer: a trial it was is over. */
  private endTrial(m: Member, scope: string): void {
    m.trial = false;
    const h = scope === '' ? undefined : m.scopes.get(scope);
    if (h) h.trial = false;
  }

  private affinityOf(target: string): number | undefined {
    const k = SEGMENT_PIECE.exec(target)?.[1];
    return k === undefined ? undefined : this.affinity.get(k);
  }

  private remember(target: string, index: number): void {
    if (this.members.length < 2) return;
    const k = SEGMENT_PIECE.exec(target)?.[1];
    if (k === undefined || this.affinity.has(k)) return;
    this.affinity.set(k, index);
    if (this.affinity.size > AFFINITY_LIMIT) this.affinity.delete(this.affinity.keys().next().value!);
  }

  /** One more failure in a row: the back-off before it is tried again doubles (1 s, 2 s, … 30 s). */
  private backOff(m: Health, detail: string): void {
    m.failures++;
    m.lastError = detail;
    const initial = this.opts.retryInitialMs ?? 1000;
    const max = this.opts.retryMaxMs ?? 30_000;
    m.downUntil = this.now() + Math.min(max, initial * 2 ** Math.min(m.failures - 1, 16));
  }

  private markDown(m: Member, reason: string, detail: string): void {
    this.backOff(m, detail);
    if (m.failures === 1 && this.members.length > 1)
      for (const a of m.pending) a.abort(new StreamedgeError('UPSTREAM_ABORTED', FAILOVER));
    this.updateCurrent(reason);
  }

  /**
   * The upstream said it is under duress: new requests (of that live channel, when the answer was
   * one of a channel's) go elsewhere until its back-off passes.
   */
  private markDuress(m: Member, scope: string): void {
    if (scope === '') {
      m.trial = false;
      if (this.held(m)) return;
      this.backOff(m, DURESS);
      this.updateCurrent('duress');
      return;
    }
    this.holdChannel(m, scope, 'duress', DURESS);
  }

  /** New requests of live channel `scope` go elsewhere until its back-off on `m` passes. */
  private holdChannel(m: Member, scope: string, reason: ChannelHold, detail: string): void {
    let h = m.scopes.get(scope);
    if (!h) {
      h = { downUntil: 0, failures: 0, trial: false };
      m.scopes.set(scope, h);
      if (m.scopes.size > SCOPE_LIMIT) m.scopes.delete(m.scopes.keys().next().value!);
    }
    h.trial = false;
    if (this.held(h)) return;
    h.reason = reason;
    this.backOff(h, detail);
    if (h.failures !== 1) return;
    const to = this.members.find((x) => x !== m && !this.holding(x, scope));
    if (to) this.opts.onSwitch?.(m.base, to.base, reason, scope);
  }

  /**
   * Already held back: a `du` on a request that was in flight (or pinned to its segment's upstream)
   * when the back-off began says nothing new, and must not lengthen it; only a trial's does.
   */
  private held(h: Health): boolean {
    return h.failures > 0 && h.downUntil > this.now();
  }

  private markUp(m: Member, scope: string): void {
    const h = scope === '' ? undefined : m.scopes.get(scope);
    // a request in flight since before the channel's 5xx says nothing of it now: only a trial's
    // answer (or one after the back-off) brings the channel back
    const stale = h?.reason === '5xx' && !h.trial && this.held(h);
    m.trial = false;
    if (h && !stale) {
      m.scopes.delete(scope);
      // the channel comes back here when this is where it would go without its duress
      const from = this.members.find((x) => x !== m && !this.holding(x, scope));
      if (from && from.index > m.index) this.opts.onSwitch?.(from.base, m.base, 'recovered', scope);
    }
    if (m.failures === 0) return;
    m.failures = 0;
    m.downUntil = 0;
    this.updateCurrent('recovered');
  }

  private updateCurrent(reason: string): void {
    const next = this.members.find((m) => m.failures === 0) ?? this.members[this.currentIndex];
    if (next.index === this.currentIndex) return;
    const from = this.members[this.currentIndex].base;
    this.currentIndex = next.index;
    this.opts.onSwitch?.(from, next.base, reason);
  }

  /** A body that breaks off (not by the caller) marks its upstream down for the next requests. */
  private watchBody(m: Member, body: Readable, caller: AbortSignal | undefined): void {
    body.once('error', (e: unknown) => {
      if (caller?.aborted) return;
      if (upstreamError(e, m.origin).code === 'UPSTREAM_ABORTED') return;
      this.markDown(m, 'body', `body broke off: ${e instanceof Error ? e.message : String(e)}`);
    });
  }
}
