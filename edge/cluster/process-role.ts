/**
 * What the supervisor tells each child of a multi-worker edge (edge/cluster/supervisor.ts), through
 * one environment variable, and the IPC messages they exchange afterwards.
 */
import { fileURLToPath } from 'node:url';
import { StreamedgeError } from '../../src/errors.js';
import type { EdgeCliOptions } from '../edge-cli.js';

export const ROLE_ENV = 'STREAMEDGE_EDGE_ROLE';

export interface RoleConfig {
  options: EdgeCliOptions;
  socketPath: string;
  /** Workers only: the worker's index (0..N-1), shown as `x-edge-worker`. */
  index?: number;
  /** Workers only, with TLS: the shared session ticket keys (hex). */
  ticketKeys?: string;
}

/** Child -> supervisor. */
export type ChildMessage =
  | { type: 'ready'; url?: string; plainUrl?: string }
  /** A worker asks for a rolling restart (POST /_edge/restart). */
  | { type: 'rolling-restart' }
  /** A worker took a new CMSD cap (PUT /_edge/cmsd; null: none) for every worker. */
  | { type: 'cmsd-cap'; kbps: number | null }
  /** A child could not start: why, in the error's own words (the supervisor fails with them). */
  | { type: 'failed'; code: string; message: string };

/** Supervisor -> worker. */
export type SupervisorMessage =
  | { type: 'drain' }
  | { type: 'ticket-keys'; hex: string }
  /** Another worker took this CMSD cap (null: none): apply it. */
  | { type: 'cmsd-cap'; kbps: number | null };

export function readRole(env: NodeJS.ProcessEnv = process.env): RoleConfig {
  const text = env[ROLE_ENV];
  if (text === undefined)
    throw new StreamedgeError('EDGE_STATE', `${ROLE_ENV} is not set: start this through the supervisor`);
  return JSON.parse(text) as RoleConfig;
}

/**
 * A child that cannot start (a bad option, a certificate it cannot read, a port it cannot bind)
 * tells the supervisor why, so `streamedge edge` fails with that one line rather than "worker 0
 * exited (1)", and exits 1 once the message is sent. An error that is not a StreamedgeError also
 * goes to stderr with its stack. The promise never settles: the process is ending.
 */
export function failStart(e: unknown): Promise<never> {
  const known = e instanceof StreamedgeError;
  if (!known) process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  const m: ChildMessage = {
    type: 'failed',
    code: known ? e.code : 'EDGE_CHILD',
    message: e instanceof Error ? e.message : String(e),
  };
  if (process.send) process.send(m, () => process.exit(1));
  else {
    process.stderr.write(`streamedge: ${m.message}\n`);
    process.exit(1);
  }
  return new Promise<never>(() => {});
}

/** How to start a child entry file (`store-main` or `worker-main`): through tsx in a checkout, plain node when built. */
export function childEntry(name: 'store-main' | 'worker-main'): { exec: string; args: string[] } {
  const self = fileURLToPath(import.meta.url);
  if (self.endsWith('.ts')) {
    return {
      exec: fileURLToPath(new URL('../../bin/run-ts.js', import.meta.url)),
      args: [fileURLToPath(new URL(`./${name}.ts`, import.meta.url))],
    };
  }
  return { exec: fileURLToPath(new URL(`./${name}.js`, import.meta.url)), args: [] };
}
