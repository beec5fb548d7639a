/**
 * Which closed-caption services a video track carries, and their cues: CEA-608 channels (CC1–CC4)
 * and CEA-708 services (SERVICE1…), read from its init segment and then its fragments in order,
 * each decoded (caption-decoder.ts) as a player would; a service counts once a caption appears on
 * it. The packager runs this over a rendition as it is segmented, so the manifests announce the
 * services the whole video carries, not only what the first seconds showed the probe, and
 * `--captions-webvtt` has the cues to write as subtitles.
 */
import { CaptionDecoder, compareCaptionServices, type CaptionCue, type CaptionServiceId } from './caption-decoder.js';
import { captionTrackInfo, fragmentCaptions, type CaptionTrackInfo } from './fragment-captions.js';

/** A decoded caption with its end (seconds on the track's media timeline). */
export interface ScannedCue extends CaptionCue {
  end: number;
}

export class CaptionChannelScan {
  private readonly info: CaptionTrackInfo | undefined;
  private readonly found = new Set<CaptionServiceId>();
  private readonly done: ScannedCue[] = [];
  private readonly open = new Set<CaptionCue>();
  /** Where the media read so far ends (seconds). */
  private mediaEnd = 0;
  private readonly decoder = new CaptionDecoder({
    started: (c) => {
      this.found.add(c.service);
      this.open.add(c);
    },
    ended: (c, end) => {
      this.open.delete(c);
      if (end > c.start) this.done.push({ ...c, end });
    },
  });

  constructor(init: Uint8Array) {
    this.info = captionTrackInfo(init);
  }

  /** One or more fragments (moof + mdat), the next in the track. */
  push(fragment: Uint8Array): void {
    if (!this.info) return;
    const f = fragmentCaptions(fragment, this.info);
    if (f.end !== undefined) this.mediaEnd = Math.max(this.mediaEnd, f.end);
    for (const p of f.pictures) this.decoder.feed(p.time, p.triplets);
  }

  /** The services a caption appeared on: CC1–CC4 first, then the 708 services by number. */
  get services(): CaptionServiceId[] {
    return [...this.found].sort(compareCaptionServices);
  }

  /** The captions of `service` in order, one still on screen at the end ending with the media. */
  cues(service: CaptionServiceId): ScannedCue[] {
    const open = [...this.open].map((c) => ({ ...c, end: Math.max(this.mediaEnd, c.start) }));
    return [...this.done, ...open]
      .filter((c) => c.service === service && c.end > c.start)
      .sort((a, b) => a.start - b.start);
  }
}
