/**
 * Upstream connections: one undici Agent (keep-alive pools per origin) behind a cap on
 * concurrent upstream requests. Errors come back typed: connection failures are
 * UPSTREAM_UNREACHABLE (→ 502), timeouts UPSTREAM_TIMEOUT (→ 504).
 */
import { Agent } from 'undici';
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
}

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

export class Upstream {
  private readonly agent: Agent;
  private readonly slots: Slots;

  constructor(private readonly opts: UpstreamOptions) {
    this.agent = new Agent({
      connections: opts.connectionsPerOrigin,
      connectTimeout: opts.connectTimeoutMs,
      headersTimeout: opts.headersTimeoutMs,
      bodyTimeout: opts.bodyTimeoutMs,
      keepAliveTimeout: 10_000,
      pipelining: 1,
    });
    this.slots = new Slots(opts.maxConcurrent, opts.maxQueued);
  }

  get active(): number {
    return this.slots.active;
  }
  get queued(): number {
    return this.slots.waiting;
  }

  /**
   * Send a request; resolves with status, headers and a body stream once headers arrive.
   * The concurrency slot is held until the body ends, errors or is destroyed.
   */
  async request(
    origin: string,
    path: string,
    init: {
      method?: string;
      headers: Record<string, string>;
      body?: Readable;
      signal?: AbortSignal;
      headersTimeoutMs?: number;
      /** Interim (1xx) responses, e.g. 103 Early Hints. */
      onInfo?: (status: number, headers: Record<string, string | string[]>) => void;
    },
  ): Promise<UpstreamResponse> {
    await this.slots.acquire();
    let released = false;
    const release = () => {
      if (!released) {
        released = true;
        this.slots.release();
      }
    };
    try {
      const res = await this.agent.request({
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
    await this.agent.destroy().catch(() => undefined);
  }
}
