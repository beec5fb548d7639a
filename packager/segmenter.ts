/**
 * The CMAF segmenter: one per rendition, fed the raw fragmented-MP4 bytes ffmpeg writes to a pipe
 * (split anywhere). It turns them into an init segment, parts (one ffmpeg fragment = one CMAF
 * chunk = one part) and segments on a fixed time grid, so every rendition of a ladder cuts at the
 * same boundaries and uses the same segment numbers:
 *
 *  - the grid is every `segmentDuration` seconds of media time from `originSec` (default 0, where
 *    ffmpeg's -force_key_frames expr:gte(t,n_forced*SEG) puts the key frames);
 *  - video: a new segment starts at the first fragment that begins with a sync sample at or after
 *    the next grid point (less half a part of tolerance);
 *  - audio: at the first fragment starting within half a part of the next grid point, or (live,
 *    `live`; VOD with ad cues) at the grid point itself: the fragment running across it
 *    is split at the sample nearest it;
 *  - with ad cues (VOD), the grid is a list of cut times: the grid points and the splice points.
 *
 * Live, each part says where its segment will end (`Part.segmentEnd`): the encoder's frames and
 * AAC's samples are of constant duration, so the end is known from the segment's first part.
 *
 * The first part of every segment is prefixed with an styp box, so a segment file is exactly the
 * concatenation of its parts' bytes. VOD and live both use this class.
 */
import { BoxStreamParser, type RawBox } from '../src/cmaf/box-stream.js';
import { type FragmentInfo, parseFragment, setSequenceNumber, type TrackFragmentInfo } from '../src/cmaf/fragment.js';
import { type Chunk, splitFragment } from '../src/cmaf/fragment-split.js';
import { parseInit, type TrackInfo, type TrexDefaults } from '../src/cmaf/init-segment.js';
import { parseFileType } from '../src/cmaf/file-type.js';
import { readBox } from '../src/cmaf/box.js';
import { ftyp, styp } from '../src/cmaf/writers.js';
import { StreamedgeError } from '../src/errors.js';
import type { TrackProtector } from '../src/cenc/track-protector.js';
import type { IFrameRef, Part, Segment } from '../src/media/presentation.js';

export interface SegmenterListener {
  /** With a protector, `clear` is the header before encryption (for what must see the picture). */
  init(bytes: Buffer, track: TrackInfo, clear?: Buffer): void;
  /**
   * One part = one CMAF chunk (moof+mdat); the first part of each segment is prefixed with styp.
   * With a protector, `clear` is the chunk before encryption.
   */
  part(segmentNumber: number, part: Part, bytes: Buffer, clear?: ClearChunk): void;
  /** Segment complete (complete: true, parts listed, iframes for video). */
  segment(segment: Segment): void;
}

/** A chunk's boxes before encryption. */
export interface ClearChunk {
  moof: Buffer;
  mdat: Buffer;
}

export interface SegmenterOptions {
  renditionId: string;
  kind: 'video' | 'audio';
  /** Target segment duration, seconds. */
  segmentDuration: number;
  /** Target part duration, seconds (sets the boundary tolerance: half a part). */
  partDuration: number;
  firstSegmentNumber: number;
  listener: SegmenterListener;
  /** Media time (seconds) of grid point 0; default 0. */
  originSec?: number;
  /**
   * VOD with ad cues: the times (seconds, ascending) segments start at instead of the grid, where
   * the encoder forced the key frames (packager/ad-cues.ts cutTimes); past the last, the grid.
   */
  cutTimesSec?: readonly number[];
  /** Encrypts the track (Common Encryption): its header and every chunk, before anything is cut or published. */
  protector?: TrackProtector;
  /**
   * Live: the mfhd sequence_number of the first fragment, each next one a number more. The
   * encoder numbers each run's fragments from 1 again; ISO/IEC 14496-12 §8.8.5 has the number
   * increase through the track, so the channel goes on from the last one it published. Unset, the
   * encoder's numbers are kept (VOD renumbers audio split at cuts from 1).
   */
  firstSequenceNumber?: number;
  /**
   * Live: audio is cut at the grid point itself (to the sample), as video is, rather than at the
   * fragment boundary nearest it; and every part says where its segment will end
   * (`Part.segmentEnd`), known from the segment's first part. The audio and video of one segment
   * number cover the same time.
   */
  live?: boolean;
}

/** Boxes that travel with the next fragment (producer reference time, events). */
const CHUNK_PREFIX_BOXES = new Set(['prft', 'emsg']);

/** Adds the CMAF brands to an ftyp (keeps ffmpeg's major and compatible brands). */
export function cmafFtyp(original: Buffer): Buffer {
  const brands = parseFileType(readBox(original, 0));
  const compatible = [...brands.compatible];
  for (const b of ['iso6', 'cmfc']) if (!compatible.includes(b)) compatible.push(b);
  return ftyp(brands.major, brands.minorVersion, compatible);
}

interface OpenSegment {
  number: number;
  start: number;
  duration: number;
  bytes: number;
  parts: Part[];
  /** Where the segment will end (decode time), when the producer can tell (`Part.segmentEnd`). */
  plannedEnd?: number;
  /** I-frames found so far: offset/length known, duration filled at close. */
  iframes: { offset: number; length: number; time: number }[];
}

export class Segmenter {
  private readonly opts: SegmenterOptions;
  private readonly parser = new BoxStreamParser();
  private readonly stypBox = styp();
  private ftypBox: Buffer | undefined;
  private track: TrackInfo | undefined;
  private trex: Map<number, TrexDefaults> | undefined;
  private prefix: Buffer[] = [];
  private moof: Buffer | undefined;
  private current: OpenSegment | undefined;
  private nextNumber: number;
  private segTicks = 0;
  private tolTicks = 0;
  private originTicks = 0;
  private cutTicks: number[] = [];
  /** Audio cut at the grid or cut times: fragments are split at the cut (to the sample), renumbered from 1. */
  private exactAudio = false;
  private sequence = 0;
  /** Fragments published so far (with firstSequenceNumber, the next one's number counts on from it). */
  private fragments = 0;
  private boundary = 0;
  private ended = false;
  private segmentsDone = 0;

  constructor(opts: SegmenterOptions) {
    if (!(opts.segmentDuration > 0) || !(opts.partDuration > 0) || opts.partDuration > opts.segmentDuration) {
      throw new StreamedgeError(
        'BAD_OPTION',
        `segment duration (${opts.segmentDuration}s) must be positive and at least the part duration (${opts.partDuration}s)`,
      );
    }
    this.opts = opts;
    this.nextNumber = opts.firstSegmentNumber;
  }

  /** The init segment's track, once ffmpeg's moov has arrived. */
  get trackInfo(): TrackInfo | undefined {
    return this.track;
  }

  /** Number of segments completed so far. */
  get completedSegments(): number {
    return this.segmentsDone;
  }

  push(chunk: Buffer): void {
    if (this.ended)
      throw new StreamedgeError('SEGMENTER_ENDED', `segmenter ${this.opts.renditionId}: push() after end()`);
    for (const box of this.parser.push(chunk)) this.onBox(box);
  }

  /** End of the stream: closes the last (possibly short) segment. Throws if the stream stopped mid-box. */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    for (const box of this.parser.finish()) this.onBox(box);
    if (this.moof) {
      throw new StreamedgeError(
        'TRUNCATED_FRAGMENT',
        `rendition ${this.opts.renditionId}: the stream ended between a moof and its mdat`,
      );
    }
    this.closeSegment();
  }

  private onBox(box: RawBox): void {
    switch (box.type) {
      case 'ftyp':
        this.ftypBox = cmafFtyp(box.bytes);
        return;
      case 'moov':
        this.onInit(box.bytes);
        return;
      case 'moof':
        if (!this.track) throw this.fail('a moof arrived before the moov (init segment)');
        if (this.moof) throw this.fail('two moof boxes without an mdat between them');
        this.moof = Buffer.from(box.bytes); // copy: the view may pin a large pipe chunk
        return;
      case 'mdat':
        if (!this.moof) throw this.fail('an mdat arrived without a moof');
        this.onChunk(this.moof, box.bytes);
        this.moof = undefined;
        return;
      default:
        // Anything else (sidx, mfra, free, uuid, ...) describes ffmpeg's single file, not our segments.
        if (CHUNK_PREFIX_BOXES.has(box.type)) this.prefix.push(Buffer.from(box.bytes));
    }
  }

  private onInit(moov: Buffer): void {
    if (this.track) throw this.fail('a second moov arrived (the producer restarted?)');
    const plain = Buffer.concat(this.ftypBox ? [this.ftypBox, moov] : [moov]);
    const initBytes = this.opts.protector ? this.opts.protector.protectInit(plain) : plain;
    const info = parseInit(initBytes);
    const track = info.tracks.find((t) => t.kind === this.opts.kind) ?? info.tracks[0];
    if (!track) throw this.fail('the init segment has no track');
    if (track.kind !== this.opts.kind) throw this.fail(`expected a ${this.opts.kind} track, got ${track.kind}`);
    this.track = track;
    this.trex = info.trex;
    this.segTicks = Math.round(this.opts.segmentDuration * track.timescale);
    this.tolTicks = Math.round((this.opts.partDuration / 2) * track.timescale);
    this.originTicks = Math.round((this.opts.originSec ?? 0) * track.timescale);
    this.cutTicks = (this.opts.cutTimesSec ?? []).map((t) => Math.round(t * track.timescale));
    this.exactAudio = this.opts.kind === 'audio' && (this.cutTicks.length > 0 || this.opts.live === true);
    this.opts.listener.init(initBytes, track, this.opts.protector ? plain : undefined);
  }

  /** The first cut time, else grid point, strictly after `t + tolerance`. */
  private gridAfter(t: number): number {
    const cut = this.cutTicks.find((c) => c > t + this.tolTicks);
    if (cut !== undefined) return cut;
    const k = Math.floor((t + this.tolTicks - this.originTicks) / this.segTicks) + 1;
    return this.originTicks + k * this.segTicks;
  }

  private onChunk(clearMoof: Buffer, clearMdat: Buffer): void {
    if (this.exactAudio) {
      this.onAudioChunk({ moof: clearMoof, mdat: clearMdat });
      return;
    }
    this.onFragment(clearMoof, clearMdat);
  }

  /**
   * Audio with cut times: a fragment that runs across a cut is split at the sample nearest it, so
   * each segment starts within half an audio frame of the video's key frame.
   */
  private onAudioChunk(chunk: Chunk): void {
    let rest = chunk;
    for (;;) {
      const traf = this.trafOf(parseFragment(rest.moof, this.trex));
      // the tolerance is half a sample here: the cut is placed to the sample, not to the fragment
      if (this.sequence === 0 && traf.samples.length > 0) this.tolTicks = Math.floor(traf.samples[0].duration / 2);
      const start = traf.baseDecodeTime;
      // the cut this fragment must not run across: the next one after it opens its segment, if it does
      const opens = !this.current || start >= this.boundary - this.tolTicks;
      const cut = opens ? this.gridAfter(start) : this.boundary;
      let at = 0;
      for (let t = start; at < traf.samples.length && t + traf.samples[at].duration / 2 < cut; at++)
        t += traf.samples[at].duration;
      if (at === 0 || at === traf.samples.length) {
        this.onFragment(setSequenceNumber(rest.moof, ++this.sequence), rest.mdat);
        return;
      }
      const [head, tail] = splitFragment(rest, traf, at, ++this.sequence);
      this.onFragment(head.moof, head.mdat);
      rest = tail;
    }
  }

  private trafOf(frag: FragmentInfo): TrackFragmentInfo {
    const traf = frag.tracks.find((t) => t.trackId === this.track!.trackId) ?? frag.tracks[0];
    if (!traf) throw this.fail('a moof without a traf');
    return traf;
  }

  private onFragment(plainMoof: Buffer, clearMdat: Buffer): void {
    const first = this.opts.firstSequenceNumber;
    const clearMoof =
      first === undefined ? plainMoof : setSequenceNumber(plainMoof, (first + this.fragments) % 2 ** 32);
    this.fragments++;
    const { moof, mdat } = this.opts.protector
      ? this.opts.protector.protectFragment(clearMoof, clearMdat)
      : { moof: clearMoof, mdat: clearMdat };
    const traf = this.trafOf(parseFragment(moof, this.trex));
    const start = traf.baseDecodeTime;
    const isVideo = this.opts.kind === 'video';
    const independent = isVideo ? traf.startsWithSync : true;

    let cut = !this.current;
    if (this.current && start >= this.boundary - this.tolTicks) cut = isVideo ? traf.startsWithSync : true;
    if (cut) {
      if (!this.current && isVideo && !traf.startsWithSync) {
        throw this.fail('the first video fragment does not start with a key frame');
      }
      this.closeSegment();
      this.current = { number: this.nextNumber++, start, duration: 0, bytes: 0, parts: [], iframes: [] };
      this.boundary = this.gridAfter(start);
      const planned = this.opts.live ? this.plannedEnd(start, traf) : undefined;
      if (planned !== undefined) this.current.plannedEnd = planned;
    }
    const seg = this.current!;
    const lead: Buffer[] = seg.parts.length === 0 ? [this.stypBox] : [];
    const pieces = [...lead, ...this.prefix, moof, mdat];
    this.prefix = [];
    const bytes = Buffer.concat(pieces);
    const moofOffsetInSegment = seg.bytes + bytes.length - moof.length - mdat.length;

    if (isVideo) {
      let t = start;
      for (const s of traf.samples) {
        if (s.isSync && traf.dataOffsetBase === 'moof') {
          seg.iframes.push({ offset: moofOffsetInSegment, length: s.offset + s.size, time: t });
        }
        t += s.duration;
      }
    }

    const part: Part = {
      index: seg.parts.length,
      duration: traf.duration,
      bytes: bytes.length,
      independent,
      last: this.nextChunkOpensSegment(start + traf.duration),
      ...(seg.plannedEnd !== undefined ? { segmentEnd: seg.plannedEnd } : {}),
    };
    seg.parts.push(part);
    seg.duration += traf.duration;
    seg.bytes += bytes.length;
    this.opts.listener.part(
      seg.number,
      part,
      bytes,
      this.opts.protector ? { moof: clearMoof, mdat: clearMdat } : undefined,
    );
  }

  /**
   * Whether a fragment starting at `nextStart` (fragments are contiguous: the next one starts
   * where this one ends) will open a new segment. Audio: exactly the cut rule of onChunk. Video:
   * the cut also needs a key frame; the encoder forces one at the grid point, so a fragment past
   * `boundary - tolerance` opens the next segment; if it does not (no key frame there), the
   * answer was early but still true in the end: the next segment's part 0 does come. A preload
   * hint built on this never names a part that will not exist (RFC 8216bis: hints are promises).
   */
  private nextChunkOpensSegment(nextStart: number): boolean {
    return nextStart >= this.boundary - this.tolTicks;
  }

  /**
   * Where a segment opening at `start` with fragment `traf` will end, when that is known (live):
   * video at the first frame at or after the next grid point (the encoder forces a key frame
   * there, -force_key_frames gte(t, n*SEG), at a constant frame rate); audio cut to the sample,
   * at the first sample boundary whose following sample's midpoint is at or past it (the split
   * rule of onAudioChunk). Undefined for a fragment whose samples are not all of one duration.
   */
  private plannedEnd(start: number, traf: TrackFragmentInfo): number | undefined {
    const step = traf.samples[0]?.duration;
    if (!step || traf.samples.some((s) => s.duration !== step)) return undefined;
    if (this.opts.kind === 'video') return start + Math.ceil((this.boundary - start) / step) * step;
    return start + Math.ceil((this.boundary - step / 2 - start) / step) * step;
  }

  private closeSegment(): void {
    const seg = this.current;
    if (!seg) return;
    this.current = undefined;
    const segment: Segment = {
      number: seg.number,
      start: seg.start,
      duration: seg.duration,
      bytes: seg.bytes,
      parts: seg.parts,
      complete: true,
    };
    if (this.opts.kind === 'video') {
      const end = seg.start + seg.duration;
      segment.iframes = seg.iframes.map((f, i): IFrameRef => ({
        offset: f.offset,
        length: f.length,
        duration: (seg.iframes[i + 1]?.time ?? end) - f.time,
      }));
    }
    this.segmentsDone++;
    this.opts.listener.segment(segment);
  }

  private fail(what: string): StreamedgeError {
    return new StreamedgeError('BAD_ENCODER_OUTPUT', `rendition ${this.opts.renditionId}: ${what}`);
  }
}
