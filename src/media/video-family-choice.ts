/**
 * Which video renditions of a ladder a player plays when it comes in several codecs (H.264 and
 * HEVC twins): the renditions of one codec family, never a mix (switching decoders mid-stream is
 * not seamless, and the rungs of two families do not form one ladder). The family is the first of
 * `preferred` the player can decode (by its first rendition's CODECS), else the first listed
 * family it can decode. When it can decode none (or the CODECS are unknown), the ladder is left as
 * it is: the player's own error then names what failed. Browser-safe.
 */
import { groupByVideoFamily, videoCodecFamily } from './presentation.js';

export function chooseVideoFamily<T extends { codecs: string }>(
  renditions: readonly T[],
  canPlay: (codecs: string) => boolean,
  preferred: readonly string[] = [],
): T[] {
  const families = groupByVideoFamily(renditions, (r) => r.codecs);
  if (families.size <= 1) return [...renditions];
  const playable = [...families].filter(([, members]) => canPlay(members[0].codecs));
  if (playable.length === 0) return [...renditions];
  for (const family of preferred) {
    const match = playable.find(([f]) => f === family);
    if (match) return match[1];
  }
  return playable[0][1];
}

/** The families a player prefers, most efficient first, as Apple's players choose HEVC over H.264. */
export const PREFERRED_VIDEO_FAMILIES: readonly string[] = ['hevc', 'avc'];

/** Whether this browser's MSE decodes video of `codecs` in fMP4 (true outside a browser: nothing to ask). */
export function mseCanPlayVideo(codecs: string): boolean {
  if (typeof MediaSource === 'undefined') return true;
  return MediaSource.isTypeSupported(`video/mp4; codecs="${codecs}"`);
}

/**
 * The renditions a screen shows as made: on a screen without high dynamic range, the SDR ones when
 * the ladder has any (HDR pictures tone-mapped by the browser look worse than the SDR rungs made
 * for them, and Apple's players choose so too); on an HDR screen, or when there is no SDR rung,
 * all of them.
 */
export function fitScreenRange<T extends { videoRange?: string }>(renditions: readonly T[], hdrScreen: boolean): T[] {
  if (hdrScreen) return [...renditions];
  const sdr = renditions.filter((r) => r.videoRange === undefined || r.videoRange === 'SDR');
  return sdr.length > 0 ? sdr : [...renditions];
}

/** Whether this screen shows high dynamic range (CSS `dynamic-range: high`; false outside a browser). */
export function screenShowsHdr(): boolean {
  return typeof matchMedia === 'function' && matchMedia('(dynamic-range: high)').matches;
}

/**
 * The video renditions this browser plays of a ladder: the HDR ones only for an HDR screen
 * (fitScreenRange), then, in a ladder in H.264 and HEVC, the one family its MSE decodes (HEVC
 * first). Our player's HLS and DASH sources both choose so.
 */
export function playableVideo<T extends { codecs: string; videoRange?: string }>(renditions: readonly T[]): T[] {
  return chooseVideoFamily(fitScreenRange(renditions, screenShowsHdr()), mseCanPlayVideo, PREFERRED_VIDEO_FAMILIES);
}

/** The family `chosen` is, when `listed` had several to choose from (undefined for a one-codec ladder). */
export function chosenFamily<T extends { codecs: string }>(
  listed: readonly T[],
  chosen: readonly T[],
): string | undefined {
  if (chosen.length === 0 || groupByVideoFamily(listed, (r) => r.codecs).size <= 1) return undefined;
  return videoCodecFamily(chosen[0].codecs);
}
