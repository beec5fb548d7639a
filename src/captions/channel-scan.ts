/**
 * Which CEA-608 channels a video track's captions use: its init segment, then its fragments in
 * order, each decoded (cea608.ts) as a player would; a channel counts once a caption appears on it.
 * The packager runs this over a rendition as it is segmented, so the manifests announce the
 * channels the whole video carries, not only what the first seconds showed the probe.
 */
import { Cea608Decoder, type CaptionChannel } from './cea608.js';
import { captionTrackInfo, fragmentCaptions, type CaptionTrackInfo } from './fragment-captions.js';

export class CaptionChannelScan {
  private readonly info: CaptionTrackInfo | undefined;
  private readonly found = new Set<CaptionChannel>();
  private readonly decoder = new Cea608Decoder({
    started: (c) => this.found.add(c.channel),
    ended: () => undefined,
  });

  constructor(init: Uint8Array) {
    this.info = captionTrackInfo(init);
  }

  /** One or more fragments (moof + mdat), the next in the track. */
  push(fragment: Uint8Array): void {
    if (!this.info) return;
    for (const p of fragmentCaptions(fragment, this.info).pictures) this.decoder.feed(p.time, p.triplets);
  }

  /** The channels a caption appeared on, CC1 first. */
  get channels(): CaptionChannel[] {
    return [...this.found].sort((a, b) => a - b);
  }
}
