/** Engine-independent QoE counters from the video element: startup time, stalls, stall time. */
export class PlaybackWatch {
  startupMs: number | null = null;
  stalls = 0;
  stallMs = 0;
  private t0 = performance.now();
  private stallStart: number | null = null;
  private readonly onWaiting = () => {
    if (this.startupMs !== null && this.stallStart === null && !this.video.seeking) {
      this.stalls += 1;
      this.stallStart = performance.now();
    }
  };
  private readonly onPlaying = () => {
    if (this.startupMs === null) this.startupMs = performance.now() - this.t0;
    if (this.stallStart !== null) {
      this.stallMs += performance.now() - this.stallStart;
      this.stallStart = null;
    }
  };

  constructor(private readonly video: HTMLVideoElement) {
    video.addEventListener('waiting', this.onWaiting);
    video.addEventListener('playing', this.onPlaying);
  }

  /** Stall time so far, including a stall still in progress. */
  currentStallMs(): number {
    return this.stallMs + (this.stallStart !== null ? performance.now() - this.stallStart : 0);
  }

  detach(): void {
    this.video.removeEventListener('waiting', this.onWaiting);
    this.video.removeEventListener('playing', this.onPlaying);
  }
}
