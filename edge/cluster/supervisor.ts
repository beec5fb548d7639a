/**
 * `streamedge edge --workers N` (N > 1): the supervisor (node:cluster primary). It starts one store
 * process (store-main.ts: the lmdb writer, fill table, upstream pool) and N HTTP workers
 * (worker-main.ts) that share the listening port through the primary; edge/store/README.md draws it.
 *
 * - A worker that dies is respawned (SIGKILL included); the others keep serving meanwhile.
 * - A store process that dies is restarted; workers keep serving hits and fetch misses themselves
 *   (without storing them) until their link reconnects.
 * - SIGTERM: every worker drains (stops accepting, finishes what is in flight), then the store
 *   process finishes its fills and closes.
 * - SIGHUP or POST /_edge/restart: rolling restart, one worker at a time: its replacement is
 *   listening before it drains, so some worker always accepts.
 * - TLS: one set of session ticket keys, made here and handed to every worker (rotated every 12 h
 *   and on SIGUSR2), so a session resumes whichever worker answers.
 * - --nats: the edge's one fleet membership lives here (supervisor-fleet.ts), relayed to the workers.
 */
import cluster, { type Worker } from 'node:cluster';
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino, { type Logger } from 'pino';
import { stdoutLog } from '../../src/logging/log-destination.js';
import { parseDuration } from '../../src/cli/options.js';
import { StreamedgeError } from '../../src/errors.js';
import type { EdgeCliOptions } from '../edge-cli.js';
import { type ChildMessage, ROLE_ENV, type RoleConfig, type SupervisorMessage, childEntry } from './process-role.js';
import { SupervisorFleet } from './supervisor-fleet.js';

interface Slot {
  index: number;
  worker: Worker | undefined;
  /** Quick deaths in a row (respawn backs off). */
  failures: number;
}

const TICKET_ROTATE_MS = 12 * 3600 * 1000;
/** Past its drain timeout, a retiring worker (or a stopping store process) gets this long before SIGKILL. */
const EXIT_GRACE_MS = 5_000;

/**
 * How the workers get their connections: SCHED_NONE (the workers accept on the shared listening
 * socket themselves) unless NODE_CLUSTER_SCHED_POLICY says `rr` (node's own default on Linux: this
 * process accepts each connection and hands it to a worker over IPC, which cost the supervisor and
 * the workers' IPC acks about a fifth of the edge's CPU under 5,000 plain-HLS viewers).
 */
export function schedulingPolicy(env: string | undefined): number {
  return env === 'rr' ? cluster.SCHED_RR : cluster.SCHED_NONE;
}

export class EdgeSupervisor {
  private store: ChildProcess | undefined;
  private readonly slots: Slot[] = [];
  /** Workers asked to drain (their exit is expected). */
  private readonly retiring = new Set<Worker>();
  /** Workers that said `ready` (listening); the others are still starting. */
  private readonly ready = new WeakSet<Worker>();
  private stopping = false;
  private rolling: Promise<void> | undefined;
  private storeFailures = 0;
  private ticketKeys: Buffer | undefined;
  private ticketTimer: NodeJS.Timeout | undefined;
  /** With --nats: the edge's one fleet membership (edge/cluster/supervisor-fleet.ts). */
  private fleet: SupervisorFleet | undefined;
  url = '';
  plainUrl: string | undefined;

  private constructor(
    private o: EdgeCliOptions,
    private readonly socketPath: string,
    private readonly tempDir: string | undefined,
    private readonly logger: Logger,
  ) {}

  /** Starts the store process, then `n` workers; resolves once all listen. */
  static async start(o: EdgeCliOptions, n: number): Promise<EdgeSupervisor> {
    if (!cluster.isPrimary) throw new StreamedgeError('EDGE_STATE', 'the edge supervisor runs in the primary process');
    const logger = pino(
      {
        level: o.logLevel,
        base: { service: 'streamedge-edge', edge: o.name, role: 'supervisor', pid: process.pid },
      },
      stdoutLog(),
    );
    const tempDir = o.store === undefined ? mkdtempSync(join(tmpdir(), 'streamedge-edge-')) : undefined;
    const options: EdgeCliOptions = { ...o, store: o.store ?? tempDir };
    const socketPath = join(tmpdir(), `streamedge-edge-${process.pid}-${randomBytes(4).toString('hex')}.sock`);
    const sup = new EdgeSupervisor(options, socketPath, tempDir, logger);
    if (o.tlsCert !== undefined) sup.ticketKeys = randomBytes(48);
    cluster.schedulingPolicy = schedulingPolicy(process.env.NODE_CLUSTER_SCHED_POLICY);
    const entry = childEntry('worker-main');
    cluster.setupPrimary({ exec: entry.exec, args: entry.args });
    cluster.on('exit', (w, code, signal) => sup.onWorkerExit(w, code, signal));
    try {
      if (o.nats !== undefined) sup.fleet = await SupervisorFleet.open(options, logger);
      await sup.startStore();
      for (let i = 0; i < n; i++) sup.slots.push({ index: i, worker: undefined, failures: 0 });
      const first = await Promise.all(sup.slots.map((s) => sup.spawn(s)));
      sup.url = first[0].url ?? '';
      sup.plainUrl = first[0].plainUrl;
      await sup.fleet?.join(o.self ?? sup.url);
    } catch (e) {
      await sup.stop();
      throw e;
    }
    if (sup.ticketKeys) {
      sup.ticketTimer = setInterval(() => sup.rotateTicketKeys(), TICKET_ROTATE_MS);
      sup.ticketTimer.unref();
    }
    logger.info({ url: sup.url, workers: n, socket: socketPath }, 'edge supervisor ready');
    return sup;
  }

  /** Worker pids by index (for tests and the operator). */
  get workerPids(): number[] {
    return this.slots.map((s) => s.worker?.process.pid ?? 0);
  }

  get storePid(): number | undefined {
    return this.store?.pid;
  }

  // ------------------------------------------------------------------ store process

  private startStore(): Promise<void> {
    const entry = childEntry('store-main');
    const role: RoleConfig = { options: this.o, socketPath: this.socketPath };
    rmSync(this.socketPath, { force: true });
    const child = fork(entry.exec, entry.args, {
      env: { ...process.env, [ROLE_ENV]: JSON.stringify(role) },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.store = child;
    const startedAt = Date.now();
    return new Promise<void>((resolve, reject) => {
      let failed: StreamedgeError | undefined;
      const onExit = (code: number | null, signal: string | null) => {
        reject(
          failed ??
            new StreamedgeError(
              'EDGE_STORE_PROCESS',
              `the store process exited (${signal ?? code}) before it was ready`,
            ),
        );
      };
      child.once('exit', onExit);
      child.on('message', (m: ChildMessage) => {
        if (m.type === 'failed') failed = new StreamedgeError(m.code, m.message);
        if (m.type !== 'ready') return;
        child.off('exit', onExit);
        child.once('exit', (code, signal) => this.onStoreExit(child, code, signal, startedAt));
        this.fleet?.storeStarted(child);
        resolve();
      });
    });
  }

  private onStoreExit(child: ChildProcess, code: number | null, signal: string | null, startedAt: number): void {
    if (this.stopping || this.store !== child) return;
    this.store = undefined;
    this.storeFailures = Date.now() - startedAt < 5_000 ? this.storeFailures + 1 : 0;
    const delay = Math.min(5_000, 100 * 2 ** this.storeFailures);
    this.logger.error(
      { code, signal, restartInMs: delay },
      'store process exited: restarting it (workers keep serving hits)',
    );
    setTimeout(() => {
      if (this.stopping) return;
      this.startStore().catch((e: unknown) => this.logger.error({ err: e }, 'store process restart failed'));
    }, delay).unref();
  }

  // ------------------------------------------------------------------ workers

  private spawn(slot: Slot): Promise<{ url?: string; plainUrl?: string }> {
    const role: RoleConfig = {
      options: this.o,
      socketPath: this.socketPath,
      index: slot.index,
      ...(this.ticketKeys ? { ticketKeys: this.ticketKeys.toString('hex') } : {}),
    };
    const w = cluster.fork({ [ROLE_ENV]: JSON.stringify(role) });
    const startedAt = Date.now();
    const previous = slot.worker;
    slot.worker = w;
    (w as Worker & { startedAt?: number }).startedAt = startedAt;
    return new Promise((resolve, reject) => {
      let failed: StreamedgeError | undefined;
      const onExit = (code: number | null, signal: string | null) => {
        if (slot.worker === w) slot.worker = previous;
        reject(
          failed ??
            new StreamedgeError('EDGE_WORKER', `worker ${slot.index} exited (${signal ?? code}) before it listened`),
        );
      };
      w.once('exit', onExit);
      w.on('message', (m: ChildMessage) => {
        if (this.fleet?.onWorkerMessage(w, m)) return;
        if (m.type === 'failed') failed = new StreamedgeError(m.code, m.message);
        else if (m.type === 'ready') {
          this.ready.add(w);
          w.off('exit', onExit);
          resolve({ ...(m.url !== undefined ? { url: m.url } : {}), ...(m.plainUrl ? { plainUrl: m.plainUrl } : {}) });
        } else if (m.type === 'rolling-restart') {
          void this.rollingRestart();
        } else if (m.type === 'cmsd-cap') {
          this.shareCmsdCap(w, m.kbps);
        }
      });
    });
  }

  private onWorkerExit(w: Worker, code: number, signal: string): void {
    this.fleet?.workerGone(w);
    if (this.retiring.delete(w)) return;
    const slot = this.slots.find((s) => s.worker === w);
    if (!slot || this.stopping) return;
    const startedAt = (w as Worker & { startedAt?: number }).startedAt ?? 0;
    slot.failures = Date.now() - startedAt < 5_000 ? slot.failures + 1 : 0;
    slot.worker = undefined;
    const delay = slot.failures > 1 ? Math.min(5_000, 100 * 2 ** slot.failures) : 0;
    this.logger.error(
      { worker: slot.index, workerPid: w.process.pid, code, signal, respawnInMs: delay },
      'edge worker died: respawning it',
    );
    setTimeout(() => {
      if (this.stopping || slot.worker) return;
      this.spawn(slot).catch((e: unknown) =>
        this.logger.error({ err: e, worker: slot.index }, 'worker respawn failed'),
      );
    }, delay).unref();
  }

  /** How long a drain may take (--drain-timeout) plus a grace, before the process is killed. */
  private get exitDeadlineMs(): number {
    return parseDuration(this.o.drainTimeout ?? '30s') * 1000 + EXIT_GRACE_MS;
  }

  /**
   * Asks `w` to drain and waits for its exit: bounded, whatever state it is in. A worker still
   * starting (a respawn, not listening yet) has nothing in flight: SIGTERM (it exits, or drains as
   * soon as it is up). Past the drain timeout and a grace, any worker is SIGKILLed.
   */
  private retire(w: Worker): Promise<void> {
    this.retiring.add(w);
    return new Promise<void>((resolve) => {
      if (w.isDead()) {
        this.retiring.delete(w);
        resolve();
        return;
      }
      const timer = setTimeout(() => {
        this.logger.warn(
          { workerPid: w.process.pid, afterMs: this.exitDeadlineMs },
          'edge worker did not exit after drain: killing it',
        );
        w.process.kill('SIGKILL');
      }, this.exitDeadlineMs);
      w.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      if (!this.ready.has(w)) {
        w.process.kill('SIGTERM');
        return;
      }
      try {
        w.send({ type: 'drain' } satisfies SupervisorMessage);
      } catch {
        w.process.kill('SIGTERM');
      }
    });
  }

  /** Replaces the workers one by one: each replacement listens before the old one drains. */
  rollingRestart(): Promise<void> {
    if (this.rolling) return this.rolling;
    this.rolling = (async () => {
      this.logger.info({ workers: this.slots.length }, 'rolling restart');
      for (const slot of this.slots) {
        if (this.stopping) break;
        const old = slot.worker;
        try {
          await this.spawn(slot);
        } catch (e) {
          this.logger.error(
            { err: e, worker: slot.index },
            'rolling restart: the replacement failed; keeping the old worker',
          );
          continue;
        }
        if (old) await this.retire(old);
      }
      this.logger.info({ workerPids: this.workerPids }, 'rolling restart done');
    })().finally(() => (this.rolling = undefined));
    return this.rolling;
  }

  /**
   * A worker took a new CMSD cap (PUT /_edge/cmsd): the other workers apply it, and workers
   * started from now on (respawns, rolling restarts) start with it.
   */
  private shareCmsdCap(from: Worker, kbps: number | null): void {
    const { cmsdMaxBitrate: _old, ...rest } = this.o;
    this.o = kbps === null ? rest : { ...rest, cmsdMaxBitrate: String(kbps) };
    const msg: SupervisorMessage = { type: 'cmsd-cap', kbps };
    for (const s of this.slots) if (s.worker && s.worker !== from && !s.worker.isDead()) s.worker.send(msg);
    this.logger.info({ cmsdMaxBitrateKbps: kbps }, 'CMSD cap passed to every worker');
  }

  /** New TLS session ticket keys for every worker (every 12 h, and on SIGUSR2); old tickets stop resuming. */
  rotateTicketKeys(): void {
    if (!this.ticketKeys) return;
    this.ticketKeys = randomBytes(48);
    const msg: SupervisorMessage = { type: 'ticket-keys', hex: this.ticketKeys.toString('hex') };
    for (const s of this.slots) if (s.worker && !s.worker.isDead()) s.worker.send(msg);
  }

  /** Drains every worker, then stops the store process (its fills finish and are stored). */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    clearInterval(this.ticketTimer);
    await this.rolling?.catch(() => undefined);
    // leave the fleet first (as a single-process edge does), then drain
    await this.fleet?.close().catch((e: unknown) => this.logger.warn({ err: e }, 'leaving the fleet failed'));
    const live = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined);
    await Promise.all(live.map((w) => this.retire(w)));
    const store = this.store;
    if (store && store.exitCode === null && store.signalCode === null) {
      await new Promise<void>((r) => {
        const timer = setTimeout(() => {
          this.logger.warn({ storePid: store.pid }, 'store process did not exit: killing it');
          store.kill('SIGKILL');
        }, this.exitDeadlineMs);
        store.once('exit', () => {
          clearTimeout(timer);
          r();
        });
        store.kill('SIGTERM');
      });
    }
    rmSync(this.socketPath, { force: true });
    if (this.tempDir) rmSync(this.tempDir, { recursive: true, force: true });
    this.logger.info({}, 'edge supervisor stopped');
  }
}
