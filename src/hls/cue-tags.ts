/**
 * The SCTE-35 "enhanced" ad markers many server-side ad inserters read in HLS, beside the
 * EXT-X-DATERANGEs (RFC 8216bis), which they place by date: tags on the segments themselves, as
 * AWS Elemental MediaPackage writes them (its SCTE35_ENHANCED markers). Not in the HLS
 * specification; an ad inserter that reads only DATERANGEs has them already.
 *
 * - the segment a break starts with: `#EXT-OATCLS-SCTE35:<splice_info_section, base64>` and
 *   `#EXT-X-CUE-OUT:<seconds>` (bare while a live break's length is unknown);
 * - each later segment of the break: `#EXT-X-CUE-OUT-CONT:ElapsedTime=<s>,Duration=<s>,SCTE35=<base64>`;
 * - the segment it returns with: `#EXT-OATCLS-SCTE35:<the return's section>` and `#EXT-X-CUE-IN`.
 *
 * A splice point without a break (nothing replaced) has no segment inside it and gets none.
 */
import type { AdBreak } from '../media/presentation.js';
import { hexSequenceToBase64 } from '../scte35/splice-info.js';

/** A break shorter than this is a splice point, with nothing replaced (s). */
const SPLICE_POINT_SEC = 0.05;

/**
 * The cue tags of the segment starting at `startSec` and lasting `durationSec` (media seconds,
 * the breaks' clock). A break's edge belongs to the segment whose start is nearest it: the video
 * segment that starts there, and an audio segment that starts a fraction of a frame from it (or,
 * on a live channel whose audio segments are not cut at the video's, up to half a segment).
 */
export function cueTags(breaks: readonly AdBreak[], startSec: number, durationSec: number): string[] {
  const tags: string[] = [];
  const half = durationSec / 2;
  const nearest = (edge: number) => edge >= startSec - half && edge < startSec + half;
  for (const b of breaks) {
    const end = b.end?.mediaTime ?? (b.plannedDuration !== undefined ? b.mediaStart + b.plannedDuration : undefined);
    if (end !== undefined && end - b.mediaStart < SPLICE_POINT_SEC) continue;
    const length = b.plannedDuration ?? (end !== undefined ? end - b.mediaStart : undefined);
    if (nearest(b.mediaStart)) {
      tags.push(
        `#EXT-OATCLS-SCTE35:${hexSequenceToBase64(b.scte35Out)}`,
        `#EXT-X-CUE-OUT${length !== undefined ? `:${seconds(length)}` : ''}`,
      );
    } else if (end !== undefined && nearest(end)) {
      tags.push(...(b.end ? [`#EXT-OATCLS-SCTE35:${hexSequenceToBase64(b.end.scte35In)}`] : []), '#EXT-X-CUE-IN');
    } else if (b.mediaStart < startSec - half && (end === undefined || end >= startSec + half)) {
      const elapsed = `ElapsedTime=${seconds(startSec - b.mediaStart)}`;
      const duration = length !== undefined ? `,Duration=${seconds(length)}` : '';
      tags.push(`#EXT-X-CUE-OUT-CONT:${elapsed}${duration},SCTE35=${hexSequenceToBase64(b.scte35Out)}`);
    }
  }
  return tags;
}

/** Seconds with three decimals, as the ad inserters' samples write them ("30.000"). */
function seconds(sec: number): string {
  return sec.toFixed(3);
}
