/**
 * HLS Interstitials (RFC 8216bis appendix D.2): a VOD asset's ad cues, or a live channel's ad
 * breaks, as interstitial EXT-X-DATERANGEs, which a client that schedules interstitials (AVPlayer, hls.js) plays itself:
 * at each cue it pauses the programme, plays the interstitial asset (`X-ASSET-URI`) or the
 * assets an ad decision service lists for it (`X-ASSET-LIST`, JSON), and resumes the programme
 * `X-RESUME-OFFSET` seconds after the cue: 0 at a splice point (the ad is inserted), the break's
 * length at a break (the ad replaces the slate). The cue at 0 is a pre-roll (`CUE="PRE"`: played
 * before the programme starts, wherever the viewer joins it); a post-roll (`CUE="POST"`) plays
 * after its end. `X-RESTRICT` when asked: SKIP (no skipping or seeking in the ad), JUMP (a seek
 * past the cue plays the ad first). Beside the SCTE 35 DATERANGEs, under IDs of their own
 * (`ad-<n>`), so a server-side inserter and a client-side one can read the same playlist.
 */
import type { AdBreak, InterstitialSource } from '../media/presentation.js';
import { attributeList, decimal, quoted } from './attribute-list.js';

const INTERSTITIAL_CLASS = 'com.apple.hls.interstitial';

/** One interstitial DATERANGE: its ID, START-DATE, CUE, and the seconds X-RESUME-OFFSET and X-PLAYOUT-LIMIT. */
function tag(
  source: InterstitialSource,
  id: string,
  startDate: number,
  cue: 'PRE' | 'POST' | undefined,
  resumeOffset?: number,
  playoutLimit?: number,
): string {
  return (
    '#EXT-X-DATERANGE:' +
    attributeList([
      ['ID', quoted(id)],
      ['CLASS', quoted(INTERSTITIAL_CLASS)],
      ['START-DATE', quoted(new Date(startDate).toISOString())],
      ['CUE', cue ? quoted(cue) : undefined],
      'assetUri' in source ? ['X-ASSET-URI', quoted(source.assetUri)] : ['X-ASSET-LIST', quoted(source.assetList)],
      ['X-RESUME-OFFSET', resumeOffset === undefined ? undefined : decimal(resumeOffset)],
      ['X-PLAYOUT-LIMIT', playoutLimit === undefined ? undefined : decimal(playoutLimit)],
      ['X-RESTRICT', source.restrict?.length ? quoted(source.restrict.join(',')) : undefined],
    ])
  );
}

/**
 * One interstitial DATERANGE per ad cue, in the cues' order, then the post-roll's when asked
 * (`postRollDate`: the epoch ms of the programme's end, its START-DATE; `ID="ad-post"`).
 */
export function interstitialTags(
  breaks: readonly AdBreak[],
  source: InterstitialSource,
  postRollDate?: number,
): string[] {
  return [
    ...breaks.map((b) =>
      tag(
        source,
        `ad-${b.eventId}`,
        b.startDate,
        b.preRoll ? 'PRE' : undefined,
        b.end ? (b.end.date - b.startDate) / 1000 : (b.plannedDuration ?? 0),
      ),
    ),
    // after the programme there is nothing to resume
    ...(postRollDate === undefined ? [] : [tag(source, 'ad-post', postRollDate, 'POST')]),
  ];
}

/**
 * A live channel's breaks as interstitials: the ad replaces the break, so the programme resumes
 * its planned duration after the break's start (at the same distance from the live edge when the
 * ad is as long), and plays for no longer than that (X-PLAYOUT-LIMIT). A tag never changes while
 * the break is in the playlist (RFC 8216bis 4.4.5.1), so an early return does not shorten it; a
 * break without a planned duration leaves both to the player (the ad's own length). A break cued
 * with its own ad (`AdBreak.interstitial`) gets that one, with or without a channel-wide source.
 */
export function liveInterstitialTags(breaks: readonly AdBreak[], source: InterstitialSource | undefined): string[] {
  return breaks.flatMap((b) => {
    // a break cued with its own ad plays that one; the others the channel's, if it has one
    const s = b.interstitial ?? source;
    return s ? [tag(s, `ad-${b.eventId}`, b.startDate, undefined, b.plannedDuration, b.plannedDuration)] : [];
  });
}
