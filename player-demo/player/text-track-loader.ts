/**
 * Subtitles for our player: a track's WebVTT files (HLS segments or DASH's sidecar file) parsed
 * with the packager's own WebVTT parser, placed on the media timeline (HLS X-TIMESTAMP-MAP:
 * media time = cue time + MPEGTS/90000 − LOCAL), de-duplicated (HLS repeats a cue that spans a
 * segment boundary in each segment) and shown as a TextTrack of the video element.
 */
import { parseWebVtt } from '../../src/media/webvtt.js';
import type { TextTrackRef } from './source-model.js';

export interface TimedCue {
  start: number;
  end: number;
  text: string;
}

const TIMESTAMP_MAP = /^X-TIMESTAMP-MAP=(.*)$/m;

/** Seconds to add to the cue times of one WebVTT document. */
function timestampOffset(doc: string): number {
  const map = TIMESTAMP_MAP.exec(doc)?.[1];
  if (!map) return 0;
  const mpegts = /MPEGTS:(\d+)/.exec(map)?.[1];
  const local = /LOCAL:(?:(\d+):)?(\d+):(\d+)\.(\d+)/.exec(map);
  const localSec = local
    ? Number(local[1] ?? 0) * 3600 + Number(local[2]) * 60 + Number(local[3]) + Number(`0.${local[4]}`)
    : 0;
  return (mpegts ? Number(mpegts) / 90000 : 0) - localSec;
}

export async function loadCues(ref: TextTrackRef, signal: AbortSignal): Promise<TimedCue[]> {
  const docs = await ref.files(signal);
  const seen = new Set<string>();
  const cues: TimedCue[] = [];
  for (const doc of docs) {
    const offset = timestampOffset(doc);
    for (const c of parseWebVtt(doc, ref.id).cues) {
      const cue = { start: c.start + offset, end: c.end + offset, text: c.text };
      const key = `${cue.start.toFixed(3)}|${cue.end.toFixed(3)}|${cue.text}`;
      if (seen.has(key)) continue;
      seen.add(key);
      cues.push(cue);
    }
  }
  return cues;
}

/** The video's TextTracks made from subtitle refs, one per ref, at most one showing. */
export class SubtitleDisplay {
  private readonly tracks = new Map<string, TextTrack>();
  private active: string | null = null;
  private readonly abort = new AbortController();

  constructor(private readonly video: HTMLVideoElement) {}

  get activeId(): string | null {
    return this.active;
  }

  /** Shows `ref` (loading its cues the first time), or hides every track with null. */
  async show(ref: TextTrackRef | null): Promise<void> {
    this.active = ref?.id ?? null;
    for (const [id, t] of this.tracks) if (id !== ref?.id) t.mode = 'disabled';
    if (!ref) return;
    let track = this.tracks.get(ref.id);
    if (!track) {
      const cues = await loadCues(ref, this.abort.signal);
      track = this.video.addTextTrack('subtitles', ref.name, ref.language);
      for (const c of cues) track.addCue(new VTTCue(c.start, c.end, c.text));
      this.tracks.set(ref.id, track);
    }
    if (this.active === ref.id) track.mode = 'showing';
  }

  close(): void {
    this.abort.abort();
    for (const t of this.tracks.values()) t.mode = 'disabled';
  }
}
