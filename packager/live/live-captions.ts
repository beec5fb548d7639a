/**
 * The closed-caption services a live channel's manifests announce: `--live-captions` as given
 * (or none); else the CEA-608 channels and CEA-708 services a caption has appeared on in the channel's first video
 * rendition, read from its parts as they are produced (src/captions), so a feed that starts
 * carrying captions mid-run, or carries them on CC3, is announced as it does; else CC1 while
 * the run's probe saw caption data that no caption has come from yet.
 */
import type { ClosedCaptionService, TrackKind } from '../../src/media/presentation.js';
import { compareCaptionServices, type CaptionServiceId } from '../../src/captions/caption-decoder.js';
import { CaptionChannelScan } from '../../src/captions/channel-scan.js';

export class LiveCaptionServices {
  private scan: CaptionChannelScan | undefined;
  private scanned: string | undefined;
  private readonly found = new Set<CaptionServiceId>();
  private probed = false;

  constructor(
    private readonly configured: ClosedCaptionService[] | 'none' | undefined,
    /** What the manifests announce changed. */
    private readonly changed: () => void,
  ) {}

  /** The run's probe saw 608 data in the source (RunHandle.closedCaptions). */
  setProbed(probed: boolean): void {
    if (probed === this.probed) return;
    this.probed = probed;
    if (this.configured === undefined && this.found.size === 0) this.changed();
  }

  /** A rendition's init segment (each run sends them again): the first video rendition's starts a scan. */
  init(renditionId: string, kind: TrackKind, bytes: Uint8Array): void {
    if (this.configured !== undefined || kind !== 'video') return;
    if (this.scanned !== undefined && this.scanned !== renditionId) return;
    this.scanned = renditionId;
    this.scan = new CaptionChannelScan(bytes);
  }

  /** A part of a rendition, in order. */
  part(renditionId: string, bytes: Uint8Array): void {
    if (!this.scan || renditionId !== this.scanned) return;
    this.scan.push(bytes);
    let grew = false;
    for (const c of this.scan.services) {
      if (this.found.has(c)) continue;
      this.found.add(c);
      grew = true;
    }
    if (grew) this.changed();
  }

  get services(): ClosedCaptionService[] {
    if (this.configured === 'none') return [];
    if (this.configured) return this.configured;
    if (this.found.size > 0)
      return [...this.found].sort(compareCaptionServices).map((id) => ({ instreamId: id, name: id }));
    return this.probed ? [{ instreamId: 'CC1', name: 'CC1' }] : [];
  }
}
