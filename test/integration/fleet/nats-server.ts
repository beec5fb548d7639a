/**
 * A real nats-server with JetStream for the fleet tests: random loopback port, temporary store
 * folder, optional auth (user + password or token) and TLS, stopped by PID. Restartable on the
 * same port and store (the "NATS goes down and comes back" tests).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface NatsServerOptions {
  auth?: { user: string; password: string } | { token: string };
  /** Serve TLS with a fresh self-signed certificate for 127.0.0.1 (its PEM is `caFile`). */
  tls?: boolean;
}

export interface NatsServer {
  url: string;
  port: number;
  /** The TLS certificate to trust (with tls). */
  caFile?: string;
  pid(): number | undefined;
  /** Stop (SIGTERM, then SIGKILL after 5 s) and wait for the exit. */
  stop(): Promise<void>;
  /** Start again on the same port and store. */
  start(): Promise<void>;
  /** Stop and remove the folder. */
  close(): Promise<void>;
}

async function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

function selfSignedCert(dir: string): { cert: string; key: string } {
  const cert = join(dir, 'server-cert.pem');
  const key = join(dir, 'server-key.pem');
  const r = spawnSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1,DNS:localhost',
      '-keyout',
      key,
      '-out',
      cert,
    ],
    { encoding: 'utf8' },
  );
  if (r.status !== 0) throw new Error(`openssl failed: ${r.stderr}`);
  return { cert, key };
}

export async function startNatsServer(opts: NatsServerOptions = {}): Promise<NatsServer> {
  const dir = mkdtempSync(join(tmpdir(), 'streamedge-nats-'));
  const port = await freeLoopbackPort();
  const lines = [`listen: "127.0.0.1:${port}"`, `jetstream { store_dir: ${JSON.stringify(join(dir, 'js'))} }`];
  if (opts.auth && 'token' in opts.auth) lines.push(`authorization { token: ${JSON.stringify(opts.auth.token)} }`);
  else if (opts.auth)
    lines.push(
      `authorization { user: ${JSON.stringify(opts.auth.user)}, password: ${JSON.stringify(opts.auth.password)} }`,
    );
  let caFile: string | undefined;
  if (opts.tls) {
    const { cert, key } = selfSignedCert(dir);
    caFile = cert;
    lines.push(`tls { cert_file: ${JSON.stringify(cert)}, key_file: ${JSON.stringify(key)} }`);
  }
  const conf = join(dir, 'nats.conf');
  writeFileSync(conf, lines.join('\n') + '\n');

  let child: ChildProcess | undefined;
  const start = async (): Promise<void> => {
    if (child) throw new Error('nats-server already running');
    const c = spawn('nats-server', ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
    child = c;
    let log = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`nats-server did not start in 10 s:\n${log}`)), 10_000);
      c.stderr.on('data', (d: Buffer) => {
        if (log.length < 64 * 1024) log += d.toString('utf8');
        if (log.includes('Server is ready')) {
          clearTimeout(timer);
          resolve();
        }
      });
      c.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`nats-server exited with ${code}:\n${log}`));
      });
    });
    c.stderr.resume();
  };
  const stop = async (): Promise<void> => {
    const c = child;
    if (!c) return;
    child = undefined;
    if (c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise<void>((r) => c.once('exit', () => r()));
    process.kill(c.pid!, 'SIGTERM');
    const timer = setTimeout(() => {
      if (c.exitCode === null && c.signalCode === null) process.kill(c.pid!, 'SIGKILL');
    }, 5000);
    await exited;
    clearTimeout(timer);
  };
  await start();
  return {
    url: `${opts.tls ? 'tls' : 'nats'}://127.0.0.1:${port}`,
    port,
    ...(caFile !== undefined ? { caFile } : {}),
    pid: () => child?.pid,
    stop,
    start,
    close: async () => {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
