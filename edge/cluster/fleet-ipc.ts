/**
 * The IPC between the supervisor of a multi-worker fleet member (which holds the one NATS
 * connection: edge/cluster/supervisor-fleet.ts) and its workers (edge/cluster/worker-fleet.ts):
 * the messages, and asking over a node:cluster / child_process IPC channel with a bounded wait.
 */
import { StreamedgeError } from '../../src/errors.js';
import type { PurgeSpec } from '../purge.js';

/** A JWKS entry as it crosses IPC (the value base64). */
export interface RelayedJwksEntry {
  operation: string;
  revision: number;
  value: string;
}

/** What the fleet looks like from a worker (pushed by the supervisor when it changes). */
export interface FleetState {
  ready: boolean;
  floor: number;
  health: { reasons: string[]; report: unknown };
  /** Live members of the PoP and purge messages dead-lettered (the workers' fleet metrics). */
  members: number;
  deadLetters: number;
}

/** Worker -> supervisor questions. */
export type WorkerAsk =
  /** The worker's edge exists: send it the fleet's state, peers and credential, and ask it to apply purges. */
  | { op: 'hello' }
  | { op: 'purge'; specs: PurgeSpec[]; requestId: string }
  | { op: 'reach'; seq: number }
  /** The current JWKS entry (null: none). */
  | { op: 'keys' };

/** Supervisor -> worker questions. */
export type SupervisorAsk =
  /** Apply these fleet purges to the store and every worker (the multi-worker edge's acked purge). */
  | { op: 'apply'; specs: PurgeSpec[] }
  /** Objects in the store as the store process last said (-1: unknown). */
  | { op: 'objects' };

export type FleetMessage =
  | { type: 'fleet-ask'; id: number; ask: WorkerAsk | SupervisorAsk }
  | { type: 'fleet-reply'; id: number; value?: unknown; error?: string }
  | { type: 'fleet-state'; state: FleetState }
  | { type: 'fleet-peers'; urls: string[]; self: string }
  | { type: 'fleet-credential'; credential: string | null }
  | { type: 'fleet-keys'; entry: RelayedJwksEntry }
  /** A purge applied, with its lag: observed by one worker (the summed metrics count it once). */
  | { type: 'fleet-lag'; seconds: number };

export function isFleetMessage(m: unknown): m is FleetMessage {
  const t = (m as { type?: unknown } | null)?.type;
  return typeof t === 'string' && t.startsWith('fleet-');
}

/** One end of an IPC channel. */
export interface IpcEnd {
  send(m: FleetMessage): void;
}

/** Questions asked over one IPC channel and their answers (each bounded by `timeoutMs`). */
export class IpcAsks {
  #seq = 0;
  readonly #pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void; timer: NodeJS.Timeout }>();

  constructor(private readonly end: IpcEnd) {}

  ask<T>(ask: WorkerAsk | SupervisorAsk, timeoutMs: number): Promise<T> {
    const id = ++this.#seq;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new StreamedgeError('FLEET_RELAY', `no answer to ${ask.op} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pending.set(id, { resolve: (v) => resolve(v as T), reject, timer });
      try {
        this.end.send({ type: 'fleet-ask', id, ask });
      } catch (e) {
        this.settle(id, undefined, `cannot ask ${ask.op}: ${(e as Error).message}`);
      }
    });
  }

  /** An answer arrived. */
  settle(id: number, value: unknown, error?: string): void {
    const p = this.#pending.get(id);
    if (!p) return;
    this.#pending.delete(id);
    clearTimeout(p.timer);
    if (error !== undefined) p.reject(new StreamedgeError('FLEET_RELAY', error));
    else p.resolve(value);
  }

  /** The other end is gone: every question fails now. */
  failAll(reason: string): void {
    for (const id of [...this.#pending.keys()]) this.settle(id, undefined, reason);
  }
}

/** Answers `ask` with what `answer` resolves to (or its error's message). */
export function answer(end: IpcEnd, id: number, run: () => Promise<unknown>): void {
  run().then(
    (value) => safeSend(end, { type: 'fleet-reply', id, value }),
    (e: unknown) => safeSend(end, { type: 'fleet-reply', id, error: (e as Error).message ?? String(e) }),
  );
}

/** Sends unless the channel is closed (a worker exiting): nothing to tell a process that is gone. */
export function safeSend(end: IpcEnd, m: FleetMessage): void {
  try {
    end.send(m);
  } catch {
    // the channel closed: the process is exiting
  }
}
