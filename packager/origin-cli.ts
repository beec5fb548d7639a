import type { Command } from 'commander';
import { exitWithError, parseDuration, parsePort } from '../src/cli/options.js';
import { createOrigin } from './origin.js';
import { parseLiveSpec, LIVE_DEFAULTS, type ChannelConfig } from './live/channel-config.js';

interface OriginCliOptions {
  root: string;
  port: string;
  host: string;
  live: string[];
  segment: string;
  part: string;
  dvr: string;
  liveLadder: string;
  logLevel: string;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/**
 * Registers `origin --root <dir> [--port 8081] [--host 127.0.0.1] [--live <channel>=<source>]...
 * [--segment 2] [--part 0.5] [--dvr 120] [--live-ladder small]`.
 */
export function registerOriginCommand(program: Command): void {
  program
    .command('origin')
    .description('serve packaged VOD assets (/vod/) and live channels (/live/) with HLS, LL-HLS, DASH and LL-DASH')
    .requiredOption('--root <dir>', 'folder of published assets (the package command --out)')
    .option('--port <port>', 'TCP port', '8081')
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option(
      '--live <channel=source>',
      'live channel (repeatable): source is lavfi, lavfi:<graph>, a file (looped in real time) or an ffmpeg URL (srt://, rtmp://, udp://)',
      collect,
      [],
    )
    .option('--segment <seconds>', 'live segment duration', String(LIVE_DEFAULTS.segmentDuration))
    .option('--part <seconds>', 'live part duration', String(LIVE_DEFAULTS.partDuration))
    .option('--dvr <seconds>', 'live DVR window', String(LIVE_DEFAULTS.dvrWindow))
    .option('--live-ladder <preset|file.json>', 'live ladder preset or JSON file', LIVE_DEFAULTS.ladder)
    .option('--log-level <level>', 'pino log level (fatal, error, warn, info, debug)', 'info')
    .action(async (o: OriginCliOptions) => {
      try {
        const segmentDuration = parseDuration(o.segment);
        const partDuration = parseDuration(o.part);
        const dvrWindow = parseDuration(o.dvr);
        const live: ChannelConfig[] = o.live.map((spec) => ({
          ...parseLiveSpec(spec),
          segmentDuration,
          partDuration,
          dvrWindow,
          ladder: o.liveLadder,
        }));
        const origin = await createOrigin({ root: o.root, live, logger: { level: o.logLevel } });
        let stopping = false;
        const stop = (signal: string): void => {
          if (stopping) return;
          stopping = true;
          origin.app.log.info({ signal }, 'stopping origin');
          origin.close().then(
            () => process.exit(0),
            () => process.exit(1),
          );
        };
        process.once('SIGINT', () => stop('SIGINT'));
        process.once('SIGTERM', () => stop('SIGTERM'));
        const url = await origin.listen(parsePort(o.port), o.host);
        process.stdout.write(`origin listening on ${url}\n`);
        for (const c of live) process.stdout.write(`live channel ${c.id}: ${url}/live/${c.id}/master.m3u8\n`);
      } catch (e) {
        exitWithError(e);
      }
    });
}
