/**
 * A VOD thumbnail track: the options checked and turned into what the encoder writes (sheets of
 * JPEG pictures from the same decode as the ladder, see `encode-args.ts`), then, once ffmpeg is
 * done, the sheets it wrote checked against the media's length and described for the manifests.
 */
import { readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { StreamedgeError } from '../src/errors.js';
import { thumbnailSheetName, thumbnailSheetSec, type ThumbnailTrack } from '../src/media/presentation.js';
import type { ThumbnailSheetsPlan } from './encode-args.js';
import type { LadderPlan } from './ladder.js';

export interface ThumbnailOptions {
  /** Seconds between pictures (default: the segment duration, so each shows a seek point). */
  intervalSec?: number;
  /** One picture's width in pixels (default 240); the height keeps the video's aspect ratio. */
  width?: number;
  /**
   * Pictures per sheet across and down (default 3×3: a 720×408 sheet at 240 wide, within the
   * 720 pixels DASH-IF IOP 4.3 §6.2.6 gives low-end devices; 1080 for high-end ones).
   */
  columns?: number;
  rows?: number;
}

export const THUMBNAIL_TRACK_ID = 'thumbnails';

/**
 * A picture's height for `width` pixels of a `source` picture, keeping its aspect ratio: even, as
 * 4:2:0 pictures need, and at least 2.
 */
export function thumbnailHeight(width: number, source: { width: number; height: number }): number {
  return Math.max(2, 2 * Math.round((width * source.height) / source.width / 2));
}
const DEFAULT_WIDTH = 240;
const DEFAULT_GRID = 3;
/** Sheets wider or taller than this are refused (JPEG decoders on TVs and phones choke on more). */
const MAX_SHEET_PX = 4096;

function badOption(message: string): StreamedgeError {
  return new StreamedgeError('BAD_OPTION', message);
}

/** Checks the options against the ladder; the plan the encoder follows into `dir`. */
export function planThumbnails(
  opts: ThumbnailOptions,
  plan: LadderPlan,
  segmentDuration: number,
  dir: string,
): ThumbnailSheetsPlan {
  const top = plan.video[0];
  if (!top) throw badOption('--thumbnails: the source has no video to take pictures from');
  const intervalSec = opts.intervalSec ?? segmentDuration;
  if (!(intervalSec >= 0.1 && intervalSec <= 600)) {
    throw badOption(`--thumbnail-interval ${intervalSec}: use between 0.1 and 600 seconds`);
  }
  const width = opts.width ?? DEFAULT_WIDTH;
  if (!Number.isInteger(width) || width < 16 || width > 1920 || width % 2 !== 0) {
    throw badOption(`--thumbnail-width ${width}: use an even number of pixels between 16 and 1920`);
  }
  const columns = opts.columns ?? DEFAULT_GRID;
  const rows = opts.rows ?? DEFAULT_GRID;
  for (const [name, n] of [
    ['columns', columns],
    ['rows', rows],
  ] as const) {
    if (!Number.isInteger(n) || n < 1 || n > 32) {
      throw badOption(`--thumbnail-layout: ${n} ${name}; use 1 to 32 (e.g. 3x3)`);
    }
  }
  const height = thumbnailHeight(width, top);
  if (width * columns > MAX_SHEET_PX || height * rows > MAX_SHEET_PX) {
    throw badOption(
      `--thumbnail-layout ${columns}x${rows}: sheets of ${width * columns}x${height * rows} pixels; keep them within ${MAX_SHEET_PX}`,
    );
  }
  return { dir, intervalSec, width, height, columns, rows };
}

/**
 * The track as written: one sheet for every columns×rows×interval of the media (the encoder may
 * write one more when the last frame falls on a sheet boundary: it is removed), the peak bit
 * rate from the largest sheet. Fewer sheets than the media needs is an encoder failure.
 */
export function finishThumbnails(plan: ThumbnailSheetsPlan, durationSec: number, logFile: string): ThumbnailTrack {
  const track: ThumbnailTrack = {
    id: THUMBNAIL_TRACK_ID,
    width: plan.width,
    height: plan.height,
    columns: plan.columns,
    rows: plan.rows,
    intervalSec: plan.intervalSec,
    sheets: 0,
    bandwidth: 0,
  };
  const sheetSec = thumbnailSheetSec(track);
  const expected = Math.max(1, Math.ceil(durationSec / sheetSec - 1e-9));
  const written = new Set(readdirSync(plan.dir));
  let largest = 0;
  for (let n = 1; n <= expected; n++) {
    const name = thumbnailSheetName(n);
    if (!written.has(name)) {
      throw new StreamedgeError(
        'ENCODER_FAILED',
        `ffmpeg wrote ${n - 1} thumbnail sheets where ${durationSec.toFixed(1)} s of video needs ${expected}; full log: ${logFile}`,
      );
    }
    largest = Math.max(largest, statSync(join(plan.dir, name)).size);
  }
  for (let n = expected + 1; written.has(thumbnailSheetName(n)); n++) rmSync(join(plan.dir, thumbnailSheetName(n)));
  track.sheets = expected;
  track.bandwidth = Math.ceil((largest * 8) / Math.min(sheetSec, durationSec || sheetSec));
  return track;
}
