/**
 * What the players' CMCD (CTA-5004) tells the edge, as Prometheus metrics: requests and
 * buffer-starvation signals (`bs`) by object type, and per session (`sid`): how many sessions are
 * playing, how many of them starved lately, and, once a session ends, how many starvation signals
 * it sent. The access log has the same keys per request (edge/server.ts); /_edge/cmcd/sessions
 * lists the sessions themselves (edge/admin.ts).
 *
 * A player sets `bs` on its first request after a stall (CTA-5004: the buffer starved since the
 * prior request), so a signal is a rebuffer the viewer saw. The sessions live in one
 * `SessionTable` per edge (edge/cmcd-sessions.ts). On a multi-worker edge that table is in the
 * store process: each worker's CmcdMetrics is `relayed` (it counts requests, and gathers its
 * sessions' activity until the store client takes it, every second and before each scrape), and
 * the store process's own CmcdMetrics merges the reports and alone has the session gauges and
 * histogram, so a session whose requests reached several workers counts once.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { CmcdLogFields } from '../src/http/cmcd.js';
import { SESSION_IDLE_MS, type SessionActivity, SessionTable, type SessionView } from './cmcd-sessions.js';

/** Object types of CTA-5004 (§3.3 `ot`); anything else is counted as "other", none as "none". */
const OBJECT_TYPES = new Set(['m', 'a', 'v', 'av', 'i', 'c', 'tt', 'k', 'o']);

export class CmcdMetrics {
  private readonly requests: Counter<'ot'>;
  private readonly starvations: Counter<'ot'>;
  /**
   * Here: the edge's sessions (gauged, ended into the histogram). Relayed (a worker): this
   * worker's session activity since the store client last took it.
   */
  private readonly sessions: SessionTable;

  /** `relayed`: a worker of a multi-worker edge (the store process keeps the sessions). */
  constructor(
    registry: Registry,
    private readonly now: () => number,
    readonly relayed = false,
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
    if (relayed) {
      this.sessions = new SessionTable();
      return;
    }
    // sessions end (into the histogram) when a scrape sweeps the table: each of the three sweeps
    const sweep = (): void => this.sessions.sweep(this.now());
    const ended = new Histogram({
      name: 'edge_cmcd_session_starvations',
      help: `Buffer-starvation signals per ended CMCD session (no request for ${SESSION_IDLE_MS / 1000} s)`,
      buckets: [0, 1, 2, 3, 5, 10, 20],
      registers,
      collect: sweep,
    });
    const sessions = new SessionTable((s) => ended.observe(s.starvations));
    this.sessions = sessions;
    const clock = this.now;
    new Gauge({
      name: 'edge_cmcd_sessions',
      help: `CMCD sessions (sid) with a request in the last ${SESSION_IDLE_MS / 1000} s`,
      registers,
      collect() {
        sweep();
        this.set(sessions.size);
      },
    });
    new Gauge({
      name: 'edge_cmcd_starved_sessions',
      help: `CMCD sessions that signalled buffer starvation (bs) in the last ${SESSION_IDLE_MS / 1000} s`,
      registers,
      collect() {
        sweep();
        this.set(sessions.starvedSince(clock() - SESSION_IDLE_MS));
      },
    });
  }

  /** Counts one request's CMCD (the keys the access log gets). */
  note(fields: CmcdLogFields): void {
    const ot = fields.ot === undefined ? 'none' : OBJECT_TYPES.has(fields.ot) ? fields.ot : 'other';
    this.requests.inc({ ot });
    if (fields.bs) this.starvations.inc({ ot });
    if (fields.sid !== undefined) this.sessions.note(fields.sid, fields, this.now());
  }

  /** Ends the sessions idle for SESSION_IDLE_MS (the gauges do so on each scrape). */
  sweep(): void {
    if (!this.relayed) this.sessions.sweep(this.now());
  }

  /** A worker: its sessions' activity since the last call (for the store process), or undefined if none. */
  takeReport(): SessionActivity[] | undefined {
    if (!this.relayed || this.sessions.size === 0) return undefined;
    return this.sessions.take();
  }

  /** The store process: one worker's report. */
  merge(report: SessionActivity[]): void {
    if (this.relayed) return;
    for (const a of report) this.sessions.merge(a);
  }

  /** The sessions for /_edge/cmcd/sessions (see SessionTable.view); empty on a relayed worker. */
  view(o: { limit: number; starvedOnly?: boolean; sid?: string }): CmcdSessionsView {
    const now = this.now();
    if (this.relayed) return { windowSec: SESSION_IDLE_MS / 1000, sessions: 0, starvedSessions: 0, list: [] };
    this.sessions.sweep(now);
    return {
      windowSec: SESSION_IDLE_MS / 1000,
      sessions: this.sessions.size,
      starvedSessions: this.sessions.starvedSince(now - SESSION_IDLE_MS),
      list: this.sessions.view(now, o),
    };
  }
}

/** The body of GET /_edge/cmcd/sessions. */
export interface CmcdSessionsView {
  /** A session counts while it had a request in the last windowSec seconds. */
  windowSec: number;
  sessions: number;
  starvedSessions: number;
  list: SessionView[];
}
