/**
 * DASH for virtual viewers (mpd-parser): static (VOD) and dynamic (live) MPDs with
 * SegmentTemplate (any packager's: numbers, the init segment and the next segment's URL come
 * from each Representation's template, src/dash/segment-template.ts), and LL-DASH: with an
 * availabilityTimeOffset the segment being produced (the newest listed while its end is to come,
 * as our origin lists it, else the one after the newest listed, named by the template) is
 * requested at its availability and arrives as it is produced (chunked transfer). SegmentBase
 * (one file per Representation, indexed by a sidx: the on-demand profile) too: a viewer
 * fetches a Representation's index range when it first plays it, as players do, and asks for
 * its segments as byte ranges (src/dash/segment-base.ts).
 */
import { parse } from 'mpd-parser';
import { StreamedgeError } from '../../src/errors.js';
import {
  readSegmentInfo,
  listedSegmentStart,
  segmentNumber,
  segmentUrl,
  type SegmentTemplateInfo,
} from '../../src/dash/segment-template.js';
import { indexedStartSec, segmentsFromIndex, type MpdSegmentBase } from '../../src/dash/segment-base.js';
import {
  matchAcrossPeriods,
  PeriodCursors,
  richestPeriod,
  splitPeriods,
  withinPeriod,
  type MpdPeriod,
} from '../../src/dash/mpd-periods.js';
import { parseXsDuration } from '../../src/dash/xs-duration.js';
import { unescapeXml } from '../../src/dash/xml-element.js';
import { normalizeKid } from '../../src/cenc/content-keys.js';
import { rangeRequest } from '../../src/http/range.js';
import type { HttpGetter } from './http-get.js';
import { reloadBegunAt, scheduleStart } from './reload-schedule.js';
import type { Chunk, Cursor, StreamClient, StreamRendition } from './stream-client.js';
import { chooseVideoFamily, chosenFamily } from '../../src/media/video-family-choice.js';

interface DashSegment {
  /** The viewer's cursor for it (see PeriodRep.ordinal). */
  msn: number;
  /** Its $Number$ (SegmentTemplate), or its index in the list. */
  number: number;
  url: string;
  duration: number;
  /** Seconds from availabilityStartTime (period start included). */
  presentationTime: number;
  /** SegmentBase: the Range header value for its bytes of `url`. */
  range?: string;
}

/** One Representation in one Period (cursors across Periods: src/dash/mpd-periods.ts PeriodCursors). */
interface PeriodRep {
  key: string;
  ordinal: number;
  template?: SegmentTemplateInfo;
  initUrl: string;
  initRange?: string;
  /** SegmentBase: its index and init segment, until the index is read (then the segments are known). */
  base?: MpdSegmentBase;
  /** SegmentBase: where its index's media times fall in the presentation (indexedStartSec). */
  periodStartSec: number;
  baseOffsetSec: number;
  /** Its listed segments, in order. */
  segs: DashSegment[];
}

interface RepState {
  id: string;
  periods: PeriodRep[];
  /** Every listed segment by cursor. */
  segments: Map<number, DashSegment>;
}

/** The parts of an mpd-parser manifest this client reads. */
interface MpdSegment {
  resolvedUri?: string;
  duration?: number;
  presentationTime?: number;
  map?: { resolvedUri?: string };
}

interface MpdPlaylist {
  attributes?: { NAME?: string; BANDWIDTH?: number; RESOLUTION?: { width?: number; height?: number }; CODECS?: string };
  segments?: MpdSegment[];
  sidx?: MpdSegmentBase;
}

interface MpdAudioGroup {
  playlists?: MpdPlaylist[];
}

interface MpdManifest {
  playlists?: MpdPlaylist[];
  mediaGroups?: { AUDIO?: Record<string, Record<string, MpdAudioGroup>> };
}

/** One Period of the MPD, read. */
interface ReadPeriod {
  period: MpdPeriod;
  video: MpdPlaylist[];
  /** Its audio, by label (the first audio group's). */
  audio: [string, MpdPlaylist][];
  templates: Map<string, SegmentTemplateInfo>;
  /** SegmentBase@presentationTimeOffset (s) by Representation id, where not 0. */
  baseOffsets: Map<string, number>;
}

const attr = (xml: string, name: string): string | undefined => new RegExp(`\\b${name}="([^"]*)"`).exec(xml)?.[1];
const nameOf = (p: MpdPlaylist): string => String(p.attributes?.NAME);
const bandwidthOf = (p: MpdPlaylist): number => Number(p.attributes?.BANDWIDTH) || 1;

export class DashClient implements StreamClient {
  readonly protocol = 'dash' as const;
  live = false;
  lowLatency = false;
  targetLatencySec?: number;
  segmentSec = 2;
  video: StreamRendition[] = [];
  audio?: StreamRendition;
  /**
   * An encrypted stream's Clear Key license (the MPD's dashif:Laurl or clearkey:Laurl, resolved
   * against the MPD, and its default KIDs, 32 hex): a player asks for it once, before it plays.
   */
  license?: { url: string; kids: string[] };
  private protectionRead = false;
  private ast = 0;
  private ato = 0;
  private minimumUpdatePeriodSec = 2;
  /**
   * When the fetch that gave the MPD we hold began (performance.now() ms, or the clock given):
   * its due time when it was a scheduled refresh (see refreshDueAt).
   */
  private fetchBegunAt = 0;
  private readonly reps = new Map<string, RepState>();
  private readonly cursors = new PeriodCursors();
  /** The label of the audio this viewer plays (matched in Periods whose ids differ). */
  private audioLabel?: string;
  private readonly now: () => number;
  private readonly joinAt: number | undefined;

  constructor(
    private readonly http: HttpGetter,
    private readonly url: string,
    o: {
      now?: () => number;
      /** When the viewer was due to join (its refresh schedule starts then; default: when open() runs). */
      joinAt?: number;
      /** A ladder in several video codecs: the families this viewer prefers, first first (default: the first listed). */
      preferredVideo?: readonly string[];
    } = {},
  ) {
    this.now = o.now ?? (() => performance.now());
    this.joinAt = o.joinAt;
    this.preferredVideo = o.preferredVideo;
  }

  private readonly preferredVideo: readonly string[] | undefined;
  /** A ladder in several video codecs: the family this viewer plays. */
  videoFamily?: string;

  async open(signal: AbortSignal): Promise<void> {
    const now = this.now();
    // the viewer's refresh schedule starts when it was due to join (bench/loadtest/reload-schedule.ts)
    await this.refresh(signal, scheduleStart(this.joinAt, now));
    // started a whole update period or more after it was due: a schedule of its own from now
    if (now - this.fetchBegunAt >= this.minimumUpdatePeriodSec * 1000) this.fetchBegunAt = now;
    if (this.video.length === 0)
      throw new StreamedgeError('LOADTEST_STREAM', `${this.url}: the MPD has no video Representation`);
  }

  /**
   * When a dynamic MPD is fetched next: no later than minimumUpdatePeriod after the previous fetch
   * (ISO/IEC 23009-1 5.4: the MPD is valid until its fetch time plus minimumUpdatePeriod).
   * Counted from the previous fetch's due time, not from when the viewer's
   * thread got to run it (bench/loadtest/reload-schedule.ts). (This client used to poll at half
   * the period, counted from when the previous response had arrived: every late timer moved it.)
   */
  private refreshDueAt(): number {
    return this.fetchBegunAt + this.minimumUpdatePeriodSec * 1000;
  }

  private async refresh(signal: AbortSignal, begunAt: number): Promise<void> {
    const res = await this.http.get(this.url, { kind: 'manifest', text: true, signal });
    const xml = res.text!;
    // an error page or the wrong URL fails the viewer by name (mpd-parser would throw its own words)
    if (!/<(?:[\w-]+:)?MPD[\s>]/.test(xml)) {
      throw new StreamedgeError('LOADTEST_NOT_MPD', `${this.url} is not a DASH MPD: it has no <MPD> element`);
    }
    // read from the first MPD only: a live MPD is refetched every few seconds by every viewer
    if (!this.protectionRead) {
      this.license = clearKeyLicense(xml, this.url);
      this.protectionRead = true;
    }
    const periods = splitPeriods(xml).map((period) => this.readPeriod(period));
    this.fetchBegunAt = begunAt;
    this.live = attr(xml, 'type') === 'dynamic';
    const ast = attr(xml, 'availabilityStartTime');
    this.ast = ast ? Date.parse(ast) : 0;
    this.ato = Number(attr(xml, 'availabilityTimeOffset') ?? 0) || 0;
    this.lowLatency = this.live && this.ato > 0;
    this.minimumUpdatePeriodSec = parseXsDuration(attr(xml, 'minimumUpdatePeriod')) ?? 2;
    const latencyTarget = /<Latency\b[^>]*\btarget="(\d+)"/.exec(xml)?.[1];
    this.targetLatencySec = latencyTarget
      ? Number(latencyTarget) / 1000
      : parseXsDuration(attr(xml, 'suggestedPresentationDelay'));
    this.cursors.see(periods.map((p) => p.period.key));
    // The ladder is the richest Period's (the programme's, not an ad break's), chosen at the first
    // read: the ABR holds rungs by index, so it never changes after.
    if (this.video.length === 0) {
      const richest = richestPeriod(periods);
      // a ladder in H.264 and HEVC (a video AdaptationSet each): a viewer plays one family, the one
      // it prefers (--hevc-share), else the first listed
      const listed = (richest?.video ?? []).map((p) => ({ p, codecs: p.attributes?.CODECS ?? '' }));
      const chosen = chooseVideoFamily(listed, () => true, this.preferredVideo);
      this.videoFamily = chosenFamily(listed, chosen);
      const family = chosen.map((x) => x.p);
      this.video = family.map((p) => ({
        id: nameOf(p),
        kind: 'video' as const,
        bitrate: bandwidthOf(p),
        width: p.attributes?.RESOLUTION?.width,
        height: p.attributes?.RESOLUTION?.height,
      }));
      const audio = richest?.audio[0]?.[1];
      if (audio)
        this.audio = { id: nameOf(audio), kind: 'audio', bitrate: Number(audio.attributes?.BANDWIDTH) || 128_000 };
      this.audioLabel = richest?.audio[0]?.[0];
    }
    for (const rung of this.video)
      this.setTrack(rung.id, periods, (p) => matchAcrossPeriods(rung, p.video, nameOf, bandwidthOf));
    if (this.audio) {
      const id = this.audio.id;
      this.setTrack(id, periods, (p) => {
        const byId =
          p.audio.find(([, pl]) => nameOf(pl) === id) ?? p.audio.find(([label]) => label === this.audioLabel);
        return (byId ?? p.audio[0])?.[1];
      });
    }
    const first = this.reps.get(this.video[0]?.id ?? '')?.periods.find((pr) => pr.segs.length > 0)?.segs[0];
    if (first) this.segmentSec = first.duration;
  }

  private readPeriod(period: MpdPeriod): ReadPeriod {
    const m: MpdManifest = parse(period.text, { manifestUri: this.url, NOW: Date.now(), clientOffset: 0 });
    const group = Object.values(m.mediaGroups?.AUDIO ?? {})[0] ?? {};
    const audio = Object.entries(group).flatMap(([label, g]): [string, MpdPlaylist][] =>
      g.playlists?.[0] ? [[label, g.playlists[0]]] : [],
    );
    // each Representation's SegmentTemplate, by id (mpd-parser numbers segments from 0 whatever the MPD says)
    return { period, video: m.playlists ?? [], audio, ...readSegmentInfo(period.text, this.url) };
  }

  /** Rebuilds a track from the Periods of the MPD just read, `pick` naming its Representation in each. */
  private setTrack(id: string, periods: ReadPeriod[], pick: (p: ReadPeriod) => MpdPlaylist | undefined): void {
    const old = this.reps.get(id);
    const track: RepState = { id, periods: [], segments: new Map() };
    for (const p of periods) {
      const pl = pick(p);
      if (!pl) continue;
      const key = p.period.key;
      // a SegmentBase index already read is kept (an MPD reload does not fetch it again)
      const read = old?.periods.find((pr) => pr.key === key && !pr.base && pr.segs.length > 0 && pl.sidx);
      const pr =
        read ?? this.periodRep(id, p.period, pl, p.templates.get(nameOf(pl)), p.baseOffsets.get(nameOf(pl)) ?? 0);
      track.periods.push(pr);
      for (const seg of pr.segs) track.segments.set(seg.msn, seg);
    }
    this.reps.set(id, track);
  }

  private periodRep(
    trackId: string,
    period: MpdPeriod,
    p: MpdPlaylist,
    template: SegmentTemplateInfo | undefined,
    baseOffsetSec: number,
  ): PeriodRep {
    const ordinal = this.cursors.ordinal(period.key);
    const segs: DashSegment[] = [];
    // a live MPD that lists no segment yet still names the init segment in its template
    let initUrl = template?.initUrl ?? '';
    (p.segments ?? []).forEach((s, i) => {
      const presentationTime = listedSegmentStart(template, Number(s.presentationTime ?? 0));
      if (!withinPeriod(period, presentationTime, Number(s.duration))) return;
      const number = template ? segmentNumber(template, i, presentationTime) : i;
      segs.push({
        msn: this.cursors.cursor(trackId, period.key, number),
        number,
        url: String(s.resolvedUri),
        duration: Number(s.duration),
        presentationTime,
      });
      if (s.map?.resolvedUri) initUrl = s.map.resolvedUri;
    });
    const base = p.sidx && segs.length === 0 ? p.sidx : undefined;
    const initRange = base?.map?.byterange;
    return {
      key: period.key,
      ordinal,
      template,
      initUrl: base ? base.map?.resolvedUri || base.resolvedUri : initUrl,
      segs,
      periodStartSec: period.startSec,
      baseOffsetSec,
      ...(base ? { base } : {}),
      ...(initRange ? { initRange: rangeRequest(initRange.offset, initRange.length) } : {}),
    };
  }

  /** SegmentBase: reads a Period's sidx (its index range) into its segments, once. */
  private async readIndex(r: RepState, pr: PeriodRep, signal: AbortSignal): Promise<void> {
    const base = pr.base;
    if (!base) return;
    const { offset, length } = base.byterange;
    const res = await this.http.get(base.resolvedUri, {
      kind: 'init',
      bytes: true,
      range: rangeRequest(offset, length),
      signal,
    });
    // a server that ignores Range answers 200 with the whole file: the index is cut out of it
    const body = res.body ?? Buffer.alloc(0);
    const index = res.status === 200 && body.length > length ? body.subarray(offset, offset + length) : body;
    const indexed = segmentsFromIndex(index, base.byterange, base.resolvedUri);
    pr.segs = indexed.map((x, n) => ({
      msn: this.cursors.cursor(r.id, pr.key, n),
      number: n,
      url: base.resolvedUri,
      duration: x.durationSec,
      presentationTime: indexedStartSec(x.startSec, pr.periodStartSec, pr.baseOffsetSec),
      range: rangeRequest(x.range.offset, x.range.length),
    }));
    for (const seg of pr.segs) r.segments.set(seg.msn, seg);
    pr.base = undefined;
    if (indexed[0] && r.id === this.video[0]?.id && pr === r.periods[0]) this.segmentSec = indexed[0].durationSec;
  }

  /**
   * The first Period of the track from `from` on that lists a segment, reading a Period's index
   * (SegmentBase) as the viewer reaches it, as a player does.
   */
  private async periodFrom(r: RepState, from: number, signal: AbortSignal): Promise<PeriodRep | undefined> {
    for (const pr of r.periods.slice(Math.max(0, from))) {
      if (pr.base) await this.readIndex(r, pr, signal);
      if (pr.segs.length > 0) return pr;
    }
    return undefined;
  }

  async startCursor(id: string, signal: AbortSignal): Promise<Cursor> {
    const r = this.rep(id);
    if (!this.live) return { msn: (await this.periodFrom(r, 0, signal))?.segs[0].msn ?? 0, part: 0 };
    const listed = r.periods.flatMap((pr) => pr.segs);
    if (listed.length === 0) return { msn: 0, part: 0 };
    const back = Math.ceil((this.targetLatencySec ?? 3 * this.segmentSec) / this.segmentSec);
    // LL-DASH counts back from the segment being produced: the newest listed while its end is to
    // come (a low-latency MPD of ours lists it from its first part on), else the one after it
    const newest = listed[listed.length - 1];
    const producing = this.producing(newest) ? listed.length - 1 : listed.length;
    const at = this.lowLatency ? producing - back + 1 : listed.length - back;
    if (at >= listed.length) return { msn: newest.msn + 1, part: 0 };
    return { msn: listed[Math.max(0, at)].msn, part: 0 };
  }

  /** Low latency: whether a listed segment ends after now (it is still being produced). */
  private producing(seg: DashSegment): boolean {
    return this.lowLatency && this.ast + (seg.presentationTime + seg.duration) * 1000 > Date.now();
  }

  /**
   * Audio and video segments start at the same times (CMAF), but a packager may number them apart
   * (another startNumber): the audio segment that starts where video segment `video.msn` does, in
   * the same Period.
   */
  audioCursor(video: Cursor): Cursor {
    const v = this.reps.get(this.video[0]?.id ?? '');
    const a = this.audio && this.reps.get(this.audio.id);
    const ordinal = this.cursors.ordinalOf(video.msn);
    const vp = v?.periods.find((pr) => pr.ordinal === ordinal);
    const ap = vp && a?.periods.find((pr) => pr.key === vp.key);
    const vs = vp?.segs[0];
    const as = ap?.segs[0];
    if (!vs || !as || !(vs.duration > 0) || !(as.duration > 0)) return video;
    const t = vs.presentationTime + (video.msn - vs.msn) * vs.duration;
    return { msn: as.msn + Math.round((t - as.presentationTime) / as.duration), part: 0 };
  }

  private rep(id: string): RepState {
    const r = this.reps.get(id);
    if (!r) throw new StreamedgeError('LOADTEST_STREAM', `no Representation ${id} in ${this.url}`);
    return r;
  }

  private chunkOf(r: RepState, pr: PeriodRep, seg: DashSegment): Chunk {
    const at = r.periods.indexOf(pr);
    // the last segment of a Period that has ended: the next Period follows
    const following = seg === pr.segs[pr.segs.length - 1] ? r.periods[at + 1]?.segs[0] : undefined;
    return {
      url: seg.url,
      kind: 'segment',
      durationSec: seg.duration,
      independent: true,
      programDateTimeMs: this.live ? this.ast + seg.presentationTime * 1000 : undefined,
      next: { msn: following?.msn ?? seg.msn + 1, part: 0 },
      initUrl: pr.initUrl,
      ...(seg.range ? { range: seg.range } : {}),
      ...(pr.initRange ? { initRange: pr.initRange } : {}),
    };
  }

  async chunkAt(id: string, cursor: Cursor, signal: AbortSignal): Promise<Chunk | null> {
    for (let guard = 0; guard < 10_000; guard++) {
      const r = this.rep(id);
      const ordinal = this.cursors.ordinalOf(cursor.msn);
      const at = r.periods.findIndex((pr) => pr.ordinal === ordinal);
      const pr = r.periods[at];
      if (pr?.base) await this.readIndex(r, pr, signal);
      const seg = r.segments.get(cursor.msn);
      if (seg && pr) {
        // the segment being produced, listed: asked for at its availability, as when named below
        if (this.producing(seg) && seg === pr.segs[pr.segs.length - 1]) {
          const availableAt = this.ast + (seg.presentationTime + seg.duration - this.ato) * 1000;
          await this.http.wait(availableAt - Date.now(), signal);
        }
        return this.chunkOf(r, pr, seg);
      }
      // its Period has left the window, or the cursor is older than the window: the oldest listed
      if (!pr || cursor.msn < (pr.segs[0]?.msn ?? -Infinity)) {
        const from = pr?.segs[0] ? pr : await this.periodFrom(r, 0, signal);
        if (from) return this.chunkOf(r, from, from.segs[0]);
      }
      // past a Period's last segment, a later Period listed: its first
      const later = pr ? await this.periodFrom(r, at + 1, signal) : undefined;
      if (later) return this.chunkOf(r, later, later.segs[0]);
      if (!this.live) return null;
      const lastSeg = pr?.segs[pr.segs.length - 1];
      if (this.lowLatency && pr && lastSeg && cursor.msn === lastSeg.msn + 1 && pr.template) {
        // LL-DASH: request the segment being produced, availabilityTimeOffset ahead of its end
        const start = lastSeg.presentationTime + lastSeg.duration;
        const availableAt = this.ast + (start + this.segmentSec - this.ato) * 1000;
        await this.http.wait(availableAt - Date.now(), signal);
        return {
          // named by the template: no MPD lists it yet
          url: segmentUrl(pr.template, this.cursors.number(id, pr.key, cursor.msn), start),
          kind: 'segment',
          durationSec: this.segmentSec,
          independent: true,
          programDateTimeMs: this.ast + start * 1000,
          next: { msn: cursor.msn + 1, part: 0 },
          initUrl: pr.initUrl,
        };
      }
      const due = this.refreshDueAt();
      const now = this.now();
      if (due > now) await this.http.wait(due - now, signal);
      await this.refresh(signal, reloadBegunAt(due, this.fetchBegunAt, now));
    }
    throw new StreamedgeError('LOADTEST_STREAM', `MPD never listed segment ${cursor.msn} of ${id}`);
  }
}

/** The Clear Key license URL and default KIDs an MPD names, or undefined (a clear stream, or another key system). */
function clearKeyLicense(xml: string, mpdUrl: string): { url: string; kids: string[] } | undefined {
  const laurl = /<(?:[\w-]+:)?Laurl\b[^>]*>([^<]+)<\/(?:[\w-]+:)?Laurl>/.exec(xml)?.[1];
  if (laurl === undefined) return undefined;
  const kids = [...new Set([...xml.matchAll(/\bcenc:default_KID="([^"]+)"/g)].map((m) => normalizeKid(m[1])))];
  return kids.length > 0 ? { url: new URL(unescapeXml(laurl.trim()), mpdUrl).href, kids } : undefined;
}
