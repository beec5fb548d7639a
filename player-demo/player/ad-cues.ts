/**
 * A live stream's ad breaks (ad-markers.ts) on the media element's timeline: one cue each in a
 * `metadata` text track labelled "ad breaks" (hidden: no rendering, but `cuechange` fires as the
 * playhead enters and leaves a break, as hls.js does with DATERANGEs), and the list the player's
 * stats show. A break is placed once the player maps its start's PDT to a media time; its end
 * follows when the return becomes known (the planned duration until then).
 */
import type { AdMarker } from './source-model.js';

/** An ad break in the player's stats. */
export interface AdBreakStat {
  id: string;
  /** Media time of its start and end (the planned end until the return is known); null: not placed yet. */
  startSec: number | null;
  endSec: number | null;
  /** The return is signalled (its end is final). */
  returned: boolean;
  /** The playhead is in it. */
  playing: boolean;
}

export const AD_TRACK_LABEL = 'ad breaks';

export class AdCues {
  private track?: TextTrack;
  private readonly cues = new Map<string, VTTCue>();

  constructor(private readonly video: HTMLVideoElement) {}

  /** Places `markers` with `mediaAt` (PDT epoch ms → media time, null when unmapped); returns the stats. */
  sync(markers: readonly AdMarker[], mediaAt: (pdtMs: number) => number | null): AdBreakStat[] {
    const t = this.video.currentTime;
    return markers.map((m) => {
      const start = mediaAt(m.startPdtMs);
      const length = m.durationSec ?? m.plannedDurationSec;
      const end = start === null ? null : start + (length ?? 0);
      if (start !== null && end !== null) this.place(m, start, Math.max(end, start + 0.001));
      return {
        id: m.id,
        startSec: start,
        endSec: end,
        returned: m.returned,
        playing: start !== null && end !== null && t >= start && t < end,
      };
    });
  }

  private place(m: AdMarker, start: number, end: number): void {
    this.track ??= this.newTrack();
    const known = this.cues.get(m.id);
    if (known) {
      if (Math.abs(known.startTime - start) > 0.01) known.startTime = start;
      if (Math.abs(known.endTime - end) > 0.01) known.endTime = end;
      return;
    }
    const cue = new VTTCue(start, end, JSON.stringify({ id: m.id, startDate: new Date(m.startPdtMs).toISOString() }));
    cue.id = m.id;
    this.track.addCue(cue);
    this.cues.set(m.id, cue);
  }

  private newTrack(): TextTrack {
    const track = this.video.addTextTrack('metadata', AD_TRACK_LABEL);
    track.mode = 'hidden';
    return track;
  }
}
