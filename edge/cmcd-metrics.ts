/**
 * What the players' CMCD (CTA-5004) tells the edge, as Prometheus metrics: requests and
 * buffer-starvation signals (`bs`) by object type, and per session (`sid`): how many sessions are
 * playing, how many of them starved lately, and, once a session ends, how many starvation signals
 * it sent. The access log has the same keys per request (edge/server.ts).
 *
 * A player sets `bs` on its first request after a stall (CTA-5004: the buffer starved since the
 * prior request), so a signal is a rebuffer the viewer saw. A session ends when no request of it
 * arrived for `SESSION_IDLE_MS`. Sessions are tracked per process, at most `MAX_SESSIONS` (the
 * oldest ends early when a new one would exceed that): on a multi-worker edge the summed gauges
 * count a session once in each worker its requests reached (one HTTP/2 connection reaches one).
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { CmcdLogFields } from '../src/http/cmcd.js';

/** A session with no request for this long has ended. */
export const SESSION_IDLE_MS = 60_000;
/** Sessions tracked per process. */
export const MAX_SESSIONS = 50_000;
/** Object types of CTA-5004 (§3.3 `ot`); anything else is counted as "other", none as "none". */
const OBJECT_TYPES = new Set(['m', 'a', 'v', 'av', 'i', 'c', 'tt', 'k', 'o']);

interface Session {
  lastSeen: number;
  /** Buffer-starvation signals over the session. */
  starvations: number;
  /** When the last one arrived (-Infinity: none yet). */
  lastStarved: number;
}

export class CmcdMetrics {
  private readonly requests: Counter<'ot'>;
  private readonly starvations: Counter<'ot'>;
  private readonly ended: Histogram;
  /** sid → session, oldest activity first (a request moves its session to the end). */
  private readonly sessions = new Map<string, Session>();

  constructor(
    registry: Registry,
    private readonly now: () => number,
  ) {
    const registers = [registry];
    this.requests = new Counter({
      name: 'edge_cmcd_requests_total',
      help: 'Requests whose CMCD named a session, object type or starvation (sid, ot, bs), by object type (ot; "none" when absent)',
      labelNames: ['ot'],
      registers,
    });
    this.starvations = new Counter({
      name: 'edge_cmcd_buffer_starvation_total',
      help: 'Requests whose CMCD said the player rebuffered since its prior request (bs), by object type',
      labelNames: ['ot'],
      registers,
    });
    const sweep = (): void => this.sweep();
    const sessions = this.sessions;
    new Gauge({
      name: 'edge_cmcd_sessions',
      help: `CMCD sessions (sid) with a request in the last ${SESSION_IDLE_MS / 1000} s`,
      registers,
      collect() {
        sweep();
        this.set(sessions.size);
      },
    });
    const clock = this.now;
    new Gauge({
      name: 'edge_cmcd_starved_sessions',
      help: `CMCD sessions that signalled buffer starvation (bs) in the last ${SESSION_IDLE_MS / 1000} s`,
      registers,
      collect() {
        sweep();
        const since = clock() - SESSION_IDLE_MS;
        let n = 0;
        for (const s of sessions.values()) if (s.lastStarved >= since) n++;
        this.set(n);
      },
    });
    this.ended = new Histogram({
      name: 'edge_cmcd_session_starvations',
      help: `Buffer-starvation signals per ended CMCD session (no request for ${SESSION_IDLE_MS / 1000} s)`,
      buckets: [0, 1, 2, 3, 5, 10, 20],
      registers,
    });
  }

  /** Counts one request's CMCD (the keys the access log gets). */
  note(fields: CmcdLogFields): void {
    const ot = fields.ot === undefined ? 'none' : OBJECT_TYPES.has(fields.ot) ? fields.ot : 'other';
    this.requests.inc({ ot });
    if (fields.bs) this.starvations.inc({ ot });
    const sid = fields.sid;
    if (sid === undefined) return;
    const now = this.now();
    let s = this.sessions.get(sid);
    if (s !== undefined) {
      this.sessions.delete(sid);
    } else {
      if (this.sessions.size >= MAX_SESSIONS) this.endOldest();
      s = { lastSeen: now, starvations: 0, lastStarved: -Infinity };
    }
    this.sessions.set(sid, s);
    s.lastSeen = now;
    if (fields.bs) {
      s.starvations++;
      s.lastStarved = now;
    }
  }

  /** Ends the sessions idle for SESSION_IDLE_MS (oldest activity first, so it stops at the first live one). */
  sweep(): void {
    const since = this.now() - SESSION_IDLE_MS;
    for (const [sid, s] of this.sessions) {
      if (s.lastSeen >= since) break;
      this.sessions.delete(sid);
      this.ended.observe(s.starvations);
    }
  }

  private endOldest(): void {
    for (const [sid, s] of this.sessions) {
      this.sessions.delete(sid);
      this.ended.observe(s.starvations);
      return;
    }
  }
}
