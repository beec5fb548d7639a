/**
 * Live channel state that must survive an origin restart, in lmdb (`<root>/.live/state.lmdb`):
 * the availability start time (media time 0 in wall clock), the next segment number, where
 * media time ended, and each rendition's window (complete segments, metadata only: the bytes
 * are files beside it). A restarted origin continues the numbering and the timeline, and marks
 * the first new segment as a discontinuity.
 */
import { open, type RootDatabase } from 'lmdb';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Rendition, Segment } from '../../src/media/presentation.js';
import { StreamedgeError } from '../../src/errors.js';
import type { PersistedAdBreaks } from './ad-breaks.js';

export interface PersistedRendition {
  rendition: Rendition;
  discontinuitySequence: number;
  segments: Segment[];
  /** The highest mfhd sequence number published (absent in state saved before it was kept). */
  fragmentSequence?: number;
}

export interface PersistedChannel {
  availabilityStartTime: number;
  nextSegmentNumber: number;
  /** Media time (seconds from availabilityStartTime) where the last run ended. */
  mediaEnd: number;
  /** Fingerprint of the channel's encoding (ladder + durations): a change resets the window. */
  fingerprint: string;
  renditions: Record<string, PersistedRendition>;
  /** Ad breaks and the next splice_event_id (absent in state saved before they existed). */
  adBreaks?: PersistedAdBreaks;
  /**
   * The MPD's Period starts still listed (media seconds: encoder runs after the first, and with
   * `--live-dash-periods cues` ad breaks' starts and returns), so they keep their ids.
   */
  dashPeriodStarts?: number[];
}

export class ChannelStateStore {
  private readonly db: RootDatabase<PersistedChannel, string>;

  constructor(path: string) {
    try {
      mkdirSync(dirname(path), { recursive: true });
      this.db = open<PersistedChannel, string>({ path, compression: false });
    } catch (e) {
      throw new StreamedgeError('LIVE_STATE', `cannot open the live state database ${path}: ${(e as Error).message}`, {
        cause: e,
      });
    }
  }

  get(channel: string): PersistedChannel | undefined {
    return this.db.get(`channel/${channel}`);
  }

  put(channel: string, state: PersistedChannel): Promise<boolean> {
    return this.db.put(`channel/${channel}`, state);
  }

  async close(): Promise<void> {
    await this.db.flushed;
    await this.db.close();
  }
}
