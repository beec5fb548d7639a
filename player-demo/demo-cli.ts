/**
 * `streamedge demo` (what `npm start` runs): packages the sample once, starts the origin with a
 * live test channel, a shield edge and an edge in front of it, and the player page, all on
 * loopback; prints one URL. Ctrl-C stops everything.
 *
 * With --fleet: nats-server -js, the shield and three edges of one PoP joined through NATS
 * (membership, purge stream), the player behind the first edge.
 * `--tls`: a throwaway self-signed certificate for localhost/127.0.0.1 (in <dir>/tls, made by
 * openssl); the edge and the shield serve HTTPS with HTTP/2 (the edge verifies the shield with
 * that certificate as its CA), and so does the page. The origin stays plain HTTP on loopback.
 */
import type { Command } from 'commander';
import { mkdirSync, writeFileSync } from 'node:fs';
import { DirLock, type DirLockOwner } from '../src/dir-lock.js';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parsePort } from '../src/cli/options.js';
import { createSelfSignedCertificate } from '../src/tls/self-signed.js';
import { runCli, type ChildService } from './child-service.js';
import { buildPlayer } from './build.js';
import { packageDemoSample } from './demo-sample.js';
import { startPageServer } from './page-server.js';
import { startNatsServer } from './nats-service.js';
import { randomBytes } from 'node:crypto';

const REPO = resolve(fileURLToPath(import.meta.url), '..', '..');

interface DemoOptions {
  dir: string;
  port: string;
  edgePort: string;
  shieldPort: string;
  originPort: string;
  live: boolean;
  fleet?: boolean;
  natsPort: string;
  tls?: boolean;
  cmsdMaxBitrate?: string;
}

export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .description('package a sample, start origin (+ live channel), shield edge, edge and the player page on loopback')
    .option('--dir <dir>', 'working folder for media, caches and logs', '.demo')
    .option('--port <port>', 'player page port (0 = any free port)', '8000')
    .option('--edge-port <port>', 'edge port', '8080')
    .option('--shield-port <port>', 'shield edge port', '8082')
    .option('--origin-port <port>', 'origin port', '8081')
    .option('--no-live', 'skip the live test channel')
    .option('--fleet', 'a fleet on NATS JetStream: nats-server, the shield and three edges of one PoP')
    .option('--nats-port <port>', 'nats-server port (with --fleet)', '4222')
    .option('--tls', 'serve the edge, shield and page over HTTPS + HTTP/2 with a throwaway self-signed certificate')
    .option(
      '--cmsd-max-bitrate <kbps>',
      "the viewer-facing edges cap players at this bitrate (CMSD-Dynamic mb), e.g. 1000: watch the player's levels",
    )
    .action(async (o: DemoOptions) => runDemo(o));
}

const DEMO_LOCK: DirLockOwner = {
  file: 'demo.lock',
  code: 'DEMO_RUNNING',
  openCode: 'DEMO_DIR',
  held: (pid, host, path) =>
    `a demo is already running in ${dirname(path)} (pid ${pid} on ${host}); stop it (Ctrl-C) or give another --dir`,
};

async function runDemo(o: DemoOptions): Promise<void> {
  const dir = resolve(o.dir);
  const media = join(dir, 'media');
  const logs = join(dir, 'logs');
  mkdirSync(logs, { recursive: true });
  // one demo per directory: a second one must fail before it touches the first one's files
  // (its admin token, its media), not when its own shield finds the store taken
  const lock = DirLock.acquire(dir, DEMO_LOCK);
  process.once('exit', () => lock.release());
  const services: ChildService[] = [];
  const stopAll = async () => {
    for (const s of [...services].reverse()) await s.stop();
    lock.release();
  };
  let stopping = false;
  const onSignal = () => {
    if (stopping) return;
    stopping = true;
    process.stdout.write('\nstopping…\n');
    void stopAll().then(() => process.exit(0));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const say = (m: string) => process.stdout.write(`${m}\n`);
    await packageDemoSample(media, logs, 'demo', say);
    const nats = o.fleet ? await startNatsServer(dir, join(logs, 'nats.log'), parsePort(o.natsPort)) : undefined;
    if (nats) services.push(nats);
    const adminToken = randomBytes(18).toString('base64url');
    const tokenFile = join(dir, 'admin-token');
    writeFileSync(tokenFile, `${adminToken}\n`, { mode: 0o600 });
    const fleetArgs = (pop: string): string[] => (nats ? ['--nats', nats.url, '--pop', pop] : []);
    const originArgs = ['origin', '--root', media, '--port', String(parsePort(o.originPort))];
    // two audio languages (English 440 Hz, French 660 Hz): the page's Audio menu has something to switch
    // the live ad-break API behind the demo's admin token: the page shows the breaks one cues;
    // a thumbnail per segment: the seek bar previews the DVR window
    const tls = o.tls ? await createSelfSignedCertificate(join(dir, 'tls')) : undefined;
    if (tls) say(`self-signed certificate for localhost/127.0.0.1: ${tls.certFile} (see README "HTTPS and HTTP/2")`);
    if (o.live) {
      originArgs.push('--live', 'news=lavfi', '--live-audio', 'en,fr', '--cue-credential-file', tokenFile);
      originArgs.push('--live-thumbnails');
      // the MPD's clock through the edge the page plays from: dash.js resolves a bare /time
      // against the page (the page server has none); with the edge's port chosen at random,
      // that URL is not known yet and the bare path stays
      const edgePort = parsePort(o.edgePort);
      if (edgePort > 0) originArgs.push('--utc-timing', `${tls ? 'https' : 'http'}://127.0.0.1:${edgePort}/time`);
    }
    const origin = await runCli('origin', originArgs, {
      cwd: REPO,
      logFile: join(logs, 'origin.log'),
      waitForUrl: true,
    });
    services.push(origin);
    const tlsArgs = tls ? ['--tls-cert', tls.certFile, '--tls-key', tls.keyFile] : [];
    // the edges players meet (not the shield) send the cap
    const capArgs = o.cmsdMaxBitrate !== undefined ? ['--cmsd-max-bitrate', o.cmsdMaxBitrate] : [];
    const shield = await runCli(
      'shield',
      [
        'edge',
        '--upstream',
        origin.url,
        '--port',
        String(parsePort(o.shieldPort)),
        '--store',
        join(dir, 'shield-store'),
        '--store-size',
        '2GB',
        '--name',
        'shield',
        '--workers',
        '1',
        ...fleetArgs('shield'),
        ...tlsArgs,
      ],
      { cwd: REPO, logFile: join(logs, 'shield.log'), waitForUrl: true, env: { STREAMEDGE_ADMIN_TOKEN: adminToken } },
    );
    services.push(shield);
    const edge = await runCli(
      'edge',
      [
        'edge',
        '--upstream',
        shield.url,
        '--port',
        String(parsePort(o.edgePort)),
        '--store',
        join(dir, 'edge-store'),
        '--store-size',
        '2GB',
        '--name',
        'edge',
        '--workers',
        '1',
        ...fleetArgs('demo'),
        ...tlsArgs,
        ...(tls ? ['--upstream-ca', tls.certFile] : []),
        ...capArgs,
      ],
      { cwd: REPO, logFile: join(logs, 'edge.log'), waitForUrl: true, env: { STREAMEDGE_ADMIN_TOKEN: adminToken } },
    );
    services.push(edge);
    const more: ChildService[] = [];
    for (const [i, port] of (nats ? [parsePort(o.edgePort) + 3, parsePort(o.edgePort) + 4] : []).entries()) {
      const e = await runCli(
        `edge${i + 2}`,
        [
          'edge',
          '--upstream',
          shield.url,
          '--port',
          String(port),
          '--store',
          join(dir, `edge${i + 2}-store`),
          '--store-size',
          '2GB',
          '--name',
          `edge${i + 2}`,
          ...fleetArgs('demo'),
          ...tlsArgs,
          ...(tls ? ['--upstream-ca', tls.certFile] : []),
          ...capArgs,
        ],
        {
          cwd: REPO,
          logFile: join(logs, `edge${i + 2}.log`),
          waitForUrl: true,
          env: { STREAMEDGE_ADMIN_TOKEN: adminToken },
        },
      );
      services.push(e);
      more.push(e);
    }
    await buildPlayer();
    const streams = [
      { name: 'VOD · HLS', url: `${edge.url}/vod/sample/master.m3u8` },
      { name: 'VOD · DASH', url: `${edge.url}/vod/sample/manifest.mpd` },
      ...(o.live
        ? [
            { name: 'Live · LL-HLS', url: `${edge.url}/live/news/master.m3u8` },
            { name: 'Live · LL-DASH', url: `${edge.url}/live/news/manifest.mpd` },
          ]
        : []),
    ];
    const page = await startPageServer({ port: parsePort(o.port), streams, ...(tls ? { tls } : {}) });
    say(`origin ${origin.url}   shield ${shield.url}   edge ${edge.url}   (logs in ${logs})`);
    say(
      `players' CMCD sessions (?cmcd=query on the page): curl -H "authorization: Bearer $(cat ${tokenFile})" ${edge.url}/_edge/cmcd/sessions`,
    );
    if (o.live)
      say(
        `an ad break on the live channel (SCTE 35; the page's "ad break" shows it): npx streamedge ad-break ${origin.url} news --duration 10 --cue-credential-file ${tokenFile}`,
      );
    if (nats) {
      say(`fleet: ${nats.url}   more edges of PoP "demo": ${more.map((e) => e.url).join('  ')}`);
      say(`  members:  curl -H "authorization: Bearer $(cat ${tokenFile})" ${edge.url}/_edge/health`);
      say(
        `  purge:    STREAMEDGE_ADMIN_TOKEN=$(cat ${tokenFile}) npx streamedge purge --prefix /vod/sample/ --edge ${edge.url}`,
      );
    }
    say(`streamedge demo is running: ${page.url}`);
    say('press Ctrl-C to stop');
  } catch (e) {
    await stopAll();
    throw e;
  }
}
