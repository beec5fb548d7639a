/**
 * The instant stub's synthetic live LL-HLS channel (bench/loadtest/stub-live-server.ts serves it):
 * computed from the wall clock, no encoder, no store. Every answer is prepared once, as the bytes
 * that go on the wire: one response buffer per object (a rendition's part, segment, init; the
 * multivariant playlist), one per media playlist version (a new one each part), so serving a
 * request is a route lookup and one socket write. Blocking playlist reloads (_HLS_msn/_HLS_part)
 * and preload-hinted parts are held until the part exists (one timer per part boundary for all
 * held requests), then every waiter gets the same prepared buffer.
 *
 * The channel mirrors the lavfi channel of bench/loadtest-bench.ts: one video rendition (200 kbit/s)
 * and one audio rendition (64 kbit/s), 2 s segments of 4 × 0.5 s parts, a sliding window of
 * 6 segments, EXT-X-PROGRAM-DATE-TIME advancing in real time: the part ending at wall-clock time T
 * carries PDT T − 0.5 s and becomes available at T exactly. Bodies are filler bytes of the
 * rendition's size.
 */

export const STUB = {
  partMs: 500,
  partsPerSegment: 4,
  windowSegments: 6,
  partHoldBackSec: 1.5,
  holdBackSec: 6,
  renditions: [
    { id: 'v', bandwidth: 200_000, codecs: 'avc1.4d400d', resolution: '320x180' },
    { id: 'a', bandwidth: 64_000, codecs: 'mp4a.40.2' },
  ],
} as const;

const SEGMENT_MS = STUB.partMs * STUB.partsPerSegment;
const PLAYLIST_TYPE = 'application/vnd.apple.mpegurl';

/** Media time 0 for a stub starting now: 10 segments ago, on a part boundary, so a full window exists at once. */
export function stubEpochMs(now = Date.now()): number {
  return Math.floor((now - 10 * SEGMENT_MS) / STUB.partMs) * STUB.partMs;
}

const REASONS: Record<number, string> = { 200: 'OK', 400: 'Bad Request', 404: 'Not Found' };

/** The IMF-fixdate of the current second (RFC 9110 5.6.7), made once a second. */
let dateSec = -1;
let dateLine = '';
function currentDateLine(nowMs: number): string {
  const sec = Math.floor(nowMs / 1000);
  if (sec !== dateSec) {
    dateSec = sec;
    dateLine = `date: ${new Date(sec * 1000).toUTCString()}\r\n`;
  }
  return dateLine;
}

/**
 * One prepared response. `wire()` is the whole HTTP/1.1 response (head and body in one buffer),
 * rebuilt only when the second of its Date header changes; the fields are for the HTTP/2 front end.
 */
export class StubAnswer {
  private wired: Buffer | undefined;
  private wiredSec = -1;

  constructor(
    readonly status: number,
    readonly contentType: string | undefined,
    readonly body: Buffer,
    readonly noCache = false,
  ) {}

  wire(nowMs: number): Buffer {
    const line = currentDateLine(nowMs);
    if (this.wired === undefined || this.wiredSec !== dateSec) {
      let head = `HTTP/1.1 ${this.status} ${REASONS[this.status] ?? ''}\r\n${line}`;
      if (this.contentType) head += `content-type: ${this.contentType}\r\n`;
      if (this.noCache) head += 'cache-control: no-cache\r\n';
      head += `content-length: ${this.body.length}\r\n\r\n`;
      this.wired = Buffer.concat([Buffer.from(head, 'latin1'), this.body]);
      this.wiredSec = dateSec;
    }
    return this.wired;
  }

  /** The headers for node:http2's compatibility API. */
  headers(): Record<string, string | number> {
    const h: Record<string, string | number> = { 'content-length': this.body.length };
    if (this.contentType) h['content-type'] = this.contentType;
    if (this.noCache) h['cache-control'] = 'no-cache';
    return h;
  }
}

/** A held request's way back to its connection. */
export interface StubWaiter {
  deliver(a: StubAnswer): void;
  /** The connection is gone (nothing to deliver to). */
  gone(): boolean;
}

const text = (status: number, body: string, type = 'text/plain') =>
  new StubAnswer(status, type, Buffer.from(body), type === PLAYLIST_TYPE);
const NOT_FOUND = new StubAnswer(404, undefined, Buffer.alloc(0));
const BAD_REQUEST = new StubAnswer(400, undefined, Buffer.alloc(0));
const TOO_FAR = text(400, 'too far in the future\n');

interface RenditionAnswers {
  part: StubAnswer;
  segment: StubAnswer;
  init: StubAnswer;
}

/** `_HLS_msn`/`_HLS_part` in a query string (the only query arguments the stub reads, with CMCD). */
const MSN = /(?:^|&)_HLS_msn=([^&]*)/;
const PART = /(?:^|&)_HLS_part=([^&]*)/;
const MEDIA_PATH = /^\/live\/([va])\/(?:(index\.m3u8)|(init\.mp4)|s(\d+)\.m4s|p(\d+)\.(\d+)\.m4s)$/;

export class StubChannel {
  readonly counts: Record<string, number> = {
    playlist: 0,
    part: 0,
    segment: 0,
    init: 0,
    held: 0,
    other: 0,
    connections: 0,
    cmcdQuery: 0,
    cmcdHeaders: 0,
    h2: 0,
  };
  /** The first CMCD data seen (query payloads decoded, or the CMCD-* headers joined), up to 200. */
  readonly cmcd: string[] = [];
  /** Held requests by the global index of the part they wait for: the waiter, and its answer (null: the playlist then current). */
  private readonly held = new Map<number, { w: StubWaiter; a: StubAnswer | null }[]>();
  private timer: NodeJS.Timeout | undefined;
  private cached: { done: number; answer: StubAnswer } | undefined;
  private readonly multivariant: StubAnswer;
  private readonly renditions = new Map<string, RenditionAnswers>();

  /** `epochMs`: epoch ms of part 0's start (media time 0). */
  constructor(readonly epochMs: number) {
    const [v, a] = STUB.renditions;
    this.multivariant = text(
      200,
      [
        '#EXTM3U',
        '#EXT-X-VERSION:9',
        '#EXT-X-INDEPENDENT-SEGMENTS',
        `#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aud",NAME="en",DEFAULT=YES,AUTOSELECT=YES,URI="${a.id}/index.m3u8"`,
        `#EXT-X-STREAM-INF:BANDWIDTH=${v.bandwidth + a.bandwidth},CODECS="${v.codecs},${a.codecs}",RESOLUTION=${v.resolution},AUDIO="aud"`,
        `${v.id}/index.m3u8`,
      ].join('\n'),
      PLAYLIST_TYPE,
    );
    for (const r of STUB.renditions) {
      const bytesPerPart = Math.round((r.bandwidth / 8) * (STUB.partMs / 1000));
      const filler = Buffer.alloc(bytesPerPart * STUB.partsPerSegment, 0x47);
      this.renditions.set(r.id, {
        part: new StubAnswer(200, 'video/mp4', filler.subarray(0, bytesPerPart)),
        segment: new StubAnswer(200, 'video/mp4', filler),
        init: new StubAnswer(200, 'video/mp4', filler.subarray(0, 800)),
      });
    }
  }

  /** Global index of the last complete part (−1 before the first). */
  private producedParts(): number {
    return Math.floor((Date.now() - this.epochMs) / STUB.partMs) - 1;
  }

  /**
   * The answer to a GET of `path` (`query`: what follows `?`, or null; `cmcdHeaders`: the
   * CMCD-* request headers joined, when there are any), or undefined when the request is held:
   * `waiter` gets its answer when the part it waits for exists.
   */
  request(
    path: string,
    query: string | null,
    cmcdHeaders: string | undefined,
    waiter: StubWaiter,
  ): StubAnswer | undefined {
    if (query !== null && query.includes('CMCD=')) {
      this.counts.cmcdQuery++;
      const cq = new URLSearchParams(query).get('CMCD');
      if (cq !== null && this.cmcd.length < 200) this.cmcd.push(cq);
    } else if (cmcdHeaders !== undefined) {
      this.counts.cmcdHeaders++;
      if (this.cmcd.length < 200) this.cmcd.push(cmcdHeaders);
    }
    if (path === '/live/master.m3u8') {
      this.counts.playlist++;
      return this.multivariant;
    }
    if (path === '/stats') return text(200, JSON.stringify({ ...this.counts, pid: process.pid }), 'application/json');
    const m = MEDIA_PATH.exec(path);
    const r = m ? this.renditions.get(m[1]) : undefined;
    if (!m || !r) {
      this.counts.other++;
      return NOT_FOUND;
    }
    if (m[2] !== undefined) {
      this.counts.playlist++;
      const msn = query === null ? null : MSN.exec(query);
      if (msn === null) return this.playlist();
      const part = query === null ? null : PART.exec(query);
      const global = Number(msn[1]) * STUB.partsPerSegment + Number(part ? part[1] : STUB.partsPerSegment - 1);
      if (!Number.isInteger(global) || global < 0) return BAD_REQUEST;
      return this.holdUntil(global, null, waiter);
    }
    if (m[3] !== undefined) {
      this.counts.init++;
      return r.init;
    }
    if (m[4] !== undefined) {
      this.counts.segment++;
      const lastPart = (Number(m[4]) + 1) * STUB.partsPerSegment - 1;
      return lastPart > this.producedParts() ? NOT_FOUND : r.segment;
    }
    this.counts.part++;
    const p = Number(m[6]);
    if (p >= STUB.partsPerSegment) return NOT_FOUND;
    return this.holdUntil(Number(m[5]) * STUB.partsPerSegment + p, r.part, waiter);
  }

  private holdUntil(globalPart: number, a: StubAnswer | null, w: StubWaiter): StubAnswer | undefined {
    const done = this.producedParts();
    if (globalPart <= done) return a ?? this.playlist();
    if (globalPart > done + 3 * STUB.partsPerSegment) return TOO_FAR;
    this.counts.held++;
    let list = this.held.get(globalPart);
    if (!list) this.held.set(globalPart, (list = []));
    list.push({ w, a });
    this.armTimer();
    return undefined;
  }

  private armTimer(): void {
    if (this.timer || this.held.size === 0) return;
    const dueAt = this.epochMs + (this.producedParts() + 2) * STUB.partMs;
    this.timer = setTimeout(() => this.release(), Math.max(0, dueAt - Date.now()));
  }

  private release(): void {
    this.timer = undefined;
    const done = this.producedParts();
    const playlist = this.playlist();
    for (const [k, list] of this.held) {
      if (k > done) continue;
      this.held.delete(k);
      for (const { w, a } of list) if (!w.gone()) w.deliver(a ?? playlist);
    }
    this.armTimer();
  }

  /** The media playlist now (both renditions list the same relative URIs): one prepared answer per version. */
  private playlist(): StubAnswer {
    const done = this.producedParts();
    if (this.cached?.done === done) return this.cached.answer;
    const lastFull = Math.floor((done + 1) / STUB.partsPerSegment) - 1; // last complete segment
    const first = Math.max(0, lastFull - STUB.windowSegments + 1);
    const partSec = (STUB.partMs / 1000).toFixed(3);
    const lines = [
      '#EXTM3U',
      '#EXT-X-VERSION:9',
      `#EXT-X-TARGETDURATION:${SEGMENT_MS / 1000}`,
      `#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=${STUB.partHoldBackSec.toFixed(3)},HOLD-BACK=${STUB.holdBackSec.toFixed(3)}`,
      `#EXT-X-PART-INF:PART-TARGET=${partSec}`,
      `#EXT-X-MEDIA-SEQUENCE:${first}`,
      `#EXT-X-MAP:URI="init.mp4"`,
    ];
    const partLines = (msn: number, upTo: number) => {
      for (let p = 0; p < upTo; p++) {
        lines.push(`#EXT-X-PART:DURATION=${partSec},URI="p${msn}.${p}.m4s"${p === 0 ? ',INDEPENDENT=YES' : ''}`);
      }
    };
    for (let msn = first; msn <= lastFull; msn++) {
      lines.push(`#EXT-X-PROGRAM-DATE-TIME:${new Date(this.epochMs + msn * SEGMENT_MS).toISOString()}`);
      // parts are listed for the last few segments only, as a packager does (RFC 8216bis 6.2.2)
      if (msn > lastFull - 3) partLines(msn, STUB.partsPerSegment);
      lines.push(`#EXTINF:${(SEGMENT_MS / 1000).toFixed(3)},`, `s${msn}.m4s`);
    }
    const cur = lastFull + 1;
    const partsInCur = done + 1 - cur * STUB.partsPerSegment;
    lines.push(`#EXT-X-PROGRAM-DATE-TIME:${new Date(this.epochMs + cur * SEGMENT_MS).toISOString()}`);
    partLines(cur, partsInCur);
    lines.push(`#EXT-X-PRELOAD-HINT:TYPE=PART,URI="p${cur}.${partsInCur}.m4s"`);
    this.cached = { done, answer: text(200, lines.join('\n') + '\n', PLAYLIST_TYPE) };
    return this.cached.answer;
  }

  close(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.held.clear();
  }
}
