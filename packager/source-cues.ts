/**
 * The ad cues an MPEG-TS source carries itself (`package --ad-cues source`): a broadcast
 * recording, or a playout system's file, whose SCTE 35 splice_insert or time_signal cues mark its
 * avails. The file is read once (src/mpegts/ts-reader.ts); each avail becomes an AdCue on the
 * packaged media's time line (its PTS less the container's first timestamp, which ffmpeg takes
 * off): a break when its length is known (break_duration, the segmentation duration, or its
 * return), else a splice point. Repeats of a cue (feeds send each several times ahead of the
 * splice) count once; a cancelled one is dropped. The source's own section goes into the
 * manifests, its pts_adjustment moved to the packaged time line.
 */
import { createReadStream } from 'node:fs';
import { StreamedgeError } from '../src/errors.js';
import { TS_PACKET, TsReader } from '../src/mpegts/ts-reader.js';
import { cueSignalsOf, ptsDifferenceSec, type CueSignal } from '../src/scte35/cue-signal.js';
import { decodeSpliceInfo } from '../src/scte35/splice-info.js';
import type { AdCue } from './ad-cues.js';

const PTS_HZ = 90_000;
/** Two signals of one event less than this apart (s) are the same cue sent again. */
const SAME_CUE_SEC = 0.001;

export interface SourceCues {
  cues: AdCue[];
  /** What was read but left out, one line each (printed by the CLI). */
  notes: string[];
}

/**
 * The avails of a source's SCTE 35 signals, in the order they come: an out opens a cue (a repeat
 * of one, the same event at the same time, counts once), an in gives the open cue of its event
 * its length, a cancel drops its event's cues.
 */
export class SourceCueBook {
  private readonly found: { eventId: number; cue: AdCue }[] = [];

  /** `startPts`: the container's first timestamp, the packaged time line's 0 (90 kHz). */
  constructor(private readonly startPts: number) {}

  /** One signal of `section`; `streamPts` is where the stream is (a splice_immediate's time). */
  note(signal: CueSignal, section: Uint8Array, streamPts: number | undefined): void {
    if (signal.kind === 'cancel') {
      for (let i = this.found.length - 1; i >= 0; i--)
        if (this.found[i].eventId === signal.eventId) this.found.splice(i, 1);
      return;
    }
    const pts = signal.pts ?? streamPts;
    if (pts === undefined) return;
    const at = ptsDifferenceSec(pts, this.startPts);
    if (signal.kind === 'in') {
      const open = [...this.found]
        .reverse()
        .find((x) => x.eventId === signal.eventId && x.cue.durationSec === undefined && at > x.cue.atSec);
      if (open) open.cue.durationSec = at - open.cue.atSec;
      return;
    }
    if (this.found.some((x) => x.eventId === signal.eventId && Math.abs(x.cue.atSec - at) < SAME_CUE_SEC)) return;
    this.found.push({
      eventId: signal.eventId,
      cue: {
        atSec: at,
        ...(signal.durationSec !== undefined ? { durationSec: signal.durationSec } : {}),
        source: { section, ...(signal.pts !== undefined ? { splicePts: signal.pts } : {}) },
      },
    });
  }

  /** The cues so far, in time order. */
  cues(): AdCue[] {
    return this.found.map((x) => x.cue).sort((a, b) => a.atSec - b.atSec);
  }
}

/**
 * Reads `file`'s SCTE 35 cues. `startSec` is the container's first timestamp (ffprobe's
 * start_time), `durationSec` its length, `partSec` the shortest segment: cues that cannot be
 * placed are left out, each with a note.
 */
export async function readSourceCues(
  file: string,
  startSec: number,
  durationSec: number,
  partSec: number,
): Promise<SourceCues> {
  const notes: string[] = [];
  const book = new SourceCueBook(Math.round(startSec * PTS_HZ));
  let lastPts: number | undefined;
  let packets = 0;
  const reader = new TsReader({
    pts: (pid, pts) => {
      if (reader.isAudioVisual(pid)) lastPts = pts;
    },
    data: (_pid, payload) => {
      if (payload[0] !== 0xfc) return; // another data stream, not a splice_info_section
      try {
        const section = Uint8Array.from(payload);
        for (const signal of cueSignalsOf(decodeSpliceInfo(payload))) book.note(signal, section, lastPts);
      } catch (e) {
        notes.push(`an SCTE 35 section could not be read (${(e as Error).message}): left out`);
      }
    },
  });
  let rest = Buffer.alloc(0);
  for await (const chunk of createReadStream(file, { highWaterMark: TS_PACKET * 2048 })) {
    const bytes = rest.length > 0 ? Buffer.concat([rest, chunk as Buffer]) : (chunk as Buffer);
    let at = 0;
    for (; at + TS_PACKET <= bytes.length; at += TS_PACKET) {
      if (bytes[at] !== 0x47) {
        throw new StreamedgeError(
          'BAD_OPTION',
          `--ad-cues source: ${file} is not an MPEG-TS file (SCTE 35 cues are read from MPEG-TS)`,
        );
      }
      reader.push(bytes.subarray(at, at + TS_PACKET));
      packets++;
    }
    rest = Buffer.from(bytes.subarray(at));
  }
  if (packets === 0) throw new StreamedgeError('BAD_OPTION', `--ad-cues source: ${file} holds no MPEG-TS packets`);
  return { cues: placeSourceCues(book.cues(), durationSec, partSec, notes), notes };
}

/**
 * The cues as the packager can place them: inside the programme (a break running past its end
 * kept as a splice point), and a cue that starts less than a part after the previous break ends
 * taken as starting where it ends (back-to-back avails share their splice point); one that starts
 * inside the previous break is left out.
 */
export function placeSourceCues(found: AdCue[], durationSec: number, partSec: number, notes: string[]): AdCue[] {
  const cues: AdCue[] = [];
  for (const c of found) {
    const name = `the cue at ${c.atSec.toFixed(3)} s`;
    if (c.atSec <= 0 || c.atSec >= durationSec) {
      notes.push(`${name} is outside the programme (0 to ${durationSec.toFixed(2)} s): left out`);
      continue;
    }
    let cue: AdCue = { ...c };
    if (c.durationSec !== undefined && c.atSec + c.durationSec >= durationSec) {
      notes.push(`${name} starts a break that runs past the programme's end: kept as a splice point`);
      const { durationSec: _, ...point } = c;
      cue = point;
    }
    const prev = cues[cues.length - 1];
    if (prev) {
      const prevEnd = prev.atSec + (prev.durationSec ?? 0);
      if (cue.atSec < prevEnd - partSec) {
        notes.push(`${name} starts inside the break before it: left out`);
        continue;
      }
      if (cue.atSec < prevEnd + partSec) {
        if (prev.durationSec !== undefined) prev.durationSec = cue.atSec - prev.atSec;
        else if (cue.atSec - prev.atSec < partSec) {
          notes.push(`${name} is less than a part after the one before it: left out`);
          continue;
        }
      }
    }
    cues.push(cue);
  }
  return cues;
}
