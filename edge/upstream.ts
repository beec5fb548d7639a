/**
 * Upstream connections: two undici Agents (keep-alive pools per origin), each behind its own cap
 * on concurrent requests: one for fills, one for held requests (LL-HLS blocking reloads, which
 * the upstream holds for up to 3 target durations), so held requests never take the connections
 * or slots fills need.
 *
 * An `https://` upstream is verified against the system store, or `ca` (`--upstream-ca <pem>`)
 * when given, and spoken to over HTTP/2 when it offers it (ALPN, undici `allowH2`): a few
 * connections per origin (`h2ConnectionsPerOrigin`) each carrying up to `h2StreamsPerConnection`
 * concurrent streams (a Node or nginx server allows about 100), so a whole PoP's upstream traffic
 * rides a few connections. `http://` upstreams use HTTP/1.1 keep-alive pools as before.
 *
 * Errors come back typed: connection failures (TLS verification included) are
 * UPSTREAM_UNREACHABLE (→ 502), timeouts UPSTREAM_TIMEOUT (→ 504).
 */
import { Agent, Pool, type Dispatcher } from 'undici';
import type { Readable } from 'node:stream';
import { StreamedgeError } from '../src/errors.js';

export interface UpstreamOptions {
  /** Most requests in flight upstream at once (over all origins); more wait in a queue. */
  maxConcurrent: number;
  /** Most requests waiting for a slot; beyond it requests fail fast with UPSTREAM_BUSY. */
  maxQueued: number;
  /** Connections kept per origin. */
  connectionsPerOrigin: number;
  connectTimeoutMs: number;
  headersTimeoutMs: number;
  /** Longest silence between body chunks. */
  bodyTimeoutMs: number;
  /** PEM CA certificate(s) an https upstream must chain to (default: the system store). */
  ca?: string | Buffer;
  /** HTTP/2 to https upstreams that offer it (default true). */
  http2?: boolean;
  /** HTTP/2 connections per origin and pool (default 2). */
  h2ConnectionsPerOrigin?: number;
  /** Concurrent streams per HTTP/2 connection (default 100). */
  h2StreamsPerConnection?: number;
}

/** Which pool a request uses: fills, or requests the upstream holds (blocking reloads). */
export type UpstreamPoolName = 'fill' | 'held';

export interface UpstreamResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Readable;
}

/** A counting semaphore with a bounded queue. */
class Slots {
  private inUse = 0;
  private readonly queue: Array<() => void> = [];
  constructor(
    private readonly max: number,
    private readonly maxQueued: number,
  ) {}
  get active(): number {
    return this.inUse;
  }
  get waiting(): number {
    return this.queue.length;
  }
  acquire(): Promise<void> {
    if (this.inUse < this.max) {
      this.inUse++;
      return Promise.resolve();
    }
    if (this.queue.length >= this.maxQueued) {
      return Promise.reject(
        new StreamedgeError('UPSTREAM_BUSY', `too many upstream requests (cap ${this.max}, queue ${this.maxQueued})`),
      );
    }
    return new Promise((resolve) => this.queue.push(resolve));
  }
  release(): void {
    const next = this.queue.shift();
    if (next) next();
    else this.inUse--;
  }
}

const TIMEOUT_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CONNECT_TIMEOUT']);

/** Map an undici/socket error onto a typed error. */
export function upstreamError(e: unknown, origin: string): StreamedgeError {
  if (e instanceof StreamedgeError) return e;
  const code = (e as { code?: string } | undefined)?.code ?? '';
  const msg = e instanceof Error ? e.message : String(e);
  if (TIMEOUT_CODES.has(code))
    return new StreamedgeError('UPSTREAM_TIMEOUT', `upstream ${origin} timed out (${code})`, { cause: e });
  if (code === 'UND_ERR_ABORTED' || (e as Error | undefined)?.name === 'AbortError') {
    return new StreamedgeError('UPSTREAM_ABORTED', `request to ${origin} aborted`, { cause: e });
  }
  return new StreamedgeError('UPSTREAM_UNREACHABLE', `upstream ${origin} failed: ${code || msg}`, { cause: e });
}

/** One request to an upstream (edge/upstream-set.ts passes it on to the upstream it picks). */
export interface UpstreamRequestInit {
  method?: string;
  headers: Record<string, string>;
  body?: Readable;
  signal?: AbortSignal;
  headersTimeoutMs?: number;
  /** 'held' for requests the upstream holds (blocking reloads): their own connections and cap. */
  pool?: UpstreamPoolName;
  /** Interim (1xx) responses, e.g. 103 Early Hints. */
  onInfo?: (status: number, headers: Record<string, string | string[]>) => void;
}

export class Upstream {
  private readonly agents: Record<UpstreamPoolName, Agent>;
  private readonly slots: Record<UpstreamPoolName, Slots>;

  constructor(private readonly opts: UpstreamOptions) {
    this.agents = { fill: this.agent(opts.connectionsPerOrigin), held: this.agent(null) };
    this.slots = {
      fill: new Slots(opts.maxConcurrent, opts.maxQueued),
      held: new Slots(opts.maxConcurrent, opts.maxQueued),
    };
  }

  /** One Agent whose per-origin pools speak h2 (ALPN) to https origins and HTTP/1.1 to http ones. */
  private agent(h1Connections: number | null): Agent {
    const o = this.opts;
    const common = {
      connectTimeout: o.connectTimeoutMs,
      headersTimeout: o.headersTimeoutMs,
      bodyTimeout: o.bodyTimeoutMs,
      keepAliveTimeout: 10_000,
      connect: { ...(o.ca !== undefined ? { ca: o.ca } : {}) },
    };
    const h2 = o.http2 ?? true;
    const streams = o.h2StreamsPerConnection ?? 100;
    return new Agent({
      factory: (origin: string | URL, _opts: object): Dispatcher => {
        const secure = String(origin).startsWith('https:');
        if (secure && h2) {
          return new Pool(origin, {
            ...common,
            allowH2: true,
            connections: o.h2ConnectionsPerOrigin ?? 2,
            // undici caps requests in flight per connection by `pipelining`, for h2 streams too;
            // a server that negotiates HTTP/1.1 instead gets one request per connection.
            pipelining: streams,
            maxConcurrentStreams: streams,
          });
        }
        return new Pool(origin, { ...common, connections: h1Connections, pipelining: 1 });
      },
    });
  }

  get active(): number {
    return this.slots.fill.active + this.slots.held.active;
  }
  get queued(): number {
    return this.slots.fill.waiting + this.slots.held.waiting;
  }

  /**
   * Send a request; resolves with status, headers and a body stream once headers arrive.
   * The concurrency slot is held until the body ends, errors or is destroyed.
   */
  async request(origin: string, path: string, init: UpstreamRequestInit): Promise<UpstreamResponse> {
    const pool = init.pool ?? 'fill';
    const slots = this.slots[pool];
    await slots.acquire();
    let released = false;
    const release = () => {
      if (!released) {
        released = true;
        slots.release();
      }
    };
    try {
      const res = await this.agents[pool].request({
        origin,
        path,
        method: init.method ?? 'GET',
        headers: init.headers,
        body: init.body ?? null,
        signal: init.signal,
        headersTimeout: init.headersTimeoutMs ?? this.opts.headersTimeoutMs,
        bodyTimeout: this.opts.bodyTimeoutMs,
        ...(init.onInfo ? { onInfo: ({ statusCode, headers }) => init.onInfo!(statusCode, headers) } : {}),
      });
      const body = res.body as unknown as Readable;
      body.once('close', release);
      body.once('end', release);
      body.once('error', release);
      return { status: res.statusCode, headers: res.headers, body };
    } catch (e) {
      release();
      throw upstreamError(e, origin);
    }
  }

  async close(): Promise<void> {
    await Promise.all(Object.values(this.agents).map((a) => a.destroy().catch(() => undefined)));
  }
}
