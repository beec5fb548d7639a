/**
 * Ad cues of a VOD asset (`package --ad-cues 10,25.5,60+30`): the points where a server-side ad
 * inserter may splice, given by the media team. Each one is a splice point every video
 * rendition can cut at, frame-accurate: the encoder forces a key frame there (the first frame at
 * or after the time) and the segmenter starts a segment with it, beside the segment grid. A cue
 * with `+<seconds>` is a break that replaces that much of the programme (a slate already in the
 * file): its end is a splice point too.
 *
 * This file parses and checks the option, and turns the cues into the key frame and cut times the
 * encoder and the segmenters share; the manifests' markers are made once the segments exist
 * (`adBreaksOf`).
 */
import { StreamedgeError } from '../src/errors.js';
import type { AdBreak, Segment } from '../src/media/presentation.js';
import { encodeSpliceInsert, shiftPtsAdjustment, toHexSequence } from '../src/scte35/splice-info.js';

/**
 * One cue: a splice point at `atSec`, or a break of `durationSec` starting there; or (`end`) a
 * post-roll, after the programme's last frame (no splice point: only an interstitial plays there;
 * `atSec` is then Infinity).
 */
export interface AdCue {
  atSec: number;
  durationSec?: number;
  postRoll?: true;
  /**
   * A cue read from the source (packager/source-cues.ts): its own splice_info_section, written
   * into the manifests with its pts_adjustment moved so its splice time is the packaged one, and
   * that splice time as the source had it (90 kHz, adjustment applied; absent: splice_immediate).
   */
  source?: { section: Uint8Array; splicePts?: number };
}

const PTS_HZ = 90_000;
const ITEM = /^(\d+(?:\.\d+)?)(?:\+(\d+(?:\.\d+)?))?$/;

/** `10,25.5,60+30,end` → cues in time order; a clear error naming the item that cannot be one. */
export function parseAdCues(text: string): AdCue[] {
  const cues = text.split(',').map((raw): AdCue => {
    const item = raw.trim();
    if (item === 'end') return { atSec: Infinity, postRoll: true };
    const m = ITEM.exec(item);
    if (!m) {
      throw new StreamedgeError(
        'BAD_OPTION',
        `--ad-cues: "${item}" is not a cue; use seconds from the start, e.g. 10,25.5, <seconds>+<break seconds> for a break, e.g. 60+30, or end for a post-roll`,
      );
    }
    const atSec = Number(m[1]);
    if (m[2] === undefined) return { atSec };
    const durationSec = Number(m[2]);
    if (!(durationSec > 0)) throw new StreamedgeError('BAD_OPTION', `--ad-cues: the break "${item}" lasts no time`);
    return { atSec, durationSec };
  });
  if (cues.filter((c) => c.postRoll).length > 1)
    throw new StreamedgeError('BAD_OPTION', '--ad-cues: "end" is given twice');
  return cues.sort((a, b) => a.atSec - b.atSec);
}

/**
 * Checks the cues against the source: each inside the programme (not at its first frame, a
 * break's end before the last), none inside another's break, and splice points at least a part
 * apart (a shorter segment would hold a fragment or less).
 */
export function checkAdCues(cues: readonly AdCue[], durationSec: number | undefined, partSec: number): void {
  if (cues.length === 0) return;
  if (durationSec === undefined) {
    throw new StreamedgeError(
      'BAD_OPTION',
      '--ad-cues: the source does not say how long it is, so cues cannot be placed',
    );
  }
  let previous: { sec: number; what: string } | undefined;
  for (const c of cues) {
    const name = cueName(c);
    // 0: a pre-roll's splice point (the programme's first frame is a key frame already)
    if (c.atSec === 0 && c.durationSec !== undefined) {
      throw new StreamedgeError(
        'BAD_OPTION',
        `--ad-cues: ${name} would replace the programme's start; a pre-roll is the splice point 0`,
      );
    }
    if (!(c.atSec >= 0) || c.atSec >= durationSec) {
      throw new StreamedgeError(
        'BAD_OPTION',
        `--ad-cues: ${name} is not inside the programme (0 to ${durationSec.toFixed(2)} s)`,
      );
    }
    const end = c.atSec + (c.durationSec ?? 0);
    if (c.durationSec !== undefined && end >= durationSec) {
      throw new StreamedgeError(
        'BAD_OPTION',
        `--ad-cues: ${name} ends at ${end} s, not before the programme's end (${durationSec.toFixed(2)} s)`,
      );
    }
    // a break may end where the next starts (one splice point); otherwise a part apart at least
    const gap = previous ? c.atSec - previous.sec : Infinity;
    if (previous && gap < partSec - 1e-9 && Math.abs(gap) > 1e-9) {
      throw new StreamedgeError(
        'BAD_OPTION',
        `--ad-cues: ${name} is ${(c.atSec - previous.sec).toFixed(3)} s after ${previous.what}; splice points must be at least a part (${partSec} s) apart`,
      );
    }
    previous = { sec: end, what: c.durationSec === undefined ? name : `the end of ${name}` };
  }
}

function cueName(c: AdCue): string {
  return c.durationSec === undefined ? `the cue at ${c.atSec} s` : `the break at ${c.atSec} s (+${c.durationSec} s)`;
}

/** Every splice point of the cues, in time order (a break gives two). */
export function splicePoints(cues: readonly AdCue[]): number[] {
  return cues.flatMap((c) => (c.durationSec === undefined ? [c.atSec] : [c.atSec, c.atSec + c.durationSec]));
}

/**
 * The times segments start at (after 0): the grid (every `segmentSec`) up to `durationSec`, each
 * splice point, and no grid point less than a part from a splice point (the segment beside it is
 * longer instead of a sliver). The encoder forces a key frame at each; the segmenters cut there.
 */
export function cutTimes(
  points: readonly number[],
  segmentSec: number,
  partSec: number,
  durationSec: number,
): number[] {
  const grid: number[] = [];
  for (let k = 1; k * segmentSec < durationSec; k++) {
    const t = k * segmentSec;
    if (points.every((p) => Math.abs(p - t) >= partSec - 1e-9)) grid.push(t);
  }
  return [...new Set([...grid, ...points])].sort((a, b) => a - b);
}

/**
 * The manifests' markers: each cue at the video segment that starts at its key frame (the first
 * frame at or after the time asked), as the AdBreak the live channels use (SCTE 35 splice_insert,
 * out of network, then back in; a splice point is out and in at the same instant). `dateOrigin`
 * is the epoch ms given to media time 0 (EXT-X-DATERANGE needs EXT-X-PROGRAM-DATE-TIME).
 */
export function adBreaksOf(
  cues: readonly AdCue[],
  video: readonly Segment[],
  timescale: number,
  dateOrigin: number,
): AdBreak[] {
  const startOf = (sec: number, what: string): number => {
    const s = video.find((x) => x.start / timescale >= sec - 1e-6);
    // the segmenter cuts at the forced key frame, at most a frame after the time asked
    if (!s || s.start / timescale - sec > 0.5) {
      throw new StreamedgeError(
        'AD_CUE_MISSED',
        `no video segment starts at ${what} (${sec} s): the encoder put no key frame there`,
      );
    }
    return s.start / timescale;
  };
  return cues.map((c, i): AdBreak => {
    const eventId = i + 1;
    const mediaStart = startOf(c.atSec, cueName(c));
    const mediaEnd =
      c.durationSec === undefined ? mediaStart : startOf(c.atSec + c.durationSec, `the end of ${cueName(c)}`);
    const section = (out: boolean, sec: number, durationSec?: number): string => {
      const src = out ? c.source : undefined;
      if (src) {
        // the source's own cue, retimed (a splice_immediate one has no time to move)
        if (src.splicePts === undefined) return toHexSequence(src.section);
        return toHexSequence(shiftPtsAdjustment(src.section, Math.round(sec * PTS_HZ) - src.splicePts));
      }
      return toHexSequence(
        encodeSpliceInsert({
          spliceEventId: eventId,
          outOfNetwork: out,
          ptsTime: Math.round(sec * PTS_HZ),
          ...(durationSec !== undefined
            ? { breakDuration: { autoReturn: true, duration: Math.round(durationSec * PTS_HZ) } }
            : {}),
          uniqueProgramId: 1,
          availNum: eventId,
          availsExpected: cues.length,
        }),
      );
    };
    const date = (sec: number): number => Math.round(dateOrigin + sec * 1000);
    return {
      eventId,
      startDate: date(mediaStart),
      mediaStart,
      ...(c.atSec === 0 ? { preRoll: true } : {}),
      ...(c.durationSec !== undefined ? { plannedDuration: mediaEnd - mediaStart } : {}),
      scte35Out: section(true, mediaStart, c.durationSec === undefined ? undefined : mediaEnd - mediaStart),
      end: { date: date(mediaEnd), mediaTime: mediaEnd, scte35In: section(false, mediaEnd) },
    };
  });
}
