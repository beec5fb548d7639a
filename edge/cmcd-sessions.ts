/**
 * The players' CMCD sessions (`sid`) an edge saw lately: one table per edge, fed either by the
 * requests it answers or, on a multi-worker edge, by the workers' reports (the store process holds
 * the one table, so a session whose requests reached several workers is one session there).
 *
 * A session ends when none of its requests arrived for `SESSION_IDLE_MS`; the table holds at most
 * `MAX_SESSIONS` (the least recently active ends early when a new one would exceed that).
 * `SessionActivity` is both what a worker reports (its requests since its last report) and what a
 * session is: a report merges into the table by adding counts and keeping the latest values.
 */
import type { CmcdLogFields } from '../src/http/cmcd.js';

/** A session with no request for this long has ended. */
export const SESSION_IDLE_MS = 60_000;
/** Sessions kept in one table (and in one worker's report). */
export const MAX_SESSIONS = 50_000;

/** One session's requests over some span: counts, times (ms since the epoch), the latest CMCD values. */
export interface SessionActivity {
  sid: string;
  first: number;
  last: number;
  requests: number;
  starvations: number;
  /** When the last starvation signal arrived (0: none in this span). */
  lastStarved: number;
  cid?: string;
  sf?: string;
  st?: string;
  br?: number;
  bl?: number;
  mtp?: number;
}

/** One session as /_edge/cmcd/sessions shows it (times as seconds before `now`). */
export interface SessionView {
  sid: string;
  cid?: string;
  sf?: string;
  st?: string;
  requests: number;
  starvations: number;
  startedSecAgo: number;
  lastSeenSecAgo: number;
  lastStarvedSecAgo?: number;
  br?: number;
  bl?: number;
  mtp?: number;
}

const LATEST = ['cid', 'sf', 'st', 'br', 'bl', 'mtp'] as const;

/** Folds one request's CMCD (with a sid) into `s` at time `now`. */
function noteInto(s: SessionActivity, f: CmcdLogFields, now: number): void {
  s.last = now;
  s.requests++;
  if (f.bs) {
    s.starvations++;
    s.lastStarved = now;
  }
  for (const k of LATEST) if (f[k] !== undefined) (s as unknown as Record<string, unknown>)[k] = f[k];
}

function fresh(sid: string, now: number): SessionActivity {
  return { sid, first: now, last: now, requests: 0, starvations: 0, lastStarved: 0 };
}

/**
 * Sessions in order of their last activity (oldest first: a Map re-inserted on each activity), so
 * ending the idle ones stops at the first that is not.
 */
export class SessionTable {
  private readonly sessions = new Map<string, SessionActivity>();

  /** `onEnd` hears every session that ends (idle, or pushed out by the bound). */
  constructor(
    private readonly onEnd: (s: SessionActivity) => void = () => undefined,
    private readonly max = MAX_SESSIONS,
  ) {}

  get size(): number {
    return this.sessions.size;
  }

  /** One request of session `f.sid` at `now`. */
  note(sid: string, f: CmcdLogFields, now: number): void {
    noteInto(this.touch(sid, now), f, now);
  }

  /** A worker's report: adds its counts, keeps its values if they are the latest. */
  merge(a: SessionActivity): void {
    const s = this.touch(a.sid, a.first);
    s.first = Math.min(s.first, a.first);
    s.requests += a.requests;
    s.starvations += a.starvations;
    s.lastStarved = Math.max(s.lastStarved, a.lastStarved);
    if (a.last >= s.last) {
      s.last = a.last;
      for (const k of LATEST) if (a[k] !== undefined) (s as unknown as Record<string, unknown>)[k] = a[k];
    }
  }

  /** The session (moved to the newest end), created if new; the bound ends the oldest first. */
  private touch(sid: string, now: number): SessionActivity {
    let s = this.sessions.get(sid);
    if (s !== undefined) this.sessions.delete(sid);
    else {
      if (this.sessions.size >= this.max) this.endOldest();
      s = fresh(sid, now);
    }
    this.sessions.set(sid, s);
    return s;
  }

  /** Ends the sessions with no request since `now - SESSION_IDLE_MS`. */
  sweep(now: number): void {
    const since = now - SESSION_IDLE_MS;
    for (const [sid, s] of this.sessions) {
      if (s.last >= since) break;
      this.sessions.delete(sid);
      this.onEnd(s);
    }
  }

  /** Sessions whose last starvation signal arrived at or after `since`. */
  starvedSince(since: number): number {
    let n = 0;
    for (const s of this.sessions.values()) if (s.starvations > 0 && s.lastStarved >= since) n++;
    return n;
  }

  /** The table's contents as a report (and an empty table): what a worker sends the store process. */
  take(): SessionActivity[] {
    const all = [...this.sessions.values()];
    this.sessions.clear();
    return all;
  }

  /**
   * The sessions for a person to read: most starvation signals first, then the most recently
   * active; `starvedOnly` keeps those that signalled starvation within the idle window.
   */
  view(now: number, o: { limit: number; starvedOnly?: boolean; sid?: string }): SessionView[] {
    const since = now - SESSION_IDLE_MS;
    let list = [...this.sessions.values()];
    if (o.sid !== undefined) list = list.filter((s) => s.sid === o.sid);
    if (o.starvedOnly) list = list.filter((s) => s.starvations > 0 && s.lastStarved >= since);
    list.sort((a, b) => b.starvations - a.starvations || b.last - a.last);
    const secAgo = (t: number): number => Math.max(0, Math.round(now - t) / 1000);
    return list.slice(0, o.limit).map((s) => {
      const v: SessionView = {
        sid: s.sid,
        requests: s.requests,
        starvations: s.starvations,
        startedSecAgo: secAgo(s.first),
        lastSeenSecAgo: secAgo(s.last),
      };
      if (s.starvations > 0) v.lastStarvedSecAgo = secAgo(s.lastStarved);
      for (const k of LATEST) if (s[k] !== undefined) (v as unknown as Record<string, unknown>)[k] = s[k];
      return v;
    });
  }

  private endOldest(): void {
    for (const [sid, s] of this.sessions) {
      this.sessions.delete(sid);
      this.onEnd(s);
      return;
    }
  }
}

/** A worker's report parsed from the wire: the well-formed entries only (bounded by MAX_SESSIONS). */
export function sessionReport(value: unknown): SessionActivity[] {
  if (!Array.isArray(value)) return [];
  const out: SessionActivity[] = [];
  const num = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0;
  for (const e of value.slice(0, MAX_SESSIONS) as unknown[]) {
    if (typeof e !== 'object' || e === null) continue;
    const a = e as Record<string, unknown>;
    if (typeof a.sid !== 'string' || a.sid.length === 0 || a.sid.length > 64) continue;
    if (!num(a.first) || !num(a.last) || !num(a.requests) || !num(a.starvations) || !num(a.lastStarved)) continue;
    const s: SessionActivity = {
      sid: a.sid,
      first: a.first,
      last: a.last,
      requests: a.requests,
      starvations: a.starvations,
      lastStarved: a.lastStarved,
    };
    for (const k of ['cid', 'sf', 'st'] as const) if (typeof a[k] === 'string') s[k] = a[k];
    for (const k of ['br', 'bl', 'mtp'] as const) if (num(a[k])) s[k] = a[k];
    out.push(s);
  }
  return out;
}
