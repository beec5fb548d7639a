import { basename, extname } from 'node:path';
import type { Command } from 'commander';
import { parseDuration } from '../src/cli/options.js';
import { StreamedgeError } from '../src/errors.js';
import { packageVod, type VodSummary } from './vod-job.js';
import type { ThumbnailOptions } from './thumbnail-track.js';
import { createProgressReporter, type ProgressReporter } from './progress.js';
import { parseSubtitleOption } from './subtitle-inputs.js';
import { parseAdCues } from './ad-cues.js';
import { interstitialSource } from '../src/cli/interstitial-options.js';
import { captionServicesOption } from '../src/cli/caption-options.js';
import { getsSurroundTwin, parseAudioOption } from './audio-tracks.js';
import { parseVideoCodecs, type AudioRung } from './ladder.js';
import type { SourceInfo } from './probe.js';
import { validateAssetId } from './publish.js';
import {
  type ContentKey,
  type ProtectionScheme,
  parseProtectionScheme,
  pickContentKey,
  readContentKeys,
} from '../src/cenc/content-keys.js';

interface PackageCliOptions {
  out: string;
  id?: string;
  ladder?: string;
  videoCodecs?: string;
  segment: string;
  part: string;
  force?: boolean;
  keepVersions: string;
  keepFor: string;
  subtitles: string[];
  audio: string[];
  preset?: string;
  encrypt?: string;
  contentKeys?: string;
  keyId?: string;
  licenseUrl?: string;
  thumbnails?: boolean;
  thumbnailInterval?: string;
  thumbnailWidth?: string;
  thumbnailLayout?: string;
  adCues?: string;
  interstitial?: string;
  interstitialList?: string;
  interstitialRestrict?: string;
  dashPeriods: string;
  hlsCueTags?: boolean;
  captions?: string;
  captionsWebvtt?: boolean;
}

/** `--thumbnails` and its settings (any setting alone turns the track on). */
function thumbnailOption(o: PackageCliOptions): ThumbnailOptions | undefined {
  const { thumbnailInterval: interval, thumbnailWidth: width, thumbnailLayout: layout } = o;
  if (!o.thumbnails && interval === undefined && width === undefined && layout === undefined) return undefined;
  const grid = layout === undefined ? undefined : /^(\d+)x(\d+)$/.exec(layout);
  if (grid === null) {
    throw new StreamedgeError('BAD_OPTION', `--thumbnail-layout ${layout}: use <columns>x<rows>, e.g. 3x3`);
  }
  if (width !== undefined && !/^\d+$/.test(width)) {
    throw new StreamedgeError('BAD_OPTION', `--thumbnail-width ${width}: use a whole number of pixels`);
  }
  return {
    ...(interval !== undefined ? { intervalSec: parseDuration(interval) } : {}),
    ...(width !== undefined ? { width: Number(width) } : {}),
    ...(grid ? { columns: Number(grid[1]), rows: Number(grid[2]) } : {}),
  };
}

/** `--encrypt` with `--content-keys` (and `--key-id`): the scheme and the key to encrypt with. */
function protectionOption(
  o: PackageCliOptions,
): { scheme: ProtectionScheme; key: ContentKey; licenseUrl?: string } | undefined {
  if (o.encrypt === undefined) {
    if (o.contentKeys !== undefined || o.keyId !== undefined)
      throw new StreamedgeError('BAD_OPTION', '--content-keys and --key-id need --encrypt cbcs|cenc');
    return undefined;
  }
  const scheme = parseProtectionScheme(o.encrypt);
  if (o.contentKeys === undefined)
    throw new StreamedgeError('BAD_OPTION', '--encrypt needs --content-keys <file> ({"keys":[{"kid":…,"key":…}]})');
  if (o.licenseUrl !== undefined && !/^https?:\/\//.test(o.licenseUrl))
    throw new StreamedgeError('BAD_OPTION', `--license-url must be an absolute http(s) URL, got "${o.licenseUrl}"`);
  const key = pickContentKey(readContentKeys(o.contentKeys), o.keyId);
  return { scheme, key, ...(o.licenseUrl !== undefined ? { licenseUrl: o.licenseUrl } : {}) };
}

/**
 * Registers `package <input> --out <dir> [--id <asset>] [--ladder <preset|file.json>] [--segment 4] [--part 1]
 * [--force] [--keep-versions 2] [--keep-for 24h] [--subtitles <lang>=<file>]... [--audio <lang>=<file>]...
 * [--encrypt cbcs|cenc --content-keys <file> [--key-id <kid>]] [--thumbnails [--thumbnail-interval <s>]
 * [--thumbnail-width <px>] [--thumbnail-layout <CxR>]] [--ad-cues <s>[+<s>],…|source
 * [--interstitial <url> | --interstitial-list <url> [--interstitial-restrict skip,jump]]
 * [--dash-periods single|cues] [--hls-cue-tags]] [--captions none|CC<n>[=<lang>[:<name>]],…] [--captions-webvtt]`.
 */
export function registerPackageCommand(program: Command): void {
  program
    .command('package')
    .description('package a source file into a CMAF ladder with HLS and DASH manifests (VOD)')
    .argument('<input>', 'source media file')
    .requiredOption('--out <dir>', 'output root; the asset is published at <dir>/<id>/ (served as /vod/<id>/)')
    .option('--id <assetId>', 'asset id (default: the input file name without extension)')
    .option('--ladder <preset|file.json>', 'ladder preset (default, small) or a JSON ladder file', 'default')
    .option(
      '--video-codecs <list>',
      'encode the ladder in each of these codecs: h264, hevc or h264,hevc (HEVC rungs are "<id>-hevc", at 70 % of the bit rate unless the ladder gives hevcBitrate; default: the ladder\'s, else h264)',
    )
    .option('--segment <seconds>', 'segment duration', '4')
    .option('--part <seconds>', 'part (fragment) duration', '1')
    .option('--force', 'publish a new version even if the asset id exists (old versions stay servable)')
    .option('--keep-versions <n>', 'with --force: always keep this many newest versions', '2')
    .option(
      '--keep-for <duration>',
      'with --force: keep older versions until retired this long (e.g. 0, 30m, 24h)',
      '24h',
    )
    .option(
      '--subtitles <lang=file>',
      'a subtitle track: BCP 47 language = WebVTT (.vtt) or SubRip (.srt) file (repeatable)',
      (v: string, all: string[]) => [...all, v],
      [] as string[],
    )
    .option(
      '--audio <lang=file>',
      "another audio language: BCP 47 language = a media file whose first audio stream is used, padded with silence or trimmed to the video's length (repeatable)",
      (v: string, all: string[]) => [...all, v],
      [] as string[],
    )
    .option('--preset <preset>', 'x264 (and x265) speed preset', 'veryfast')
    .option('--encrypt <scheme>', 'Common Encryption of video and audio: cbcs (HLS SAMPLE-AES, DASH) or cenc')
    .option('--content-keys <file>', 'JSON key file {"keys":[{"kid":"<32 hex>","key":"<32 hex>"}]} (with --encrypt)')
    .option('--key-id <kid>', 'which key of --content-keys to encrypt with (default: the first)')
    .option('--license-url <url>', "the MPD's absolute Clear Key license URL (default: keys/clearkey beside the MPD)")
    .option('--thumbnails', 'a thumbnail track for seek-bar previews (HLS image playlist, DASH image AdaptationSet)')
    .option('--thumbnail-interval <seconds>', 'seconds between thumbnails (default: the segment duration)')
    .option('--thumbnail-width <pixels>', 'width of one thumbnail; the height keeps the aspect ratio (default 240)')
    .option('--thumbnail-layout <CxR>', 'thumbnails per JPEG sheet, columns x rows (default 3x3)')
    .option(
      '--ad-cues <list>',
      'splice points for ad insertion, seconds from the start (e.g. 10,25.5); <s>+<d> marks a break of d seconds (e.g. 60+30); end: a post-roll (with --interstitial); "source": the SCTE 35 cues of an MPEG-TS source. A key frame and a new segment there, SCTE 35 markers in HLS and DASH',
    )
    .option(
      '--interstitial <url>',
      'with --ad-cues: HLS Interstitials at the cues playing this HLS asset (X-ASSET-URI, absolute URL)',
    )
    .option(
      '--interstitial-list <url>',
      "with --ad-cues: HLS Interstitials at the cues playing the assets this URL's JSON lists (X-ASSET-LIST, an ad decision service)",
    )
    .option(
      '--interstitial-restrict <skip,jump>',
      'with --interstitial(-list): X-RESTRICT, skip (the ad cannot be skipped or seeked in) and/or jump (a seek past a cue plays its ad first)',
    )
    .option(
      '--hls-cue-tags',
      'with --ad-cues: the breaks also as EXT-X-CUE-OUT, EXT-X-CUE-OUT-CONT and EXT-X-CUE-IN segment tags (with EXT-OATCLS-SCTE35), for ad inserters that read those',
    )
    .option(
      '--dash-periods <single|cues>',
      'with --ad-cues: the MPD as one Period with SCTE 35 Events (single), or a new Period at each cue and return (cues), as ad inserters expect',
      'single',
    )
    .option(
      '--captions <none|CC1=en:English,SERVICE1=en,…>',
      'the caption services of the video the manifests announce, CEA-608 channels (CC1–CC4) and CEA-708 services (SERVICE1–SERVICE63), with language and name (default: the services the video carries, unnamed); none: announce none',
    )
    .option(
      '--captions-webvtt',
      "each announced caption service also as a WebVTT subtitle track decoded from the video's CEA-608 or 708 (HLS SUBTITLES with the SDH characteristics, DASH Role caption), for players and devices that do not read in-band captions",
    )
    .action(async (input: string, o: PackageCliOptions) => {
      const protection = protectionOption(o);
      const captions = o.captions === undefined ? undefined : captionServicesOption(o.captions, '--captions');
      const videoCodecs = o.videoCodecs === undefined ? undefined : parseVideoCodecs(o.videoCodecs, '--video-codecs');
      const thumbnails = thumbnailOption(o);
      const interstitial = interstitialSource(
        { uri: o.interstitial, list: o.interstitialList, restrict: o.interstitialRestrict },
        '--interstitial',
      );
      if (o.dashPeriods !== 'single' && o.dashPeriods !== 'cues') {
        throw new StreamedgeError('BAD_OPTION', `--dash-periods ${o.dashPeriods}: use single or cues`);
      }
      const adCues = o.adCues === undefined ? undefined : o.adCues === 'source' ? 'source' : parseAdCues(o.adCues);
      const assetId = o.id ?? assetIdFromFileName(input);
      const keepVersions = Number(o.keepVersions);
      if (!Number.isInteger(keepVersions) || keepVersions < 1) {
        throw new StreamedgeError('BAD_OPTION', `--keep-versions ${o.keepVersions}: use a whole number of at least 1`);
      }
      const keepForMs = parseDuration(o.keepFor, '--keep-for') * 1000;
      const controller = new AbortController();
      const onSignal = (): void => controller.abort();
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      let progress: ProgressReporter | undefined;
      try {
        const summary = await packageVod({
          input,
          outDir: o.out,
          assetId,
          ladder: o.ladder,
          ...(videoCodecs ? { videoCodecs } : {}),
          segmentDuration: parseDuration(o.segment, '--segment'),
          partDuration: parseDuration(o.part, '--part'),
          force: o.force ?? false,
          retention: { keepVersions, keepForMs },
          subtitles: o.subtitles.map(parseSubtitleOption),
          audio: o.audio.map(parseAudioOption),
          preset: o.preset,
          ...(protection ? { protection } : {}),
          ...(thumbnails ? { thumbnails } : {}),
          ...(adCues ? { adCues } : {}),
          ...(interstitial ? { interstitial } : {}),
          dashPeriods: o.dashPeriods,
          ...(o.hlsCueTags ? { hlsCueTags: true } : {}),
          ...(captions ? { captions } : {}),
          ...(o.captionsWebvtt ? { captionsWebVtt: true } : {}),
          signal: controller.signal,
          onPlan(plan, source) {
            const rungs = plan.video.map((r) => `${r.id} ${r.width}x${r.height} ${kbps(r.bitrate)}`).join(', ');
            process.stdout.write(
              `packaging ${input} (${source.video!.width}x${source.video!.height} ${source.video!.codec}, ` +
                `${(source.durationSec ?? 0).toFixed(1)} s) → ${rungs}${plan.audio ? `, audio ${audioText(plan.audio, source)}` : ''}\n`,
            );
            progress = createProgressReporter({
              totalSec: source.video?.durationSec ?? source.durationSec,
              label: assetId,
            });
          },
          onProgress(doneSec) {
            progress?.update(doneSec);
          },
        });
        progress?.stop(true);
        process.stdout.write(formatSummary(summary));
      } catch (e) {
        progress?.stop(false);
        if (controller.signal.aborted) {
          process.stderr.write('streamedge: packaging interrupted; nothing was published\n');
          process.exit(130);
        }
        throw e;
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
    });
}

/** "96 kb/s", or "96 kb/s + 5.1 384 kb/s" when a source track gets a 5.1 twin. */
function audioText(a: AudioRung, source: SourceInfo): string {
  const surround =
    a.surroundBitrate !== undefined && (source.audioTracks ?? []).some((t) => getsSurroundTwin(t.channels));
  const names = { aac: 'AAC', eac3: 'E-AC-3', ac3: 'AC-3' };
  const codecs = (a.surroundCodecs ?? ['aac']).map((c) => names[c]).join(' + ');
  return surround ? `${kbps(a.bitrate)} + 5.1 ${codecs} ${kbps(a.surroundBitrate!)}` : kbps(a.bitrate);
}

function kbps(bits: number): string {
  return bits >= 1e6 ? `${(bits / 1e6).toFixed(1)} Mb/s` : `${Math.round(bits / 1e3)} kb/s`;
}

function bytesText(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)} GB`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)} MB`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} kB`;
  return `${n} B`;
}

/**
 * What became of an HDR source's dynamic range, or undefined for an SDR one. An HEVC-only ladder
 * of an HDR source has no SDR variant (Apple's authoring spec asks HDR streams for SDR ones): the
 * summary says so, and how to get them.
 */
function dynamicRangeNote(s: VodSummary): string | undefined {
  const hdr = s.source?.video?.hdr;
  if (!hdr) return undefined;
  const name = hdr === 'pq' ? 'PQ' : 'HLG';
  const video = s.renditions.filter((r) => r.kind === 'video');
  const kept = video.filter((r) => r.videoRange).length;
  if (kept === 0) return `the ${name} source is tone-mapped to SDR BT.709 in every rendition`;
  if (kept === video.length)
    return `every rendition is ${name}: there is no SDR variant, so an SDR screen tone-maps HDR; --video-codecs h264,hevc adds H.264 SDR ones`;
  return `the HEVC renditions keep the source's ${name}, the H.264 ones are tone-mapped to SDR BT.709`;
}

export function formatSummary(s: VodSummary): string {
  const lines = [
    `published ${s.assetId} → ${s.path} (version ${s.version}${s.replaced ? `, replaces ${s.replaced}` : ''})`,
    `  duration ${s.durationSec.toFixed(2)} s, ${s.segmentCount} segment${s.segmentCount === 1 ? '' : 's'} of ${s.segmentDuration} s (parts ${s.partDuration} s)`,
  ];
  const idWidth = Math.max(7, ...s.renditions.map((r) => r.id.length));
  // an HDR rendition's codec carries its range: "hvc1.2.4.L93.90 PQ"
  const codecText = (r: VodSummary['renditions'][number]): string =>
    `${r.codecs}${r.videoRange ? ` ${r.videoRange}` : ''}`;
  const codecWidth = Math.max(12, ...s.renditions.map((r) => codecText(r).length));
  for (const r of s.renditions) {
    const size = r.width && r.height ? `${r.width}x${r.height}` : '';
    lines.push(
      `  ${r.id.padEnd(idWidth)} ${(size || r.language || '').padEnd(10)} ${codecText(r).padEnd(codecWidth)} peak ${kbps(r.bandwidth).padEnd(10)} avg ${kbps(r.averageBandwidth).padEnd(10)} ${String(r.segments).padStart(4)} segs ${bytesText(r.bytes)}`,
    );
  }
  const t = s.thumbnails;
  if (t) {
    lines.push(
      `  ${'thumbs'.padEnd(idWidth)} ${`${t.width}x${t.height}`.padEnd(10)} every ${t.intervalSec} s, ${t.columns}x${t.rows} per sheet, ${t.sheets} sheet${t.sheets === 1 ? '' : 's'}`,
    );
  }
  const secs = s.elapsedMs / 1000;
  lines.push(
    `  total ${bytesText(s.totalBytes)} in ${secs.toFixed(1)} s (${secs > 0 ? (s.durationSec / secs).toFixed(2) : '∞'}x realtime)`,
  );
  if (s.adCues.length > 0) {
    const cues = s.adCues.map((c) =>
      c.endSec > c.atSec ? `${c.atSec.toFixed(3)}–${c.endSec.toFixed(3)} s` : `${c.atSec.toFixed(3)} s`,
    );
    lines.push(`  ad cues (key frames, SCTE 35 in HLS and DASH): ${cues.join(', ')}`);
  }
  if (s.postRoll) lines.push('  ad cues: a post-roll interstitial after the programme (CUE="POST")');
  if (s.captions.services.length > 0) {
    const named = s.captions.services.map((c) =>
      c.language ? `${c.instreamId} ${c.language} "${c.name}"` : c.instreamId,
    );
    const kinds = new Set(s.captions.services.map((c) => (c.instreamId.startsWith('CC') ? '608' : '708')));
    const kind = `CEA-${[...kinds].sort().join('/')}`;
    lines.push(
      s.captions.given
        ? `  captions: ${kind} ${named.join(', ')} announced as --captions says (CLOSED-CAPTIONS, DASH Accessibility)`
        : `  captions: ${kind} ${named.join(', ')} in the source video, kept in every rendition (CLOSED-CAPTIONS, DASH Accessibility)`,
    );
    for (const t of s.captions.webVtt)
      lines.push(
        `  captions: ${t.id.toUpperCase()} also as WebVTT subtitles (${t.id}/, ${t.cues} cue${t.cues === 1 ? '' : 's'})`,
      );
  } else if (s.source?.video?.closedCaptions)
    lines.push(
      '  captions: the source video carries caption data (CEA-608/708), announced in no manifest (--captions none)',
    );
  const range = dynamicRangeNote(s);
  if (range) lines.push(`  dynamic range: ${range}`);
  for (const note of s.adCueNotes) lines.push(`  ad cues: ${note}`);
  for (const note of s.audioNotes) lines.push(`  audio: ${note}`);
  if (s.removedVersions.length > 0) lines.push(`  removed old versions: ${s.removedVersions.join(', ')}`);
  if (s.replaced) {
    // Versioned URLs never change; only the two entry points need to leave edge caches now.
    lines.push(
      'purge the entry points from your edges (versioned URLs never need it):',
      `  streamedge purge --edge <edge-url> /vod/${s.assetId}/master.m3u8`,
      `  streamedge purge --edge <edge-url> /vod/${s.assetId}/manifest.mpd`,
    );
  }
  return lines.join('\n') + '\n';
}

/**
 * The asset id when --id is not given: the source's file name without its extension, which must
 * be a valid id itself; if it is not (spaces, brackets), the error says so and suggests one.
 */
function assetIdFromFileName(input: string): string {
  const id = basename(input, extname(input));
  try {
    validateAssetId(id);
  } catch {
    const suggestion =
      id
        .replace(/[^A-Za-z0-9._-]+/g, '-')
        .replace(/^[^A-Za-z0-9]+|-+$/g, '')
        .slice(0, 128) || 'asset';
    throw new StreamedgeError(
      'BAD_OPTION',
      `the asset id taken from the file name, "${id}", is not valid (letters, digits, '.', '_' or '-'): name the asset with --id, e.g. --id ${suggestion}`,
    );
  }
  return id;
}
