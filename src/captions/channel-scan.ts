/**
 * Which CEA-608 channels a video track's captions use, and their cues: its init segment, then its
 * fragments in order, each decoded (cea608.ts) as a player would; a channel counts once a caption
 * appears on it. The packager runs this over a rendition as it is segmented, so the manifests
 * announce the channels the whole video carries, not only what the first seconds showed the
 * probe, and `--captions-webvtt` has the cues to write as subtitles.
 */
import { Cea608Decoder, type CaptionChannel, type Cea608Cue } from './cea608.js';
import { captionTrackInfo, fragmentCaptions, type CaptionTrackInfo } from './fragment-captions.js';

/** A decoded caption with its end (seconds on the track's media timeline). */
export interface ScannedCue extends Cea608Cue {
  end: number;
}

export class CaptionChannelScan {
  private readonly info: CaptionTrackInfo | undefined;
  private readonly found = new Set<CaptionChannel>();
  private readonly done: ScannedCue[] = [];
  private readonly open = new Set<Cea608Cue>();
  /** Where the media read so far ends (seconds). */
  private mediaEnd = 0;
  private readonly decoder = new Cea608Decoder({
    started: (c) => {
      this.found.add(c.channel);
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

  /** The channels a caption appeared on, CC1 first. */
  get channels(): CaptionChannel[] {
    return [...this.found].sort((a, b) => a - b);
  }

  /** The captions of `channel` in order, one still on screen at the end ending with the media. */
  cues(channel: CaptionChannel): ScannedCue[] {
    const open = [...this.open].map((c) => ({ ...c, end: Math.max(this.mediaEnd, c.start) }));
    return [...this.done, ...open]
      .filter((c) => c.channel === channel && c.end > c.start)
      .sort((a, b) => a.start - b.start);
  }
}
