/**
 * DASH for virtual viewers (mpd-parser): static (VOD) and dynamic (live) MPDs with
 * SegmentTemplate (any packager's: numbers, the init segment and the next segment's URL come
 * from each Representation's template, src/dash/segment-template.ts), and LL-DASH: with an
 * availabilityTimeOffset the next segment is requested before it is complete and arrives as
 * it is produced (chunked transfer). SegmentBase (one file per Representation, indexed by a sidx:
 * the on-demand profile) too: a viewer fetches a Representation's index range when it first
 * plays it, as players do, and asks for its segments as byte ranges (src/dash/segment-base.ts).
 */
import { parse } from 'mpd-parser';
import { StreamedgeError } from '../../src/errors.js';
import {
  readSegmentTemplates,
  segmentNumber,
  segmentUrl,
  type SegmentTemplateInfo,
} from '../../src/dash/segment-template.js';
import { segmentsFromIndex, type MpdSegmentBase } from '../../src/dash/segment-base.js';
import { rangeRequest } from '../../src/http/range.js';
import type { HttpGetter } from './http-get.js';
import { reloadBegunAt, scheduleStart } from './reload-schedule.js';
import type { Chunk, Cursor, StreamClient, StreamRendition } from './stream-client.js';

interface DashSegment {
  number: number;
  url: string;
  duration: number;
  /** Seconds from availabilityStartTime (period start included). */
  presentationTime: number;
  /** SegmentBase: the Range header value for its bytes of `url`. */
  range?: string;
}

interface RepState {
  id: string;
  template?: SegmentTemplateInfo;
  initUrl: string;
  segments: Map<number, DashSegment>;
  first: number;
  last: number;
  /** SegmentBase: its index and init segment, until the index is read (then the segments are known). */
  base?: MpdSegmentBase;
  initRange?: string;
}

/** The parts of an mpd-parser manifest this client reads. */
interface MpdSegment {
  resolvedUri?: string;
  duration?: number;
  presentationTime?: number;
  map?: { resolvedUri?: string };
}

interface MpdPlaylist {
  attributes?: { NAME?: string; BANDWIDTH?: number; RESOLUTION?: { width?: number; height?: number } };
  segments?: MpdSegment[];
  sidx?: MpdSegmentBase;
}

interface MpdManifest {
  playlists?: MpdPlaylist[];
  mediaGroups?: { AUDIO?: Record<string, Record<string, { playlists?: MpdPlaylist[] }>> };
}

const attr = (xml: string, name: string): string | undefined => new RegExp(`\\b${name}="([^"]*)"`).exec(xml)?.[1];

/** ISO 8601 duration (PT1.5S, PT2M) → seconds. */
function xsDurationSec(v: string | undefined): number | undefined {
  if (!v) return undefined;
  const m = /^P(?:(\d+(?:\.\d+)?)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?$/.exec(v);
  if (!m) return undefined;
  return Number(m[1] ?? 0) * 86400 + Number(m[2] ?? 0) * 3600 + Number(m[3] ?? 0) * 60 + Number(m[4] ?? 0);
}

export class DashClient implements StreamClient {
  readonly protocol = 'dash' as const;
  live = false;
  lowLatency = false;
  targetLatencySec?: number;
  segmentSec = 2;
  video: StreamRendition[] = [];
  audio?: StreamRendition;
  private ast = 0;
  private ato = 0;
  private minimumUpdatePeriodSec = 2;
  /**
   * When the fetch that gave the MPD we hold began (performance.now() ms, or the clock given):
   * its due time when it was a scheduled refresh (see refreshDueAt).
   */
  private fetchBegunAt = 0;
  private readonly reps = new Map<string, RepState>();
  private readonly now: () => number;
  private readonly joinAt: number | undefined;

  constructor(
    private readonly http: HttpGetter,
    private readonly url: string,
    o: {
      now?: () => number;
      /** When the viewer was due to join (its refresh schedule starts then; default: when open() runs). */
      joinAt?: number;
    } = {},
  ) {
    this.now = o.now ?? (() => performance.now());
    this.joinAt = o.joinAt;
  }

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
    const m: MpdManifest = parse(xml, { manifestUri: this.url, NOW: Date.now(), clientOffset: 0 });
    this.fetchBegunAt = begunAt;
    this.live = attr(xml, 'type') === 'dynamic';
    const ast = attr(xml, 'availabilityStartTime');
    this.ast = ast ? Date.parse(ast) : 0;
    this.ato = Number(attr(xml, 'availabilityTimeOffset') ?? 0) || 0;
    this.lowLatency = this.live && this.ato > 0;
    this.minimumUpdatePeriodSec = xsDurationSec(attr(xml, 'minimumUpdatePeriod')) ?? 2;
    const latencyTarget = /<Latency\b[^>]*\btarget="(\d+)"/.exec(xml)?.[1];
    this.targetLatencySec = latencyTarget
      ? Number(latencyTarget) / 1000
      : xsDurationSec(attr(xml, 'suggestedPresentationDelay'));
    // each Representation's SegmentTemplate, by id (mpd-parser numbers segments from 0 whatever the MPD says)
    const templates = readSegmentTemplates(xml, this.url);
    const video = m.playlists ?? [];
    this.video = video.map((p) => {
      const a: NonNullable<MpdPlaylist['attributes']> = p.attributes ?? {};
      return {
        id: String(a.NAME),
        kind: 'video' as const,
        bitrate: Number(a.BANDWIDTH) || 1,
        width: a.RESOLUTION?.width,
        height: a.RESOLUTION?.height,
      };
    });
    video.forEach((p) => this.ingest(String(p.attributes?.NAME), p, templates.get(String(p.attributes?.NAME))));
    for (const group of Object.values(m.mediaGroups?.AUDIO ?? {})) {
      const first = Object.values(group)[0];
      const pl = first?.playlists?.[0];
      if (pl) {
        this.audio = {
          id: String(pl.attributes?.NAME),
          kind: 'audio',
          bitrate: Number(pl.attributes?.BANDWIDTH) || 128_000,
        };
        this.ingest(this.audio.id, pl, templates.get(this.audio.id));
        break;
      }
    }
    const anyRep = [...this.reps.values()][0];
    const anySeg = anyRep ? anyRep.segments.get(anyRep.first) : undefined;
    if (anySeg) this.segmentSec = anySeg.duration;
  }

  private ingest(id: string, p: MpdPlaylist, template: SegmentTemplateInfo | undefined): void {
    const segments = new Map<number, DashSegment>();
    let first = Infinity;
    let last = -1;
    // a live MPD that lists no segment yet still names the init segment in its template
    let initUrl = template?.initUrl ?? '';
    (p.segments ?? []).forEach((s, i) => {
      const url = String(s.resolvedUri);
      const n = template ? segmentNumber(template, i, Number(s.presentationTime ?? 0)) : i;
      segments.set(n, {
        number: n,
        url,
        duration: Number(s.duration),
        presentationTime: Number(s.presentationTime ?? 0),
      });
      first = Math.min(first, n);
      last = Math.max(last, n);
      if (s.map?.resolvedUri) initUrl = s.map.resolvedUri;
    });
    const base = p.sidx && segments.size === 0 ? p.sidx : undefined;
    const initRange = base?.map?.byterange;
    this.reps.set(id, {
      id,
      template,
      initUrl: base ? base.map?.resolvedUri || base.resolvedUri : initUrl,
      segments,
      first: Number.isFinite(first) ? first : 0,
      last,
      ...(base ? { base } : {}),
      ...(initRange ? { initRange: rangeRequest(initRange.offset, initRange.length) } : {}),
    });
  }

  /** SegmentBase: reads the Representation's sidx (its index range) into its segments, once. */
  private async readIndex(r: RepState, signal: AbortSignal): Promise<void> {
    const base = r.base;
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
    indexed.forEach((x, n) =>
      r.segments.set(n, {
        number: n,
        url: base.resolvedUri,
        duration: x.durationSec,
        presentationTime: x.startSec,
        range: rangeRequest(x.range.offset, x.range.length),
      }),
    );
    r.first = 0;
    r.last = indexed.length - 1;
    r.base = undefined;
    if (indexed[0] && r.id === this.video[0]?.id) this.segmentSec = indexed[0].durationSec;
  }

  async startCursor(id: string, signal: AbortSignal): Promise<Cursor> {
    const r = this.rep(id);
    if (r.base) await this.readIndex(r, signal);
    if (!this.live) return { msn: r.first, part: 0 };
    const back = Math.ceil((this.targetLatencySec ?? 3 * this.segmentSec) / this.segmentSec);
    return { msn: Math.max(r.first, r.last - back + 1 + (this.lowLatency ? 1 : 0)), part: 0 };
  }

  /**
   * Audio and video segments start at the same times (CMAF), but a packager may number them apart
   * (another startNumber): the audio segment that starts where video segment `video.msn` does.
   */
  audioCursor(video: Cursor): Cursor {
    const v = this.reps.get(this.video[0]?.id ?? '');
    const a = this.audio && this.reps.get(this.audio.id);
    const vs = v?.segments.get(v.first);
    const as = a?.segments.get(a.first);
    if (!vs || !as || !(vs.duration > 0) || !(as.duration > 0)) return video;
    const t = vs.presentationTime + (video.msn - v!.first) * vs.duration;
    return { msn: as.number + Math.round((t - as.presentationTime) / as.duration), part: 0 };
  }

  private rep(id: string): RepState {
    const r = this.reps.get(id);
    if (!r) throw new StreamedgeError('LOADTEST_STREAM', `no Representation ${id} in ${this.url}`);
    return r;
  }

  async chunkAt(id: string, cursor: Cursor, signal: AbortSignal): Promise<Chunk | null> {
    for (let guard = 0; guard < 10_000; guard++) {
      const r = this.rep(id);
      if (r.base) await this.readIndex(r, signal);
      const n = Math.max(cursor.msn, r.first);
      const seg = r.segments.get(n);
      if (seg) {
        return {
          url: seg.url,
          kind: 'segment',
          durationSec: seg.duration,
          independent: true,
          programDateTimeMs: this.live ? this.ast + seg.presentationTime * 1000 : undefined,
          next: { msn: n + 1, part: 0 },
          initUrl: r.initUrl,
          ...(seg.range ? { range: seg.range } : {}),
          ...(r.initRange ? { initRange: r.initRange } : {}),
        };
      }
      if (!this.live) return null;
      const lastSeg = r.segments.get(r.last);
      if (this.lowLatency && lastSeg && n === r.last + 1 && r.template) {
        // LL-DASH: request the segment being produced, availabilityTimeOffset ahead of its end
        const start = lastSeg.presentationTime + lastSeg.duration;
        const availableAt = this.ast + (start + this.segmentSec - this.ato) * 1000;
        await this.http.wait(availableAt - Date.now(), signal);
        return {
          // named by the template: no MPD lists it yet
          url: segmentUrl(r.template, n, start),
          kind: 'segment',
          durationSec: this.segmentSec,
          independent: true,
          programDateTimeMs: this.ast + start * 1000,
          next: { msn: n + 1, part: 0 },
          initUrl: r.initUrl,
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
