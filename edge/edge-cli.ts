/**
 * `streamedge edge ...`: run a caching edge in front of an origin or a shield.
 * `streamedge purge ...`: purge by URL, prefix or surrogate key through an edge's admin API.
 *
 *   streamedge edge --upstream http://127.0.0.1:8081 --store ./edge-cache --store-size 10GB
 *   streamedge purge /vod/asset1/seg-1.m4s --edge http://127.0.0.1:8080 --admin-token $TOKEN
 *   streamedge purge --prefix /vod/asset1/ --edge http://127.0.0.1:8080 --soft
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { addTlsOptions, openTlsFromCli, type TlsCliOptions } from '../src/cli/tls-options.js';
import { request } from 'undici';
import { parseBytes, parseDuration, parseKbps, parsePort } from '../src/cli/options.js';
import { StreamedgeError } from '../src/errors.js';
import { baseUrl } from './config.js';
import { type EdgeServerOptions, createEdge } from './server.js';
import { EdgeSupervisor } from './cluster/supervisor.js';
import type { ReloadingTls } from '../src/tls/reloading-tls.js';
import { availableParallelism } from 'node:os';
import type { Logger } from 'pino';
import { loadRulesFile } from './request-rules.js';
import {
  UPSTREAM_CREDENTIAL_ENV,
  addVerificationOptions,
  credentialFrom,
  openVerification,
  type VerificationCliOptions,
} from '../src/cli/verification-options.js';
import { EdgeSignedAccess, type ReloadingKeySource, type KeyLog } from './signed-access.js';
import {
  addFleetOptions,
  edgeFleetHost,
  joinFleet,
  joinFleetInBackground,
  openFleetPrelude,
  type FleetCliOptions,
} from './fleet/fleet-cli.js';
import { fleetVerification } from './fleet/fleet-verification.js';
import { WorkerFleetLink } from './cluster/worker-fleet.js';
import { KvKeySource } from '../src/signing/kv-key-source.js';

export { UPSTREAM_CREDENTIAL_ENV };

export interface EdgeCliOptions extends VerificationCliOptions, FleetCliOptions, TlsCliOptions {
  upstreamCa?: string;
  upstreamHttp1?: boolean;
  timingAllowOrigin?: string;
  cmsdMaxBitrate?: string;
  upstream: string;
  /** The rules file (query policy, CMCD, forwarding deny list): edge/request-rules.ts. */
  config?: string;
  port: string;
  host: string;
  store?: string;
  storeSize: string;
  ramSize: string;
  peers?: string;
  self?: string;
  adminToken?: string;
  name: string;
  negativeTtl: string;
  prefetch?: boolean;
  corsPreflight?: string;
  logLevel: string;
  maxUpstream: string;
  headersTimeout: string;
  bodyTimeout: string;
  upstreamTimeout?: string;
  upstreamRetry?: string;
  unsignedPath?: string[];
  upstreamCredentialFile?: string;
  /** HTTP worker processes (default: one per core; 1 = a single process, no store process). */
  workers?: string;
  /** How long SIGTERM (and a rolling restart) waits for requests in flight before closing. */
  drainTimeout?: string;
}

/** How this process runs the edge: alone, or as worker `index` of a supervisor (edge/cluster). */
export interface WorkerRole {
  index: number;
  socketPath: string;
  /** TLS session ticket keys shared by every worker (so resumption works whichever answers). */
  ticketKeys?: Buffer;
  /** POST /_edge/restart asks the supervisor for a rolling restart through this. */
  requestRollingRestart?: () => void;
  /** PUT /_edge/cmsd hands the new cap to the supervisor (for the other workers) through this. */
  shareCmsdCap?: (kbps: number | undefined) => void;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** The upstream credential from a file (trailing whitespace trimmed) or $STREAMEDGE_UPSTREAM_CREDENTIAL. */
export function upstreamCredentialFrom(
  file: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): string | undefined {
  return credentialFrom(file, UPSTREAM_CREDENTIAL_ENV, env, 'the upstream credential');
}

/**
 * Signed-URL access from CLI options and the environment (keys and credentials only from files
 * and environment variables; nothing logged). Undefined without --require-signed.
 */
export async function edgeSigningFromCli(
  o: Pick<
    EdgeCliOptions,
    | 'requireSigned'
    | 'secretFile'
    | 'secretKid'
    | 'jwksFile'
    | 'jwksUrl'
    | 'jwksMaxAge'
    | 'publicKeyFile'
    | 'clockSkew'
    | 'unsignedPath'
  >,
  upstreamCredential: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
  log?: KeyLog,
): Promise<{ access: EdgeSignedAccess; keys: ReloadingKeySource; close(): void } | undefined> {
  const opened = await openVerification(o, env, log);
  if (!opened) return undefined;
  const { keys, verifier } = opened;
  const access = new EdgeSignedAccess({
    verifier,
    ...(upstreamCredential !== undefined ? { trustedCredential: upstreamCredential } : {}),
    ...(o.unsignedPath !== undefined && o.unsignedPath.length > 0 ? { unsignedPaths: o.unsignedPath } : {}),
  });
  return { access, keys, close: () => keys.close() };
}

function listOf(text: string | undefined): string[] {
  return (text ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/** The upstream CA from --upstream-ca (checked: readable, PEM), or undefined. */
export function upstreamCaFrom(file: string | undefined): Buffer | undefined {
  if (file === undefined) return undefined;
  let ca: Buffer;
  try {
    ca = readFileSync(file);
  } catch (e) {
    throw new StreamedgeError(
      'BAD_OPTION',
      `--upstream-ca ${file}: cannot read it (${(e as NodeJS.ErrnoException).code ?? 'unreadable'})`,
    );
  }
  if (!ca.includes('-----BEGIN CERTIFICATE-----')) {
    throw new StreamedgeError('BAD_OPTION', `--upstream-ca ${file}: not a PEM certificate`);
  }
  return ca;
}

/** A count option: a whole number ≥ 1 (0, a negative or a typo such as `1k` would stall every miss). */
function wholeAtLeastOne(text: string, flag: string): number {
  const n = /^\s*\d+\s*$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < 1)
    throw new StreamedgeError('BAD_OPTION', `${flag} ${text}: expected a whole number ≥ 1`);
  return n;
}

/** The edge options the CLI flags say (everything but TLS, signed access and credentials). */
export function edgeOptionsFromCli(o: EdgeCliOptions): EdgeServerOptions {
  const upstreamCa = upstreamCaFrom(o.upstreamCa);
  return {
    ...(upstreamCa ? { upstreamCa } : {}),
    ...(o.upstreamHttp1 ? { upstreamHttp2: false } : {}),
    ...(o.timingAllowOrigin !== undefined ? { timingAllowOrigin: o.timingAllowOrigin } : {}),
    ...(o.cmsdMaxBitrate !== undefined
      ? { cmsdMaxBitrateKbps: parseKbps(o.cmsdMaxBitrate, '--cmsd-max-bitrate') }
      : {}),
    upstream: o.upstream,
    ...(o.config !== undefined ? { rules: loadRulesFile(o.config) } : {}),
    // the sizes hold for a temp store (no --store) as for a named one
    store: {
      ...(o.store !== undefined ? { dir: o.store } : {}),
      capacityBytes: parseBytes(o.storeSize),
      ramBytes: parseBytes(o.ramSize),
    },
    peers: listOf(o.peers),
    ...(o.self !== undefined ? { self: o.self } : {}),
    ...(o.adminToken !== undefined ? { adminToken: o.adminToken } : {}),
    name: o.name,
    negativeTtl: parseDuration(o.negativeTtl),
    prefetch: o.prefetch === true,
    ...(o.corsPreflight !== undefined ? { corsPreflight: o.corsPreflight as 'edge' | 'forward' } : {}),
    logLevel: o.logLevel,
    maxUpstreamConcurrent: wholeAtLeastOne(o.maxUpstream, '--max-upstream'),
    headersTimeoutMs: parseDuration(o.headersTimeout) * 1000,
    bodyTimeoutMs: parseDuration(o.bodyTimeout) * 1000,
    ...(o.upstreamTimeout !== undefined ? { upstreamTimeoutMs: parseDuration(o.upstreamTimeout) * 1000 } : {}),
    ...(o.upstreamRetry !== undefined ? { upstreamRetryMs: parseDuration(o.upstreamRetry) * 1000 } : {}),
  };
}

/** Start an edge from CLI options; resolves with its URL and stop functions (`drain`: graceful). */
export async function runEdge(
  o: EdgeCliOptions,
  worker?: WorkerRole,
): Promise<{
  url: string;
  plainUrl?: string;
  close: () => Promise<void>;
  drain: () => Promise<void>;
  tls: ReloadingTls | undefined;
  logger: Logger;
  /** The supervisor passes on a CMSD cap another worker took (PUT /_edge/cmsd). */
  setCmsdMaxBitrate: (kbps: number | undefined) => void;
}> {
  const upstreamCredential = upstreamCredentialFrom(o.upstreamCredentialFile);
  const logRef: { current?: KeyLog } = {};
  const keyLog: KeyLog = {
    info: (x, m) => logRef.current?.info(x, m),
    warn: (x, m) => logRef.current?.warn(x, m),
  };
  // a worker of a multi-worker fleet member: the supervisor holds the fleet, this relays to it
  const relayed = worker && o.nats !== undefined ? WorkerFleetLink.overProcess() : undefined;
  const fleet = o.nats !== undefined && !relayed ? await openFleetPrelude(o, o.name, keyLog) : undefined;
  const fleetKeys = relayed
    ? o.fleetKeys === true
      ? await KvKeySource.open(relayed.keys, { log: keyLog })
      : undefined
    : fleet?.keys;
  const signing = fleetKeys
    ? await fleetVerification(o, fleetKeys, upstreamCredential, process.env, keyLog)
    : await edgeSigningFromCli(o, upstreamCredential, process.env, keyLog);
  const tls = await openTlsFromCli(o, {
    info: (x, m) => logRef.current?.info(x, m),
    warn: (x, m) => (logRef.current ? logRef.current.warn(x, m) : process.stderr.write(`warning: ${m}\n`)),
  });
  if (worker?.ticketKeys && tls) tls.setTicketKeys(worker.ticketKeys);
  const edge = createEdge({
    ...edgeOptionsFromCli(o),
    ...(tls ? { tls } : {}),
    ...(signing ? { signedAccess: signing.access } : {}),
    ...(upstreamCredential !== undefined ? { upstreamCredential } : {}),
    ...(worker ? { worker } : {}),
  });
  logRef.current = edge.logger;
  const onCredential = (c: string | undefined) => signing?.access.setTrustedCredential(c);
  // nothing is served before the fleet's purge replay
  if (fleet) edge.attachFleet(fleet.link);
  if (relayed) edge.attachFleet(relayed);
  const url = await edge.listen(parsePort(o.port), o.host);
  // node:cluster hands a worker the first worker's ticket keys when it listens: the supervisor's
  // current keys (rotated since, perhaps) are the ones every worker must use
  if (worker?.ticketKeys && tls) tls.setTicketKeys(worker.ticketKeys);
  const plainUrl = o.httpPort !== undefined ? await edge.listenPlain(parsePort(o.httpPort), o.host) : undefined;
  if (relayed) await relayed.bind({ edge, onCredential });
  const joined = !fleet
    ? undefined
    : fleet.conn
      ? await joinFleet(edge, fleet, o, o.self ?? url, onCredential)
      : joinFleetInBackground(
          edgeFleetHost(edge, o.self ?? url, onCredential),
          fleet,
          o,
          o.self ?? url,
          keyLog,
          parseDuration(o.fleetJoinWait ?? '30s') * 1000,
        );
  const stop = async (how: () => Promise<void>) => {
    await joined?.close();
    relayed?.close();
    await how();
    signing?.close();
    if (relayed) await fleetKeys?.close();
    tls?.close();
  };
  const drainMs = parseDuration(o.drainTimeout ?? '30s') * 1000;
  return {
    url,
    ...(plainUrl !== undefined ? { plainUrl } : {}),
    tls,
    logger: edge.logger,
    setCmsdMaxBitrate: (kbps) => edge.setCmsdMaxBitrate(kbps, 'supervisor'),
    close: () => stop(() => edge.close()),
    drain: () => stop(() => edge.drain(drainMs)),
  };
}

export interface PurgeCliOptions {
  /** The edge to send the purge to; by default the origin of a full <url>. */
  edge?: string;
  prefix?: string;
  tag?: string;
  soft?: boolean;
  adminToken?: string;
}

/**
 * How many HTTP workers: --workers, else one per core (a fleet member too: its supervisor holds
 * the one membership, edge/cluster/supervisor-fleet.ts).
 */
export function workerCount(o: Pick<EdgeCliOptions, 'workers'>): number {
  if (o.workers === undefined) return Math.max(1, availableParallelism());
  const n = Number(o.workers);
  if (!Number.isInteger(n) || n < 1 || n > 256) {
    throw new StreamedgeError('BAD_OPTION', `--workers must be a whole number from 1 to 256 (got "${o.workers}")`);
  }
  return n;
}

/** Send one purge to an edge; resolves with the edge's JSON answer. */
export async function runPurge(url: string | undefined, o: PurgeCliOptions): Promise<unknown> {
  const given = [url, o.prefix, o.tag].filter((x) => x !== undefined);
  if (given.length !== 1)
    throw new StreamedgeError('BAD_OPTION', 'give exactly one of <url>, --prefix <p> or --tag <t>');
  const token = o.adminToken ?? process.env['STREAMEDGE_ADMIN_TOKEN'];
  if (!token) throw new StreamedgeError('BAD_OPTION', 'purge needs --admin-token or STREAMEDGE_ADMIN_TOKEN');
  const edgeText = o.edge ?? (url !== undefined && /^https?:\/\//i.test(url) ? new URL(url).origin : undefined);
  if (edgeText === undefined) {
    throw new StreamedgeError(
      'BAD_OPTION',
      'purge needs --edge <url> (or a full URL to purge, whose edge it then asks)',
    );
  }
  const edge = baseUrl(edgeText, '--edge');
  const body = {
    ...(url !== undefined ? { url } : {}),
    ...(o.prefix !== undefined ? { prefix: o.prefix } : {}),
    ...(o.tag !== undefined ? { tag: o.tag } : {}),
    soft: o.soft === true,
  };
  let res;
  try {
    res = await request(`${edge}/_edge/purge`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify(body),
      headersTimeout: 15_000,
      bodyTimeout: 15_000,
    });
  } catch (e) {
    throw new StreamedgeError(
      'PURGE_FAILED',
      `cannot reach the edge at ${edge}: ${(e as { code?: string }).code ?? String(e)}`,
    );
  }
  const text = await res.body.text();
  // 202: a fleet purge published and durable, not yet applied by every live member (they are named)
  if (res.statusCode !== 200 && res.statusCode !== 202) {
    throw new StreamedgeError('PURGE_FAILED', `edge answered ${res.statusCode}: ${text.trim()}`);
  }
  return JSON.parse(text) as unknown;
}

/** Registers the `edge` and `purge` commands. */
export function registerEdgeCommands(program: Command): void {
  addVerificationOptions(
    addTlsOptions(
      addFleetOptions(program.command('edge'))
        .description('run a caching edge (coalescing, partial-segment streaming, LL-HLS collapse, tiers, purge)')
        .requiredOption(
          '--upstream <url[,url]>',
          'origin or shield edge, e.g. http://127.0.0.1:8081; several (comma-separated): primary, then backups it fails over to',
        )
        .option('--config <file>', 'rules file (JSON): media/playlist path patterns, tracking params, CMCD, deny list')
        .option('--port <port>', 'port to listen on', '8080')
        .option('--host <host>', 'address to listen on', '127.0.0.1')
        .option('--store <dir>', 'cache directory (default: a temporary one, removed on exit)')
        .option('--store-size <bytes>', 'disk capacity of the cache, e.g. 10GB', '10GB')
        .option('--ram-size <bytes>', 'RAM tier for hot objects', '256MiB')
        .option('--peers <urls>', 'comma-separated edges of this PoP (each key is stored by one owner)')
        .option('--self <url>', "this edge's own URL as the peers know it (with --peers)")
        .option('--admin-token <token>', 'token for purge (default: env STREAMEDGE_ADMIN_TOKEN)')
        .option('--name <token>', "this cache's name in Cache-Status", 'streamedge')
        .option('--negative-ttl <duration>', 'how long 404/410 without freshness info are cached', '5s')
        .option('--prefetch', 'fetch the next segment/part when one is served (playlist order or CMCD nor)')
        .option(
          '--cors-preflight <edge|forward>',
          'CORS preflights for GET/HEAD: answered by the edge (one per media URL from players sending CMCD headers) or forwarded upstream',
          'edge',
        )
        .option('--max-upstream <n>', 'cap on concurrent upstream requests', '256')
        .option('--headers-timeout <duration>', 'upstream response header timeout', '10s')
        .option('--body-timeout <duration>', 'longest silence in an upstream body', '15s')
        .option(
          '--upstream-timeout <duration>',
          'with backups: longest wait for a response head before failing over (blocking reloads keep --headers-timeout)',
          '3s',
        )
        .option(
          '--upstream-retry <duration>',
          'with backups: first back-off before a failed upstream is retried (doubles, max 30s)',
          '1s',
        )
        .option('--log-level <level>', 'pino log level', 'info')
        .option('--upstream-ca <pem>', 'CA certificate an https --upstream must chain to (default: the system store)')
        .option('--upstream-http1', 'speak HTTP/1.1 to an https upstream even when it offers HTTP/2')
        .option('--timing-allow-origin <value>', "Timing-Allow-Origin on every answer ('' for none)", '*')
        .option(
          '--cmsd-max-bitrate <kbps>',
          'CMSD-Dynamic on every answer: the highest bitrate players should play (CTA-5006 mb, kbit/s, e.g. 3000 or 3M)',
        ),
    ),
    'every request needs a valid signed-URL token (or the upstream credential of a peer/lower tier)',
  )
    .option(
      '--unsigned-path <path>',
      'exact path served without a token (repeatable; default /time, /steering and /steering/dash)',
      collect,
      [],
    )
    .option(
      '--upstream-credential-file <file>',
      `credential sent upstream and accepted from peers (default: $${UPSTREAM_CREDENTIAL_ENV})`,
    )
    .option('--workers <n>', 'HTTP worker processes beside one store process (default: one per core; 1: one process)')
    .option('--drain-timeout <duration>', 'SIGTERM / rolling restart: longest wait for requests in flight', '30s')
    .action(async (o: EdgeCliOptions) => {
      const workers = workerCount(o);
      // One handler from the first moment: a SIGINT/SIGTERM while starting (workers, the store
      // process, a temporary store) is acted on once started; the default action there left the
      // temporary store, the socket and children behind. A second signal once stopping kills.
      const started: { stop?: () => void; signalled: boolean } = { signalled: false };
      const onSignal = (): void => (started.stop ? started.stop() : void (started.signalled = true));
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      let finish: () => Promise<void>;
      if (workers > 1) {
        const sup = await EdgeSupervisor.start(o, workers);
        finish = () => sup.stop();
        process.on('SIGHUP', () => void sup.rollingRestart());
        process.on('SIGUSR2', () => sup.rotateTicketKeys());
      } else {
        const { drain } = await runEdge(o);
        finish = drain;
      }
      started.stop = () => {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
        void finish().then(
          () => process.exit(0),
          () => process.exit(1),
        );
      };
      if (started.signalled) started.stop();
    });

  program
    .command('purge')
    .description('purge cached objects by URL, prefix or surrogate key (reaches every peer of the edge)')
    .argument('[url]', 'URL or path to purge')
    .option('--edge <url>', 'edge to send the purge to, e.g. http://127.0.0.1:8080 (default: that of a full <url>)')
    .option('--prefix <prefix>', 'purge every object whose path starts with this')
    .option('--tag <key>', 'purge every object carrying this surrogate key')
    .option('--soft', 'mark stale (revalidate on next request) instead of dropping')
    .option('--admin-token <token>', 'admin token (default: env STREAMEDGE_ADMIN_TOKEN)')
    .action(async (url: string | undefined, o: PurgeCliOptions) => {
      const result = await runPurge(url, o);
      process.stdout.write(`${JSON.stringify(result)}\n`);
    });
}
