/**
 * Prometheus metrics of one edge (own registry, so several edges can live in one process).
 * The one-write hit path (edge/hit-path.ts) counts into a HitTally of plain numbers (fresh hits,
 * stale-while-revalidate answers, bytes, protocols), added to the counters of the same names
 * whenever the registry is read.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { StoreStats } from './store/index.js';
import { CmcdMetrics } from './cmcd-metrics.js';

/**
 * Per-request counts kept as plain numbers (no label lookup, no allocation per request): hits of
 * the one-write path, and every request's protocol. `EdgeMetrics` adds them to
 * edge_requests_total{result="hit"}, edge_hits_total, edge_bytes_sent_total{tier="ram"} and
 * edge_requests_by_protocol_total when it is read.
 */
export class HitTally {
  hits = 0;
  /** Stale-while-revalidate answers of the one-write path (its revalidation under way). */
  stale = 0;
  ramBytes = 0;
  h1 = 0;
  h2 = 0;
}

/** The event-loop delay sampling period: one timer per process, about 100 samples a second. */
const LOOP_SAMPLE_MS = 10;

export class EdgeMetrics {
  readonly tally = new HitTally();
  readonly registry = new Registry();
  readonly requests: Counter<'result'>;
  readonly hits: Counter;
  readonly misses: Counter;
  readonly collapsed: Counter;
  readonly staleServed: Counter<'reason'>;
  readonly bytesSent: Counter<'tier'>;
  readonly upstreamRequests: Counter<'target' | 'status'>;
  readonly upstreamLatency: Histogram<'target'>;
  readonly held: Gauge;
  readonly fills: Gauge;
  readonly purges: Counter<'kind' | 'mode'>;
  readonly clientAborts: Counter<'reason'>;
  readonly prefetches: Counter<'source'>;
  readonly signedRejections: Counter<'reason'>;
  readonly requestsByProtocol: Counter<'protocol'>;
  readonly tlsHandshakeFailures: Counter<'code'>;
  readonly upstreamCurrent: Gauge<'upstream'>;
  readonly upstreamFailovers: Counter<'reason'>;
  /** The players' CMCD: requests, buffer starvation, sessions (edge/cmcd-metrics.ts). */
  readonly cmcd: CmcdMetrics;
  /** How late this process ran a timer due every LOOP_SAMPLE_MS (its event loop's delay). */
  readonly loopDelay: Histogram;
  private readonly loopTimer: NodeJS.Timeout;

  constructor(
    store: () => StoreStats | undefined,
    fillsInFlight: () => number,
    defaultMetrics = false,
    now: () => number = Date.now,
    /** A worker of a multi-worker edge: its CMCD sessions go to the store process (CmcdMetrics.relayed). */
    cmcdRelayed = false,
  ) {
    const r = this.registry;
    const flush = (): void => this.flushTally();
    this.requests = new Counter({
      name: 'edge_requests_total',
      help: 'Client requests by cache result',
      labelNames: ['result'],
      registers: [r],
      collect: flush,
    });
    this.hits = new Counter({
      name: 'edge_hits_total',
      help: 'Requests answered from the cache',
      registers: [r],
      collect: flush,
    });
    this.misses = new Counter({
      name: 'edge_misses_total',
      help: 'Requests that started an upstream fill',
      registers: [r],
    });
    this.collapsed = new Counter({
      name: 'edge_collapsed_total',
      help: 'Requests attached to a fill already in flight',
      registers: [r],
    });
    this.staleServed = new Counter({
      name: 'edge_stale_served_total',
      help: 'Stale responses served',
      labelNames: ['reason'],
      registers: [r],
      collect: flush,
    });
    this.bytesSent = new Counter({
      name: 'edge_bytes_sent_total',
      help: 'Body bytes sent to clients by source tier',
      labelNames: ['tier'],
      registers: [r],
      collect: flush,
    });
    this.upstreamRequests = new Counter({
      name: 'edge_upstream_requests_total',
      help: 'Requests sent upstream',
      labelNames: ['target', 'status'],
      registers: [r],
    });
    this.upstreamLatency = new Histogram({
      name: 'edge_upstream_headers_seconds',
      help: 'Time to upstream response headers',
      labelNames: ['target'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [r],
    });
    this.held = new Gauge({
      name: 'edge_held_requests',
      help: 'Requests waiting for an upstream response head',
      registers: [r],
    });
    this.fills = new Gauge({
      name: 'edge_fills_in_flight',
      help: 'Upstream fills in flight',
      registers: [r],
      collect() {
        this.set(fillsInFlight());
      },
    });
    this.purges = new Counter({
      name: 'edge_purges_total',
      help: 'Purge requests applied',
      labelNames: ['kind', 'mode'],
      registers: [r],
    });
    this.clientAborts = new Counter({
      name: 'edge_client_aborts_total',
      help: 'Client responses aborted',
      labelNames: ['reason'],
      registers: [r],
    });
    this.prefetches = new Counter({
      name: 'edge_prefetches_total',
      help: 'Prefetch fills started',
      labelNames: ['source'],
      registers: [r],
    });
    this.signedRejections = new Counter({
      name: 'edge_signed_rejections_total',
      help: 'Requests refused for a missing or invalid signed-URL token, by reason',
      labelNames: ['reason'],
      registers: [r],
    });
    this.requestsByProtocol = new Counter({
      name: 'edge_requests_by_protocol_total',
      help: 'Client requests by protocol (h1 = HTTP/1.x, h2 = HTTP/2)',
      labelNames: ['protocol'],
      registers: [r],
      collect: flush,
    });
    this.tlsHandshakeFailures = new Counter({
      name: 'edge_tls_handshake_failures_total',
      help: 'Client TLS handshakes that failed, by OpenSSL/Node error code',
      labelNames: ['code'],
      registers: [r],
    });
    this.upstreamCurrent = new Gauge({
      name: 'edge_upstream_current',
      help: '1 for the upstream new requests go to (primary/backup set), 0 for the others',
      labelNames: ['upstream'],
      registers: [r],
    });
    this.upstreamFailovers = new Counter({
      name: 'edge_upstream_failovers_total',
      help: 'Switches of the current upstream, or of one live channel under duress, by reason (connect, timeout, 5xx, body, duress; recovered = back to a preferred one)',
      labelNames: ['reason'],
      registers: [r],
    });
    this.cmcd = new CmcdMetrics(r, now, cmcdRelayed);
    const storeStat = (name: string, help: string, pick: (s: StoreStats) => number) =>
      new Gauge({
        name,
        help,
        registers: [r],
        collect() {
          const s = store();
          if (s) this.set(pick(s));
        },
      });
    storeStat('edge_store_objects', 'Objects in the store', (s) => s.objects);
    storeStat('edge_store_bytes', 'Bytes in the store', (s) => s.bytes);
    storeStat('edge_store_capacity_bytes', 'Store capacity', (s) => s.capacity);
    storeStat('edge_store_ram_bytes', 'Bytes in the RAM tier', (s) => s.ramBytes);
    storeStat('edge_store_ram_hits', 'Store hits served from RAM', (s) => s.ramHits);
    storeStat('edge_store_disk_hits', 'Store hits served from disk', (s) => s.diskHits);
    storeStat('edge_store_crc_errors', 'Records dropped on CRC mismatch', (s) => s.crcErrors);
    storeStat('edge_store_admitting', '1 while the store admits new objects', (s) => (s.admitting ? 1 : 0));
    if (defaultMetrics) collectDefaultMetrics({ register: r });
    // a histogram, not a gauge reset on each scrape: it sums over the processes of a multi-worker
    // edge and any window's p99 is the difference of two scrapes, whoever else scrapes meanwhile
    this.loopDelay = new Histogram({
      name: 'edge_event_loop_delay_seconds',
      help: `How late the event loop ran a timer due every ${LOOP_SAMPLE_MS} ms (one sample per run), per process`,
      buckets: [0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2],
      registers: [r],
    });
    let due = performance.now() + LOOP_SAMPLE_MS;
    this.loopTimer = setInterval(() => {
      const now = performance.now();
      this.loopDelay.observe(Math.max(0, now - due) / 1000);
      due = now + LOOP_SAMPLE_MS;
    }, LOOP_SAMPLE_MS);
    this.loopTimer.unref();
  }

  /** Stops the event-loop sampling (the edge is closing). */
  close(): void {
    clearInterval(this.loopTimer);
  }

  /**
   * `edge_process_info{role, worker, pid} 1` for each process of a multi-worker edge, so the summed
   * /_edge/metrics shows which processes answered (role "worker" or "store").
   */
  markProcess(role: 'worker' | 'store', worker?: number): void {
    new Gauge({
      name: 'edge_process_info',
      help: 'One series per process of a multi-worker edge (role, worker index, pid)',
      labelNames: ['role', 'worker', 'pid'],
      registers: [this.registry],
    }).set({ role, worker: worker === undefined ? '' : String(worker), pid: String(process.pid) }, 1);
  }

  /** Moves what the hit path tallied into the Prometheus counters. */
  private flushTally(): void {
    const t = this.tally;
    if (t.hits > 0) {
      this.requests.inc({ result: 'hit' }, t.hits);
      this.hits.inc(t.hits);
      t.hits = 0;
    }
    if (t.stale > 0) {
      this.requests.inc({ result: 'stale' }, t.stale);
      this.staleServed.inc({ reason: 'stale-while-revalidate' }, t.stale);
      t.stale = 0;
    }
    if (t.ramBytes > 0) {
      this.bytesSent.inc({ tier: 'ram' }, t.ramBytes);
      t.ramBytes = 0;
    }
    if (t.h1 > 0) {
      this.requestsByProtocol.inc({ protocol: 'h1' }, t.h1);
      t.h1 = 0;
    }
    if (t.h2 > 0) {
      this.requestsByProtocol.inc({ protocol: 'h2' }, t.h2);
      t.h2 = 0;
    }
  }
}
