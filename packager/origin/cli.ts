import { applySteeringWeights, parseSteeringPathways } from './content-steering.js';
import type { Command } from 'commander';
import { parseDuration, parsePort } from '../../src/cli/options.js';
import { StreamedgeError } from '../../src/errors.js';
import { resolveSigningKey, type SignEndpointOptions, type TokenPlacement } from '../../src/signing/index.js';
import {
  UPSTREAM_CREDENTIAL_ENV,
  addVerificationOptions,
  credentialFrom,
  type VerificationCliOptions,
} from '../../src/cli/verification-options.js';
import {
  addFleetKeysOptions,
  openVerificationWithFleet,
  type FleetKeysCliOptions,
} from '../../src/cli/fleet-verification.js';
import { createOrigin } from './server.js';
import { addTlsOptions, openTlsFromCli, type TlsCliOptions } from '../../src/cli/tls-options.js';
import { type ReloadingKeySource, type KeyLog, type OriginSignedAccessOptions } from './signed-access.js';
import { parseLiveSpec, parseEpoch, sourceInput, LIVE_DEFAULTS, type ChannelConfig } from '../live/channel-config.js';
import { loadLadderSpec, parseVideoCodecs } from '../ladder.js';
import { existsSync } from 'node:fs';
import { interstitialSource } from '../../src/cli/interstitial-options.js';
import { captionServicesOption } from '../../src/cli/caption-options.js';
import { parseProtectionScheme, pickContentKey, readContentKeys } from '../../src/cenc/content-keys.js';

interface OriginCliOptions extends VerificationCliOptions, FleetKeysCliOptions, TlsCliOptions {
  root: string;
  port: string;
  host: string;
  live: string[];
  segment: string;
  part: string;
  dvr: string;
  liveLadder: string;
  epoch?: string;
  duressLag?: string;
  steering: string[];
  steeringWeight: string[];
  steeringTtl?: string;
  steeringProbeInterval: string;
  steeringProbeTimeout: string;
  steeringProbeMisses: string;
  steeringUri?: string;
  utcTiming: string;
  liveAudio?: string;
  logLevel: string;
  signCredentialFile?: string;
  signingKeyFile?: string;
  signingKid?: string;
  signBase?: string;
  signPlacement: string;
  signMaxTtl: string;
  upstreamCredentialFile?: string;
  cueCredentialFile?: string;
  contentKeys?: string;
  liveEncrypt?: string;
  liveKeyId?: string;
  liveLicenseUrl?: string;
  liveThumbnails?: string | true;
  liveCueTags?: boolean;
  liveInterstitial?: string;
  liveInterstitialList?: string;
  liveInterstitialRestrict?: string;
  liveCaptions?: string;
  liveVideoCodecs?: string;
  liveDashPeriods: string;
}

/** `--live-thumbnails` alone (240 pixels wide) or with a width. */
function liveThumbnailsOption(v: string | true | undefined): { width: number } | undefined {
  if (v === undefined) return undefined;
  if (v === true) return { width: 240 };
  if (!/^\d+$/.test(v)) throw new StreamedgeError('BAD_OPTION', `--live-thumbnails ${v}: give a width in pixels`);
  return { width: Number(v) };
}

/** The ad-break API's credential, when no --cue-credential-file is given. */
export const CUE_CREDENTIAL_ENV = 'STREAMEDGE_CUE_CREDENTIAL';
export const SIGN_CREDENTIAL_ENV = 'STREAMEDGE_SIGN_CREDENTIAL';
export { UPSTREAM_CREDENTIAL_ENV };

export type OriginSigningCliOptions = VerificationCliOptions &
  FleetKeysCliOptions &
  Pick<
    OriginCliOptions,
    | 'signCredentialFile'
    | 'signingKeyFile'
    | 'signingKid'
    | 'signBase'
    | 'signPlacement'
    | 'signMaxTtl'
    | 'upstreamCredentialFile'
  >;

/**
 * The origin's signed-URL setup from CLI options and the environment (keys and credentials come
 * only from files and environment variables, never from argv; nothing here is logged).
 * `close()` stops watching key files.
 */
export async function originSigningFromCli(
  o: OriginSigningCliOptions,
  env: NodeJS.ProcessEnv = process.env,
  log?: KeyLog,
): Promise<{ signing: OriginSignedAccessOptions; keys?: ReloadingKeySource; close(): void }> {
  const signing: OriginSignedAccessOptions = {};
  let keys: ReloadingKeySource | undefined;
  const opened = await openVerificationWithFleet(o, env, log, 'streamedge-origin');
  if (opened) {
    keys = opened.keys;
    signing.verifier = opened.verifier;
  }
  const upstream = credentialFrom(o.upstreamCredentialFile, UPSTREAM_CREDENTIAL_ENV, env, 'the upstream credential');
  if (upstream !== undefined) signing.upstreamCredential = upstream;
  const signCredential = credentialFrom(
    o.signCredentialFile,
    SIGN_CREDENTIAL_ENV,
    env,
    'the signing endpoint credential',
  );
  if (signCredential !== undefined) {
    const placement = (o.signPlacement ?? 'path') as TokenPlacement;
    if (placement !== 'path' && placement !== 'query') {
      throw new StreamedgeError('BAD_OPTION', `--sign-placement must be "path" or "query" (got "${o.signPlacement}")`);
    }
    const sign: SignEndpointOptions = {
      adminCredential: signCredential,
      key: await resolveSigningKey({
        ...(o.signingKeyFile !== undefined
          ? { keyFile: o.signingKeyFile }
          : o.secretFile !== undefined
            ? { secretFile: o.secretFile }
            : {}),
        ...((o.signingKid ?? o.secretKid) !== undefined ? { kid: (o.signingKid ?? o.secretKid)! } : {}),
        env,
      }),
      maxTtlSec: parseDuration(o.signMaxTtl ?? '24h'),
      placement,
    };
    if (o.signBase !== undefined) sign.baseUrl = o.signBase;
    signing.sign = sign;
  }
  return { signing, ...(keys ? { keys } : {}), close: () => void opened?.close() };
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/**
 * Registers `origin --root <dir> [--port 8081] [--host 127.0.0.1] [--live <channel>=<source>]...
 * [--segment 2] [--part 0.5] [--dvr 120] [--live-ladder small] [--live-audio en,fr] [--epoch <time>]`.
 */
export function registerOriginCommand(program: Command): void {
  const originCommand = addFleetKeysOptions(program.command('origin'));
  addVerificationOptions(
    addTlsOptions(
      originCommand
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
        .option(
          '--live-audio <lang,lang>',
          'lavfi channels: audio languages (BCP 47), one test tone each (440, 660, 880 Hz...), each its own rendition',
        )
        .option(
          '--epoch <time>',
          'lock live numbering and PDT to wall-clock time since this instant (unix seconds or ISO-8601 with zone): redundant origins with the same epoch serve interchangeable playlists',
        )
        .option(
          '--duress-lag <seconds>',
          'a live channel this far behind real time says it is under duress (CMSD-Dynamic du), so an edge with a backup origin moves it there (default: a segment and two parts)',
        )
        .option(
          '--steering <pathway=url>',
          'HLS and DASH content steering (repeatable, preferred first): a CDN the players may use, e.g. cdn-a=https://a.example.com; GET /steering (HLS) and /steering/dash order them by health',
          collect,
          [],
        )
        .option(
          '--steering-weight <pathway=weight>',
          'content steering (repeatable): the share of new players a CDN gets, e.g. cdn-a=70 (0: none, and its players move off)',
          collect,
          [],
        )
        .option('--steering-ttl <seconds>', 'how long a player keeps to a steering manifest', '10')
        .option('--steering-probe-interval <duration>', "how often each CDN's /_edge/health is asked", '2s')
        .option('--steering-probe-timeout <duration>', 'how long a health answer may take', '1s')
        .option(
          '--steering-probe-misses <n>',
          'probes in a row without a timely answer (or with a 5xx other than 503) before a well CDN is down; a refused connection is down at once',
          '3',
        )
        .option(
          '--steering-uri <uri>',
          'SERVER-URI the playlists name (default /steering, asked of the CDN that served them)',
        )
        .option('--log-level <level>', 'pino log level (fatal, error, warn, info, debug)', 'info'),
    ),
    'every /vod/ and /live/ request needs a valid signed-URL token (or the upstream credential)',
  )
    .option(
      '--sign-credential-file <file>',
      `enables POST /_sign behind this bearer credential (default: $${SIGN_CREDENTIAL_ENV})`,
    )
    .option(
      '--signing-key-file <file>',
      'private key for POST /_sign: private JWK or PKCS#8 PEM (default: the HS256 secret)',
    )
    .option('--signing-kid <kid>', 'kid written by POST /_sign')
    .option('--sign-base <url>', 'base URL of the URLs POST /_sign returns, e.g. https://edge.example')
    .option('--sign-placement <where>', 'default placement for POST /_sign: path or query', 'path')
    .option('--sign-max-ttl <duration>', 'longest lifetime POST /_sign grants', '24h')
    .option(
      '--upstream-credential-file <file>',
      `edges presenting this credential need no token (default: $${UPSTREAM_CREDENTIAL_ENV})`,
    )
    .option(
      '--cue-credential-file <file>',
      `enables the live ad-break API (POST /_live/<channel>/ad-breaks) behind this bearer credential (default: $${CUE_CREDENTIAL_ENV})`,
    )
    .option(
      '--content-keys <file>',
      'JSON key file of encrypted assets and channels: their keys are handed out under keys/',
    )
    .option('--live-encrypt <scheme>', 'encrypt the live channels: cbcs or cenc (with --content-keys)')
    .option('--live-key-id <kid>', 'the key of --content-keys the live channels use (default: the first)')
    .option(
      '--live-license-url <url>',
      "the live MPDs' absolute Clear Key license URL (default: keys/clearkey beside the MPD)",
    )
    .option(
      '--live-dash-periods <single|cues>',
      "the live MPD in one Period, or a new Period at each ad break's start and return (cues)",
      'single',
    )
    .option(
      '--live-video-codecs <h264|hevc|h264,hevc>',
      "the live ladder's video codecs: h264,hevc encodes every rung in HEVC too (default: the ladder's, H.264)",
    )
    .option(
      '--live-captions <none|CC1=en:English,SERVICE1=en,…>',
      "the caption services of the live channels' video their manifests announce, CEA-608 channels (CC1–CC4) and CEA-708 services (SERVICE1–SERVICE63), with language and name (default: the services a caption appears on, unnamed); none: announce none",
    )
    .option(
      '--live-cue-tags',
      "the live channels' ad breaks also as EXT-X-CUE-OUT, EXT-X-CUE-OUT-CONT and EXT-X-CUE-IN segment tags (with EXT-OATCLS-SCTE35), for ad inserters that read those",
    )
    .option(
      '--live-interstitial <url>',
      "the live channels' ad breaks also as HLS Interstitials of this ad (an absolute URL of its playlist): players that schedule interstitials play it over the break",
    )
    .option(
      '--live-interstitial-list <url>',
      'as --live-interstitial, the ads an ad decision service lists (X-ASSET-LIST, JSON) at this absolute URL',
    )
    .option(
      '--live-interstitial-restrict <skip,jump>',
      'with --live-interstitial(-list): X-RESTRICT, skip (the ad cannot be skipped or seeked in) and/or jump (a seek past a break plays its ad first)',
    )
    .option(
      '--utc-timing <url>',
      "the clock live MPDs name (UTCTiming, http-iso): an absolute URL (e.g. https://cdn.example/time, through the edges players use), or a path on the MPD's host; dash.js resolves a bare path against its page, not the MPD",
      '/time',
    )
    .option(
      '--live-thumbnails [width]',
      'a thumbnail per segment of each live channel, for seek-bar previews in the DVR window (width in pixels, default 240)',
    )
    .action(async (o: OriginCliOptions) => {
      const contentKeys = o.contentKeys !== undefined ? readContentKeys(o.contentKeys) : undefined;
      if ((o.liveEncrypt !== undefined || o.liveKeyId !== undefined) && !contentKeys)
        throw new StreamedgeError('BAD_OPTION', '--live-encrypt needs --content-keys <file>');
      if (o.liveLicenseUrl !== undefined && (o.liveEncrypt === undefined || !/^https?:\/\//.test(o.liveLicenseUrl)))
        throw new StreamedgeError('BAD_OPTION', '--live-license-url needs --live-encrypt and an absolute http(s) URL');
      const liveProtection =
        o.liveEncrypt !== undefined
          ? {
              scheme: parseProtectionScheme(o.liveEncrypt),
              key: pickContentKey(contentKeys!, o.liveKeyId),
              ...(o.liveLicenseUrl !== undefined ? { licenseUrl: o.liveLicenseUrl } : {}),
            }
          : undefined;
      const segmentDuration = parseDuration(o.segment);
      const partDuration = parseDuration(o.part);
      const dvrWindow = parseDuration(o.dvr);
      const duressLag = o.duressLag !== undefined ? parseDuration(o.duressLag) : undefined;
      const audioLanguages = o.liveAudio?.split(',').map((l) => l.trim());
      const epoch = o.epoch !== undefined ? parseEpoch(o.epoch) : undefined;
      const thumbnails = liveThumbnailsOption(o.liveThumbnails);
      const interstitial = interstitialSource(
        { uri: o.liveInterstitial, list: o.liveInterstitialList, restrict: o.liveInterstitialRestrict },
        '--live-interstitial',
      );
      const captions =
        o.liveCaptions !== undefined ? captionServicesOption(o.liveCaptions, '--live-captions') : undefined;
      const videoCodecs =
        o.liveVideoCodecs !== undefined ? parseVideoCodecs(o.liveVideoCodecs, '--live-video-codecs') : undefined;
      if (o.liveDashPeriods !== 'single' && o.liveDashPeriods !== 'cues') {
        throw new StreamedgeError('BAD_OPTION', `--live-dash-periods ${o.liveDashPeriods}: use single or cues`);
      }
      const dashPeriods = o.liveDashPeriods;
      const utcTimingOk = o.utcTiming.startsWith('/')
        ? !o.utcTiming.startsWith('//') && !/\s/.test(o.utcTiming)
        : /^https?:\/\/[^/\s]/i.test(o.utcTiming) && URL.canParse(o.utcTiming);
      if (!utcTimingOk)
        throw new StreamedgeError(
          'BAD_OPTION',
          `--utc-timing ${o.utcTiming}: use an absolute http(s) URL or a path that starts with /`,
        );
      if (o.live.length > 0) liveLadderReadable(o.liveLadder);
      const live: ChannelConfig[] = o.live.map((spec) => {
        const parsed = parseLiveSpec(spec);
        liveFileSourceExists(spec, parsed.source);
        return {
          ...parsed,
          segmentDuration,
          partDuration,
          dvrWindow,
          ladder: o.liveLadder,
          ...(videoCodecs ? { videoCodecs } : {}),
          ...(dashPeriods === 'cues' ? { dashPeriods } : {}),
          ...(audioLanguages && parsed.source.startsWith('lavfi') ? { audioLanguages } : {}),
          ...(epoch !== undefined ? { epoch } : {}),
          ...(duressLag !== undefined ? { duressLag } : {}),
          ...(liveProtection ? { protection: liveProtection } : {}),
          ...(thumbnails ? { thumbnails } : {}),
          ...(o.liveCueTags ? { hlsCueTags: true } : {}),
          ...(interstitial ? { interstitial } : {}),
          ...(captions ? { captions } : {}),
        };
      });
      const logRef: { current?: KeyLog } = {};
      const signed = await originSigningFromCli(o, process.env, {
        info: (x, m) => logRef.current?.info(x, m),
        warn: (x, m) => logRef.current?.warn(x, m),
      });
      const tls = await openTlsFromCli(o, {
        info: (x, m) => logRef.current?.info(x, m),
        warn: (x, m) => (logRef.current ? logRef.current.warn(x, m) : process.stderr.write(`warning: ${m}\n`)),
      });
      const cueCredential = credentialFrom(
        o.cueCredentialFile,
        CUE_CREDENTIAL_ENV,
        process.env,
        'the ad-break credential',
      );
      const pathways = applySteeringWeights(parseSteeringPathways(o.steering), o.steeringWeight);
      const origin = await createOrigin({
        root: o.root,
        live,
        logger: { level: o.logLevel },
        ...(pathways.length > 0
          ? {
              steering: {
                pathways,
                ttlSec: parseDuration(o.steeringTtl ?? '10'),
                probeMs: parseDuration(o.steeringProbeInterval) * 1000,
                probeTimeoutMs: parseDuration(o.steeringProbeTimeout) * 1000,
                probeMisses: Number(o.steeringProbeMisses),
                ...(o.steeringUri !== undefined ? { serverUri: o.steeringUri } : {}),
              },
            }
          : {}),
        signing: signed.signing,
        ...(tls ? { tls } : {}),
        ...(cueCredential !== undefined ? { cueCredential } : {}),
        ...(contentKeys ? { contentKeys } : {}),
        ...(o.utcTiming !== '/time' ? { channelOptions: { utcTiming: o.utcTiming } } : {}),
      });
      logRef.current = origin.app.log;
      let stopping = false;
      const stop = (signal: string): void => {
        if (stopping) return;
        stopping = true;
        origin.app.log.info({ signal }, 'stopping origin');
        signed.close();
        tls?.close();
        origin.close().then(
          () => process.exit(0),
          () => process.exit(1),
        );
      };
      process.once('SIGINT', () => stop('SIGINT'));
      process.once('SIGTERM', () => stop('SIGTERM'));
      const url = await origin.listen(parsePort(o.port), o.host);
      process.stdout.write(`origin listening on ${url}${tls ? ' (HTTP/2 and HTTP/1.1)' : ''}\n`);
      if (o.httpPort !== undefined) {
        process.stdout.write(`origin plain HTTP on ${await origin.listenPlain(parsePort(o.httpPort), o.host)}\n`);
      }
      for (const c of live) process.stdout.write(`live channel ${c.id}: ${url}/live/${c.id}/master.m3u8\n`);
    });
}

/**
 * Registers `ad-break <origin> <channel> [--duration 30] [--segment n] [--event-id id]
 * [--interstitial <url> | --interstitial-list <url> [--interstitial-restrict skip,jump]] [--return] [--list]`: cues an SCTE 35 ad
 * break on a live channel through the origin's ad-break API (credential from
 * --cue-credential-file or $STREAMEDGE_CUE_CREDENTIAL), and prints the break as JSON.
 */
export function registerAdBreakCommand(program: Command): void {
  program
    .command('ad-break')
    .description('cue an ad break (SCTE 35) on a live channel, end the open one (--return), or list them (--list)')
    .argument('<origin>', "the origin's base URL, e.g. http://127.0.0.1:8081")
    .argument('<channel>', 'the live channel id')
    .option('--duration <seconds>', "the break's planned duration", '30')
    .option('--segment <n>', 'start with this segment (a later one than the one in production; default the next)')
    .option(
      '--event-id <id>',
      'the SCTE 35 splice_event_id (default: the channel counts on); the same on redundant origins',
    )
    .option(
      '--interstitial <url>',
      "this break's own ad as an HLS Interstitial (X-ASSET-URI, absolute URL), in place of the channel's",
    )
    .option(
      '--interstitial-list <url>',
      'as --interstitial, the ads an ad decision service lists for this break (X-ASSET-LIST)',
    )
    .option('--interstitial-restrict <skip,jump>', "with --interstitial(-list): the break's X-RESTRICT")
    .option('--return', 'end the open break at the next segment boundary')
    .option('--list', 'list the breaks the channel keeps')
    .option('--cue-credential-file <file>', `the API's bearer credential (default: $${CUE_CREDENTIAL_ENV})`)
    .action(
      async (
        origin: string,
        channel: string,
        o: {
          duration: string;
          segment?: string;
          eventId?: string;
          interstitial?: string;
          interstitialList?: string;
          interstitialRestrict?: string;
          return?: boolean;
          list?: boolean;
          cueCredentialFile?: string;
        },
      ) => {
        const credential = credentialFrom(
          o.cueCredentialFile,
          CUE_CREDENTIAL_ENV,
          process.env,
          'the ad-break credential',
        );
        if (credential === undefined)
          throw new StreamedgeError('BAD_OPTION', `ad-break needs --cue-credential-file or $${CUE_CREDENTIAL_ENV}`);
        // checked here as the origin checks it, so a mistake is one line before any request
        const ad = interstitialSource(
          { uri: o.interstitial, list: o.interstitialList, restrict: o.interstitialRestrict },
          '--interstitial',
        );
        const base = `${origin.replace(/\/+$/, '')}/_live/${encodeURIComponent(channel)}/ad-breaks`;
        const auth = { authorization: `Bearer ${credential}` };
        // an unreachable origin is named with its cause (fetch's own message is only "fetch failed")
        const reach = (p: Promise<Response>): Promise<Response> =>
          p.catch((e: unknown) => {
            const cause = (e as { cause?: { code?: string; message?: string } }).cause;
            throw new StreamedgeError(
              'ORIGIN_UNREACHABLE',
              `cannot reach the origin at ${origin}: ${cause?.code ?? cause?.message ?? String(e)}`,
            );
          });
        const res = o.list
          ? await reach(fetch(base, { headers: auth }))
          : o.return
            ? await reach(fetch(`${base}/return`, { method: 'POST', headers: auth }))
            : await reach(
                fetch(base, {
                  method: 'POST',
                  headers: { ...auth, 'content-type': 'application/json' },
                  body: JSON.stringify({
                    duration: parseDuration(o.duration),
                    ...(o.segment !== undefined ? { segment: Number(o.segment) } : {}),
                    ...(o.eventId !== undefined ? { eventId: Number(o.eventId) } : {}),
                    ...(ad
                      ? {
                          interstitial: {
                            ...('assetUri' in ad ? { assetUri: ad.assetUri } : { assetList: ad.assetList }),
                            ...(ad.restrict ? { restrict: ad.restrict.join(',').toLowerCase() } : {}),
                          },
                        }
                      : {}),
                  }),
                }),
              );
        const text = await res.text();
        if (!res.ok) {
          let why = text;
          try {
            why = (JSON.parse(text) as { error?: string }).error ?? text;
          } catch {
            // not JSON: the text as it came
          }
          throw new StreamedgeError('AD_BREAK', `${res.status}: ${why}`);
        }
        process.stdout.write(JSON.stringify(JSON.parse(text), null, 2) + '\n');
      },
    );
}

/**
 * `--live-ladder` read at start-up, so that an unreadable one stops the origin with one line
 * instead of a channel that restarts for ever (the channel still reports a ladder that breaks later).
 */
function liveLadderReadable(ladder: string): void {
  try {
    loadLadderSpec(ladder);
  } catch (e) {
    if (e instanceof StreamedgeError)
      throw new StreamedgeError(e.code, e.message.replace(/^--ladder /, '--live-ladder '));
    throw e;
  }
}

/**
 * A file source (`--live news=/media/loop.mp4`) must exist when the origin starts: a missing one
 * would only restart for ever. Network feeds and lavfi are not checked (an encoder may connect later).
 */
function liveFileSourceExists(spec: string, source: string): void {
  const input = sourceInput(source);
  if (input.kind === 'file' && input.path !== undefined && !existsSync(input.path))
    throw new StreamedgeError('BAD_OPTION', `--live "${spec}": no such file ${input.path}`);
}
