/**
 * The set-up the fleet tests share: one real nats-server, one origin that answers every path with
 * `v<version> <url>` (cacheable for 10 minutes) so a test can tell a refetch from a cached copy,
 * a scratch folder, and a list of clean-ups run in reverse at the end of the file.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { afterAll, beforeAll } from 'vitest';
import { startUpstream, type Upstream } from '../edge/helpers.js';
import { startNatsServer, type NatsServer } from './nats-server.js';

export interface FleetFixture {
  readonly nats: NatsServer;
  readonly origin: Upstream;
  readonly dir: string;
  /** What the origin puts in its bodies from now on. */
  version: number;
  /** Run after the file's tests, last added first, before the origin and nats-server stop. */
  onCleanup(fn: () => Promise<void>): void;
}

/** Registers beforeAll/afterAll for the calling test file; the fields are set once beforeAll ran. */
export function useFleetFixture(dirPrefix: string): FleetFixture {
  const cleanups: Array<() => Promise<void>> = [];
  let nats: NatsServer | undefined;
  let origin: Upstream | undefined;
  let dir: string | undefined;
  const fx: FleetFixture = {
    get nats() {
      return nats!;
    },
    get origin() {
      return origin!;
    },
    get dir() {
      return dir!;
    },
    version: 1,
    onCleanup: (fn) => cleanups.push(fn),
  };
  beforeAll(async () => {
    nats = await startNatsServer();
    origin = await startUpstream((req: IncomingMessage, res: ServerResponse) => {
      res.writeHead(200, { 'cache-control': 'public, max-age=600', 'content-type': 'video/mp4' });
      res.end(`v${fx.version} ${req.url}`);
    });
    dir = mkdtempSync(join(tmpdir(), dirPrefix));
  });
  afterAll(async () => {
    for (const c of cleanups.reverse()) await c();
    await origin?.close();
    await nats?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
  return fx;
}
