/**
 * Prometheus metrics of one origin (prom-client, a registry per origin so several origins can
 * live in one process, e.g. in tests and the demo).
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export const CHANNEL_STATES = ['starting', 'running', 'stalled', 'failed', 'stopped'] as const;
export type ChannelStateName = (typeof CHANNEL_STATES)[number];

/**
 * Answered requests tallied in plain maps (route → status → count, protocol → count) and folded
 * into the prom-client counters when they are read (scrape, `get()`): counting a request is two
 * map increments, with no label hashing or allocation, so waking 10,000 held requests does not
 * pay prom-client's per-call cost 20,000 times. The exported series are unchanged.
 */
class RequestTally {
  private readonly byRoute = new Map<string, Map<number, number>>();
  private readonly byProtocol = new Map<string, number>();

  count(route: string, status: number, protocol: string): void {
    let statuses = this.byRoute.get(route);
    if (!statuses) this.byRoute.set(route, (statuses = new Map<number, number>()));
    statuses.set(status, (statuses.get(status) ?? 0) + 1);
    this.byProtocol.set(protocol, (this.byProtocol.get(protocol) ?? 0) + 1);
  }

  drainRequests(into: Counter<'route' | 'status'>): void {
    for (const [route, statuses] of this.byRoute) {
      for (const [status, n] of statuses) into.inc({ route, status: String(status) }, n);
    }
    this.byRoute.clear();
  }

  drainProtocols(into: Counter<'protocol'>): void {
    for (const [protocol, n] of this.byProtocol) into.inc({ protocol }, n);
    this.byProtocol.clear();
  }
}

export class OriginMetrics {
  readonly registry = new Registry();
  private readonly tally = new RequestTally();
  readonly requests: Counter<'route' | 'status'>;
  readonly bytes: Counter<'route'>;
  readonly channelState: Gauge<'channel' | 'state'>;
  readonly held: Gauge<'kind'>;
  readonly wakeup: Histogram<'kind'>;
  readonly partsProduced: Counter<'channel'>;
  readonly sourceRestarts: Counter<'channel'>;
  readonly diskWriteErrors: Counter<'channel'>;
  readonly requestsByProtocol: Counter<'protocol'>;
  readonly tlsHandshakeFailures: Counter<'code'>;

  constructor(opts: { defaultMetrics?: boolean } = {}) {
    const registers = [this.registry];
    this.requests = new Counter({
      name: 'streamedge_origin_requests_total',
      help: 'HTTP requests answered',
      labelNames: ['route', 'status'],
      registers,
      collect: () => this.tally.drainRequests(this.requests),
    });
    this.bytes = new Counter({
      name: 'streamedge_origin_response_bytes_total',
      help: 'Response body bytes sent',
      labelNames: ['route'],
      registers,
    });
    this.channelState = new Gauge({
      name: 'streamedge_live_channel_state',
      help: '1 for the current state of each live channel',
      labelNames: ['channel', 'state'],
      registers,
    });
    this.held = new Gauge({
      name: 'streamedge_origin_requests_held',
      help: 'Requests currently held (blocking reload, hinted part, in-progress segment, manifest of a starting channel)',
      labelNames: ['kind'],
      registers,
    });
    this.wakeup = new Histogram({
      name: 'streamedge_origin_wakeup_seconds',
      help: 'Delay from the segmenter event to the held response being sent',
      labelNames: ['kind'],
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1],
      registers,
    });
    this.partsProduced = new Counter({
      name: 'streamedge_live_parts_total',
      help: 'Parts produced per channel (all renditions)',
      labelNames: ['channel'],
      registers,
    });
    this.sourceRestarts = new Counter({
      name: 'streamedge_live_source_restarts_total',
      help: 'Encoder restarts per channel',
      labelNames: ['channel'],
      registers,
    });
    this.diskWriteErrors = new Counter({
      name: 'streamedge_live_disk_write_errors_total',
      help: 'Live segment and init files that could not be written (disk full, I/O error), per channel',
      labelNames: ['channel'],
      registers,
    });
    this.requestsByProtocol = new Counter({
      name: 'streamedge_origin_requests_by_protocol_total',
      help: 'HTTP requests answered, by protocol (h1 = HTTP/1.x, h2 = HTTP/2)',
      labelNames: ['protocol'],
      registers,
      collect: () => this.tally.drainProtocols(this.requestsByProtocol),
    });
    this.tlsHandshakeFailures = new Counter({
      name: 'streamedge_origin_tls_handshake_failures_total',
      help: 'TLS handshakes that failed, by OpenSSL/Node error code',
      labelNames: ['code'],
      registers,
    });
    if (opts.defaultMetrics) collectDefaultMetrics({ register: this.registry });
  }

  /** Counts one answered request (requests_total and requests_by_protocol_total). */
  countRequest(route: string, status: number, protocol: 'h1' | 'h2'): void {
    this.tally.count(route, status, protocol);
  }

  setChannelState(channel: string, state: ChannelStateName): void {
    for (const s of CHANNEL_STATES) this.channelState.set({ channel, state: s }, s === state ? 1 : 0);
  }
}
