/**
 * Closed captions carried in the video (CEA-608 and 708 in the pictures' SEI), for our player: the video
 * bytes appended to the SourceBuffer are read as they go in (src/captions), decoded, and shown as
 * `captions` TextTracks of the video element, one per service the manifest announces (HLS
 * EXT-X-MEDIA TYPE=CLOSED-CAPTIONS, DASH's 608 and 708 Accessibility descriptors), at most one showing.
 *
 * Media reaches the buffer out of order: a replacement chunk covers pictures already read, a seek
 * starts somewhere else. Pictures at or before the newest one read are skipped (a replacement's
 * captions are the ones read already: every rendition carries the same); media that starts past
 * the end of what was read (a jump), or a seek, starts the decoder afresh (a caption under way
 * then is lost, as a television tuned in mid-caption loses it), and cues decoded twice are added
 * once. Continuity is judged on the media's own times, not on the pictures carrying caption data:
 * an encoder may send none for seconds while a caption stays on screen.
 * A cue is added when it starts, open-ended, and given its end when the decoder ends it.
 */
import { CaptionDecoder, type CaptionCue, type CaptionServiceId } from '../../src/captions/caption-decoder.js';
import { captionTrackInfo, fragmentCaptions, type CaptionTrackInfo } from '../../src/captions/fragment-captions.js';
import type { CaptionServiceRef } from './source-model.js';

/** An open cue's end until the decoder ends it. */
const OPEN_END = 24 * 3600;
/** Media starting more than this past the end of what was read (seconds) was skipped to: the decoder starts afresh. */
const MAX_GAP_SEC = 0.5;

interface ServiceTrack {
  ref: CaptionServiceRef;
  track: TextTrack;
  /** The cues added, by start and text: a cue decoded twice is added once. */
  keys: Map<string, VTTCue>;
}

export class InbandCaptions {
  private readonly infos = new Map<string, CaptionTrackInfo | null>();
  private readonly services = new Map<CaptionServiceId, ServiceTrack>();
  private readonly open = new Map<CaptionCue, VTTCue>();
  private readonly decoder: CaptionDecoder;
  /** Media time of the newest picture read (seconds, on the element's timeline). */
  private newest: number | undefined;
  /** Where the media read so far ends (seconds, on the element's timeline). */
  private mediaEnd: number | undefined;
  private active: string | null = null;

  constructor(private readonly video: HTMLVideoElement) {
    this.decoder = new CaptionDecoder({ started: (c) => this.started(c), ended: (c, end) => this.ended(c, end) });
  }

  /** The services the manifest announces: a TextTrack each (hidden until shown). */
  announce(refs: readonly CaptionServiceRef[]): void {
    for (const ref of refs) {
      if (this.services.has(ref.service)) continue;
      const track = this.video.addTextTrack('captions', ref.name, ref.language);
      track.mode = 'hidden'; // (a disabled track keeps no cues for the page to read)
      this.services.set(ref.service, { ref, track, keys: new Map() });
    }
  }

  get activeId(): string | null {
    return this.active;
  }

  /** Shows the service with `id`, or none with null. */
  show(id: string | null): void {
    this.active = null;
    for (const s of this.services.values()) {
      const on = s.ref.id === id;
      s.track.mode = on ? 'showing' : 'hidden';
      if (on) this.active = id;
    }
  }

  /** A video init segment appended (under `key`): how its samples carry SEI. */
  init(key: string, bytes: Uint8Array): void {
    if (this.services.size === 0 || this.infos.has(key)) return;
    this.infos.set(key, captionTrackInfo(bytes) ?? null);
  }

  /** Video media appended after the init segment `key`, its times moved by `offsetSec` (the SourceBuffer's timestampOffset). */
  media(key: string | undefined, bytes: Uint8Array, offsetSec: number): void {
    if (this.services.size === 0 || key === undefined) return;
    const info = this.infos.get(key);
    if (!info) return;
    const f = fragmentCaptions(bytes, info);
    if (f.start === undefined || f.end === undefined) return;
    const start = f.start + offsetSec;
    if (this.mediaEnd !== undefined && start > this.mediaEnd + MAX_GAP_SEC) {
      this.decoder.reset(this.mediaEnd);
      this.newest = undefined;
    }
    this.mediaEnd = Math.max(this.mediaEnd ?? -Infinity, f.end + offsetSec);
    for (const p of f.pictures) {
      const t = p.time + offsetSec;
      if (this.newest !== undefined && t <= this.newest + 1e-3) continue;
      this.decoder.feed(t, p.triplets);
      this.newest = t;
    }
  }

  /** A seek out of the buffer: what is read next starts afresh. */
  seeked(): void {
    if (this.mediaEnd !== undefined) this.decoder.reset(this.mediaEnd);
    this.newest = undefined;
    this.mediaEnd = undefined;
  }

  close(): void {
    for (const s of this.services.values()) s.track.mode = 'disabled';
  }

  private started(c: CaptionCue): void {
    const s = this.services.get(c.service);
    if (!s) return;
    const key = `${c.start.toFixed(3)}|${c.text}`;
    const known = s.keys.get(key);
    if (known) {
      // decoded again (after a seek): still open there, it is ended by this decoding
      if (known.endTime >= OPEN_END) this.open.set(c, known);
      return;
    }
    const cue = new VTTCue(c.start, c.start + OPEN_END, c.text);
    // the 608 grid (15 rows, 32 columns) inside the central 80 % of the picture
    cue.snapToLines = false;
    cue.line = 10 + ((c.row - 1) * 80) / 15;
    cue.position = 10 + (c.column * 80) / 32;
    cue.align = 'start';
    s.track.addCue(cue);
    s.keys.set(key, cue);
    this.open.set(c, cue);
  }

  private ended(c: CaptionCue, end: number): void {
    const cue = this.open.get(c);
    if (!cue) return;
    this.open.delete(c);
    cue.endTime = Math.max(cue.startTime, end);
  }
}
