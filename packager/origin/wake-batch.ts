/**
 * One interface for waking held requests in a batch, whatever protocol each arrived on: the
 * origin's held lists hand every (response, prepared answer) pair of a flush to a WakeBatch, which
 * passes it to the writer for its protocol (h1-wake.ts for HTTP/1.1, h2-wake.ts for HTTP/2), then
 * calls `finish()` once the whole batch is written (per-response bookkeeping after the bytes).
 */
import type { ServerResponse } from 'node:http';
import { Http2ServerResponse } from 'node:http2';
import type { PreparedResponse } from './prepared-response.js';
import { H1Wake } from './h1-wake.js';
import { H2Wake } from './h2-wake.js';

/** A held request's response: HTTP/1.1 (node:http) or HTTP/2 (node:http2 compatibility API). */
export type HeldResponse = ServerResponse | Http2ServerResponse;

/** Writes prepared answers to many responses of one protocol. */
export interface WakeWriter<R> {
  /** Sends `r` on `res`; false when the client has gone. */
  write(res: R, r: PreparedResponse): boolean;
  /** Called once after every write of the batch. */
  finish(): void;
}

export class WakeBatch implements WakeWriter<HeldResponse> {
  private readonly date = new Date().toUTCString();
  private h1?: H1Wake;
  private h2?: H2Wake;

  write(res: HeldResponse, r: PreparedResponse): boolean {
    if (res instanceof Http2ServerResponse) return (this.h2 ??= new H2Wake(this.date)).write(res, r);
    return (this.h1 ??= new H1Wake(this.date)).write(res, r);
  }

  finish(): void {
    this.h1?.finish();
    this.h2?.finish();
  }
}
