/**
 * One GET through undici, with the viewer's shaping applied to body reads, timings measured
 * (TTFB and total) and every outcome recorded in LoadStats by object kind or error class.
 */
import { request, type Dispatcher } from 'undici';
import { StreamedgeError } from '../../src/errors.js';
import type { LoadStats, ObjectKind } from './load-stats.js';
import type { Shaper } from './shaping.js';

export interface GetProgress {
  bytesLoaded: number;
  bytesTotal?: number;
  elapsedMs: number;
  ttfbMs: number;
}

export interface GetResult {
  status: number;
  bytes: number;
  ttfbMs: number;
  durationMs: number;
  text?: string;
  headers: Record<string, string | string[] | undefined>;
}

export interface GetOptions {
  kind: ObjectKind;
  signal?: AbortSignal;
  /** Keep the body as text (playlists, manifests). */
  text?: boolean;
  /**
   * A preload-hinted part: the server may answer 404 when the hinted part never came to be
   * (RFC 8216bis 6.2.5.3; e.g. the segment ended a part early). That throws HintMissingError and
   * is not counted as an error.
   */
  hinted?: boolean;
  /** Called after each body chunk; return true to abort the download (ABR abandon). */
  onProgress?: (p: GetProgress) => boolean;
}

export class AbandonedError extends Error {
  constructor() {
    super('download abandoned by ABR');
  }
}

/** A preload-hinted resource the server says does not exist (404): reload the playlist instead. */
export class HintMissingError extends Error {
  constructor(readonly url: string) {
    super(`preload-hinted ${url} is not available`);
  }
}

export class HttpGetter {
  constructor(
    private readonly dispatcher: Dispatcher,
    private readonly stats: LoadStats,
    private readonly shaper: Shaper,
  ) {}

  async get(url: string, o: GetOptions): Promise<GetResult> {
    const t0 = performance.now();
    const local = new AbortController();
    const onOuterAbort = () => local.abort();
    o.signal?.addEventListener('abort', onOuterAbort, { once: true });
    try {
      await this.shaper.beforeFirstByte();
      const res = await request(url, {
        method: 'GET',
        dispatcher: this.dispatcher,
        signal: local.signal,
        headersTimeout: 60_000,
        bodyTimeout: 30_000,
      });
      const ttfbMs = performance.now() - t0;
      if (res.statusCode === 404 && o.hinted) {
        await res.body.dump().catch(() => undefined);
        this.stats.totals.hintMisses++;
        throw new HintMissingError(url);
      }
      if (res.statusCode >= 400) {
        await res.body.dump().catch(() => undefined);
        const cls = `http_${res.statusCode}`;
        this.stats.error(cls);
        throw new StreamedgeError('LOADTEST_HTTP', `GET ${url} → ${res.statusCode}`);
      }
      const lenHeader = res.headers['content-length'];
      const bytesTotal = typeof lenHeader === 'string' ? Number(lenHeader) : undefined;
      let bytes = 0;
      const chunks: Buffer[] = [];
      const shaped = !this.shaper.unlimited;
      for await (const chunk of res.body as AsyncIterable<Buffer>) {
        bytes += chunk.length;
        if (o.text) chunks.push(chunk);
        if (shaped) await this.shaper.afterChunk(chunk.length);
        if (o.onProgress?.({ bytesLoaded: bytes, bytesTotal, elapsedMs: performance.now() - t0, ttfbMs })) {
          local.abort();
          throw new AbandonedError();
        }
      }
      const durationMs = performance.now() - t0;
      this.stats.request(o.kind, ttfbMs, durationMs, bytes);
      return {
        status: res.statusCode,
        bytes,
        ttfbMs,
        durationMs,
        text: o.text ? Buffer.concat(chunks).toString('utf8') : undefined,
        headers: res.headers,
      };
    } catch (e) {
      if (e instanceof AbandonedError || e instanceof HintMissingError || e instanceof StreamedgeError) throw e;
      if (o.signal?.aborted) throw e; // the run is over: not an error of the target
      this.stats.error(errorClass(e));
      throw new StreamedgeError('LOADTEST_NETWORK', `GET ${url} failed: ${(e as Error).message}`, { cause: e });
    } finally {
      o.signal?.removeEventListener('abort', onOuterAbort);
    }
  }
}

export function errorClass(e: unknown): string {
  const code = (e as { code?: unknown })?.code;
  if (typeof code === 'string') {
    if (code.startsWith('UND_ERR_')) return code.slice('UND_ERR_'.length).toLowerCase();
    return code;
  }
  return (e as Error)?.name ?? 'unknown';
}
