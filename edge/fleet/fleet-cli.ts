/**
 * The command-line side of the fleet: the NATS options shared by `edge` and `keys`, joining an edge
 * to the fleet, and `streamedge keys rotate|withdraw|list|set-credential --nats ...`.
 *
 *   streamedge edge --upstream http://127.0.0.1:8081 --port 8080 --nats nats://127.0.0.1:4222 --pop par1
 *   streamedge keys rotate --nats nats://127.0.0.1:4222 --key-file k2.jwk
 *   streamedge keys withdraw --nats nats://127.0.0.1:4222 --kid k1
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { StreamedgeError } from '../../src/errors.js';
import { KvKeySource, type JwksBucket } from '../../src/signing/kv-key-source.js';
import type { KeyLog } from '../../src/signing/reloading-key-source.js';
import type { Edge } from '../server.js';
import { DeferredFleetLink } from './deferred-link.js';
import { EdgeFleet } from './edge-fleet.js';
import { openKeysBucket } from '../../src/fleet/keys-bucket.js';
import {
  addFleetKey,
  listFleetKids,
  setFleetCredential,
  verificationJwkFromKeyFile,
  withdrawFleetKey,
} from './fleet-keys.js';
import { checkPopName } from './membership.js';
import { addNatsOptions, openFleetConnection, type NatsCliOptions } from '../../src/cli/nats-options.js';
import type { FleetConnection } from '../../src/fleet/nats-connection.js';
import type { FleetEdgeHooks } from './fleet-link.js';

export interface FleetCliOptions extends NatsCliOptions {
  pop?: string;
  /** How long requests wait for the fleet when NATS is unreachable at start-up (duration, default 30s). */
  fleetJoinWait?: string;
  fleetKeys?: boolean;
  fleetCredential?: boolean;
}

/** Adds --nats, --pop and the fleet options to the `edge` command. */
export function addFleetOptions(cmd: Command): Command {
  return addNatsOptions(
    cmd
      .option(
        '--nats <url>',
        'join a fleet through NATS JetStream (membership, purge stream, keys), e.g. nats://127.0.0.1:4222',
      )
      .option('--pop <name>', "this edge's PoP in the fleet (with --nats); its live members share the keys")
      .option('--fleet-keys', "verification keys (JWKS) from the fleet's KV bucket, rotated without restarts")
      .option('--fleet-credential', "the upstream credential from the fleet's KV bucket")
      .option(
        '--fleet-join-wait <duration>',
        'when NATS is unreachable at start-up: how long requests wait before the edge serves with its cache marked stale',
        '30s',
      ),
  );
}

/** The streamedge version (from package.json), reported in the member heartbeat. */
export function streamedgeVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const p = join(dir, 'package.json');
    if (existsSync(p)) {
      const pkg = JSON.parse(readFileSync(p, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'streamedge' && typeof pkg.version === 'string') return pkg.version;
    }
    dir = dirname(dir);
  }
  return 'unknown';
}

/** The fleet side of an edge before it is created: the connection and (with --fleet-keys) the keys. */
export interface FleetPrelude {
  /** Undefined when NATS was unreachable at start-up (the edge joins later: joinFleetInBackground). */
  conn: FleetConnection | undefined;
  keys: KvKeySource | undefined;
  link: DeferredFleetLink;
}

/**
 * Connects to NATS and (with --fleet-keys) loads the keys. `keysBucket` wraps the KV bucket the
 * keys are read from (a multi-worker edge's supervisor relays each entry to its workers).
 */
export async function openFleetPrelude(
  o: FleetCliOptions,
  name: string,
  log: KeyLog,
  keysBucket: (b: JwksBucket) => JwksBucket = (b) => b,
): Promise<FleetPrelude> {
  if (o.pop === undefined) throw new StreamedgeError('BAD_OPTION', "--nats needs --pop <name> (this edge's PoP)");
  checkPopName(o.pop);
  let conn: FleetConnection;
  try {
    conn = await openFleetConnection(o, name, log);
  } catch (e) {
    // without fleet keys the edge can start and serve (cache marked stale) while NATS is down
    if (o.fleetKeys === true || !(e instanceof StreamedgeError && e.code === 'NATS_CONNECT')) throw e;
    log.warn({ msg: e.message }, 'NATS unreachable at start-up: joining the fleet in the background');
    return { conn: undefined, keys: undefined, link: new DeferredFleetLink() };
  }
  try {
    const keys =
      o.fleetKeys === true ? await KvKeySource.open(keysBucket(await openKeysBucket(conn)), { log }) : undefined;
    return { conn, keys, link: new DeferredFleetLink() };
  } catch (e) {
    await conn.close();
    throw e;
  }
}

/**
 * What joins the fleet: a single-process edge (edgeFleetHost), or the supervisor of a multi-worker
 * edge, which holds the one membership and relays purges, peers and credential to its workers
 * (edge/cluster/supervisor-fleet.ts).
 */
export interface FleetHost extends FleetEdgeHooks {
  readonly logger: Logger;
  /** Where the fleet's metrics go (none: the host reports them its own way). */
  readonly registry?: Registry;
  /** Each purge applied, with its lag (publish → applied) in seconds. */
  onPurgeApplied?(lagSeconds: number): void;
}

/** A single-process edge as the fleet's host. */
export function edgeFleetHost(
  edge: Edge,
  self: string,
  onCredential?: (credential: string | undefined) => void,
): FleetHost {
  return {
    logger: edge.logger,
    registry: edge.metrics.registry,
    applyPurge: (specs) => edge.applyPurge(specs),
    cacheIsEmpty: async () => (edge.store?.stats().objects ?? 0) === 0,
    setPeers: (urls) => edge.setPeers(urls, self),
    setUpstreamCredential: (c) => {
      edge.setUpstreamCredential(c);
      onCredential?.(c);
    },
  };
}

/** Joins a listening edge to the fleet (membership → peers, purge stream → cache, health). */
export function joinFleet(
  edge: Edge,
  prelude: FleetPrelude,
  o: FleetCliOptions & { name: string; store?: string },
  self: string,
  onCredential?: (credential: string | undefined) => void,
): Promise<EdgeFleet> {
  return joinFleetAs(edgeFleetHost(edge, self, onCredential), prelude, o, self);
}

/** Joins `host` to the fleet as the member `self`; resolves once the purge stream is opened (not replayed). */
export async function joinFleetAs(
  host: FleetHost,
  prelude: FleetPrelude,
  o: FleetCliOptions & { name: string; store?: string },
  self: string,
): Promise<EdgeFleet> {
  if (!prelude.conn) throw new StreamedgeError('EDGE_STATE', 'no NATS connection: use joinFleetInBackground');
  const fleet = await EdgeFleet.start(
    {
      connection: prelude.conn,
      pop: o.pop!,
      name: o.name,
      url: self,
      version: streamedgeVersion(),
      ...(o.store !== undefined ? { positionFile: join(o.store, 'fleet-purge-position.json') } : {}),
      ...(prelude.keys ? { keys: prelude.keys } : {}),
      credential: o.fleetCredential === true,
      ...(host.registry ? { registry: host.registry } : {}),
      ...(host.onPurgeApplied ? { onPurgeApplied: (s: number) => host.onPurgeApplied?.(s) } : {}),
      logger: host.logger,
    },
    host,
  );
  prelude.link.resolve(fleet);
  return fleet;
}

/**
 * Joins when NATS becomes reachable (it was not at start-up): retries with backoff (250 ms → 5 s).
 * Meanwhile requests wait up to `boundMs`, then the edge serves with its whole cache marked stale.
 */
export function joinFleetInBackground(
  host: FleetHost,
  prelude: FleetPrelude,
  o: FleetCliOptions & NatsCliOptions & { name: string; store?: string },
  self: string,
  log: KeyLog,
  boundMs = 30_000,
): { close(): Promise<void> } {
  prelude.link.arm(boundMs, async () => {
    log.warn({}, 'not joined to the fleet in time: serving with the whole cache marked stale');
    await host.applyPurge([{ kind: 'prefix', value: '/', mode: 'soft' }]);
  });
  let closed = false;
  let fleet: EdgeFleet | undefined;
  const loop = (async () => {
    for (let delay = 250; !closed; delay = Math.min(delay * 2, 5000)) {
      try {
        const conn = await openFleetConnection(o, o.name, log);
        if (closed) {
          await conn.close();
          return;
        }
        fleet = await joinFleetAs(host, { ...prelude, conn }, o, self);
        log.info({}, 'joined the fleet');
        return;
      } catch {
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  })();
  return {
    close: async () => {
      closed = true;
      prelude.link.disarm();
      await loop;
      await fleet?.close();
    },
  };
}

/** Registers `streamedge keys rotate|withdraw|list|set-credential --nats ...`. */
export function registerKeysCommands(program: Command): void {
  const keys = program.command('keys').description("the fleet's verification keys and upstream credential in NATS");
  const withNats = (c: Command): Command =>
    addNatsOptions(c.requiredOption('--nats <url>', "the fleet's NATS, e.g. nats://127.0.0.1:4222"));
  const run = async <T>(o: NatsCliOptions, fn: (kv: Awaited<ReturnType<typeof openKeysBucket>>) => Promise<T>) => {
    const conn = await openFleetConnection(o, 'streamedge-keys');
    try {
      return await fn(await openKeysBucket(conn));
    } finally {
      await conn.close();
    }
  };
  withNats(
    keys
      .command('rotate')
      .description('publish a new kid to every edge and origin of the fleet (the old ones stay until withdrawn)')
      .requiredOption(
        '--key-file <file>',
        'the new key: private JWK, one-key JWKS or PEM (only its public part is published; an HS256 oct key is shared as is)',
      )
      .option('--kid <kid>', "kid to publish it under (default: the JWK's kid)"),
  ).action(async (o: NatsCliOptions & { keyFile: string; kid?: string }) => {
    const jwk = await verificationJwkFromKeyFile(o.keyFile, o.kid);
    const kids = await run(o, (kv) => addFleetKey(kv, jwk));
    process.stdout.write(`${JSON.stringify({ added: jwk.kid, kids })}\n`);
  });
  withNats(
    keys
      .command('withdraw')
      .description('remove a kid: tokens signed with it are refused fleet-wide')
      .requiredOption('--kid <kid>', 'kid to withdraw'),
  ).action(async (o: NatsCliOptions & { kid: string }) => {
    const kids = await run(o, (kv) => withdrawFleetKey(kv, o.kid));
    process.stdout.write(`${JSON.stringify({ withdrawn: o.kid, kids })}\n`);
  });
  withNats(keys.command('list').description('kids the fleet accepts now')).action(async (o: NatsCliOptions) => {
    const kids = await run(o, (kv) => listFleetKids(kv));
    process.stdout.write(`${JSON.stringify({ kids })}\n`);
  });
  withNats(
    keys
      .command('set-credential')
      .description('set the upstream credential every edge with --fleet-credential sends (read from a file)')
      .requiredOption('--credential-file <file>', 'file holding the credential (at least 16 characters)'),
  ).action(async (o: NatsCliOptions & { credentialFile: string }) => {
    let value: string;
    try {
      value = readFileSync(o.credentialFile, 'utf8').replace(/\s+$/, '');
    } catch (e) {
      throw new StreamedgeError(
        'KEY_FILE',
        `cannot read ${o.credentialFile}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`,
      );
    }
    await run(o, (kv) => setFleetCredential(kv, value));
    process.stdout.write(`${JSON.stringify({ credential: 'set' })}\n`);
  });
}
