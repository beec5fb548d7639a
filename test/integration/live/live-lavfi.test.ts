/**
 * A real live channel (ffmpeg lavfi source, 1 s segments of 0.5 s parts) acting as an LL-HLS
 * and LL-DASH client over loopback.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseMpd } from 'mpd-parser';
import { firstDecodeTime } from '../../../packager/live/decode-time.js';
import {
  TEST_SOURCE,
  completeSegments,
  parseM3u8,
  pidAlive,
  startLiveOrigin,
  until,
  writeTinyLadder,
  type LiveOrigin,
  type M3u8Manifest,
  type MpdManifest,
} from './live-helpers.js';

let dir: string;
let o: LiveOrigin;
let closed = false;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'se-live-'));
  const ladder = writeTinyLadder(dir);
  const root = join(dir, 'root');
  mkdirSync(root);
  o = await startLiveOrigin(root, [
    { id: 'ch', source: TEST_SOURCE, segmentDuration: 1, partDuration: 0.5, dvrWindow: 20, ladder },
  ]);
  await until(
    async () => (await completeSegments(o, 'ch', '180p')) >= 3 && (await completeSegments(o, 'ch', 'audio')) >= 3,
    30_000,
    'three complete segments',
  );
});

afterAll(async () => {
  if (!closed) await o?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** The newest part listed in a parsed playlist, as [msn, part]. */
function newestPart(m: M3u8Manifest): [number, number] {
  const uris: string[] = [
    ...m.segments.flatMap((s) => (s.parts ?? []).map((p) => p.uri)),
    ...(m.preloadSegment?.parts ?? []).map((p) => p.uri),
  ];
  const last = uris[uris.length - 1];
  const mm = /seg-(\d+)\.(\d+)\.m4s/.exec(last)!;
  return [Number(mm[1]), Number(mm[2])];
}

describe('live LL-HLS from a lavfi source', () => {
  it('serves parseable multivariant and media playlists with PDT on every segment and LL-HLS tags', async () => {
    const master = await o.get('/live/ch/master.m3u8');
    expect(master.status).toBe(200);
    const mm = parseM3u8(master.text);
    expect(mm.playlists?.map((p) => p.uri)).toEqual(['180p/index.m3u8']);
    for (const rid of ['180p', 'audio']) {
      const r = await o.get(`/live/ch/${rid}/index.m3u8`);
      expect(r.status).toBe(200);
      const m = parseM3u8(r.text);
      expect(m.segments.length).toBeGreaterThanOrEqual(3);
      expect(m.segments.every((s) => typeof s.programDateTime === 'number')).toBe(true);
      expect(m.partInf.partTarget).toBeGreaterThanOrEqual(0.5);
      expect(m.serverControl.canBlockReload).toBe(true);
      expect(m.serverControl.partHoldBack).toBeGreaterThanOrEqual(3 * m.partInf.partTarget);
      expect(m.preloadSegment?.preloadHints[0].type).toBe('PART');
      expect(m.renditionReports.length).toBe(1);
      // PDTs advance with the media
      const pdt = m.segments.map((s) => s.programDateTime!);
      for (let i = 1; i < pdt.length; i++)
        expect(pdt[i] - pdt[i - 1]).toBeCloseTo(m.segments[i - 1].duration * 1000, -1);
    }
  });

  it('answers a blocking reload for the next part as soon as that part exists (it is the newest part in the answer)', async () => {
    for (let i = 0; i < 3; i++) {
      const m = parseM3u8((await o.get('/live/ch/180p/index.m3u8')).text);
      const [msn, part] = newestPart(m);
      const next: [number, number] = part + 1 < 2 ? [msn, part + 1] : [msn + 1, 0]; // 2 parts per 1 s segment
      const r = await o.get(`/live/ch/180p/index.m3u8?_HLS_msn=${next[0]}&_HLS_part=${next[1]}`);
      expect(r.status).toBe(200);
      expect(newestPart(parseM3u8(r.text))).toEqual(next);
    }
  });

  it('never makes a part fetchable before its PDT end (honest PROGRAM-DATE-TIME)', async () => {
    // Chain blocking reloads for the next part over ~4 s of media; each answer is the first one
    // that lists the part, received no earlier than the part's media end in wall clock (PDT of
    // its segment + durations of the parts up to it). Generous tolerance: PDT is in whole ms and
    // durations in 5 decimals; a real violation (the old first-fragment anchor) was ~1.5 s.
    const TOLERANCE_MS = 250;
    let m = parseM3u8((await o.get('/live/ch/180p/index.m3u8')).text);
    let [msn, part] = newestPart(m);
    const checked: number[] = [];
    for (let i = 0; i < 8; i++) {
      [msn, part] = part + 1 < 2 ? [msn, part + 1] : [msn + 1, 0];
      const r = await o.get(`/live/ch/180p/index.m3u8?_HLS_msn=${msn}&_HLS_part=${part}`);
      const receivedAt = Date.now();
      expect(r.status).toBe(200);
      m = parseM3u8(r.text);
      const segs = [...m.segments, ...(m.preloadSegment ? [m.preloadSegment] : [])];
      let found: number | undefined;
      let nextStart: number | undefined;
      for (const s of segs) {
        const start: number | undefined =
          typeof s.programDateTime === 'number'
            ? s.programDateTime
            : s.dateTimeString
              ? Date.parse(s.dateTimeString)
              : nextStart;
        let t = start!;
        for (const p of s.parts ?? []) {
          t += p.duration * 1000;
          if (p.uri === `seg-${msn}.${part}.m4s`) found = t;
        }
        nextStart = start! + (s.duration ?? 0) * 1000;
      }
      expect(found, `part ${msn}.${part} listed`).toBeDefined();
      expect(
        receivedAt,
        `part ${msn}.${part}: received ${receivedAt - found!} ms after its PDT end`,
      ).toBeGreaterThanOrEqual(found! - TOLERANCE_MS);
      checked.push(receivedAt - found!);
    }
    expect(checked.length).toBe(8);
  });

  it('holds a request for the next part and sends its bytes when the part completes', async () => {
    const m = parseM3u8((await o.get('/live/ch/180p/index.m3u8')).text);
    const [msn, part] = newestPart(m);
    const [n, p] = part + 1 < 2 ? [msn, part + 1] : [msn + 1, 0];
    const held = await o.get(`/live/ch/180p/seg-${n}.${p}.m4s`);
    expect(held.status).toBe(200);
    expect(held.headers['content-type']).toBe('video/iso.segment');
    expect(held.body.subarray(4, 8).toString('latin1')).toBe(p === 0 ? 'styp' : 'moof');
    const again = await o.get(`/live/ch/180p/seg-${n}.${p}.m4s`);
    expect(again.body.equals(held.body)).toBe(true);
  });

  it('streams the segment in progress with chunked transfer; the body is the complete segment', async () => {
    const m = parseM3u8((await o.get('/live/ch/180p/index.m3u8')).text);
    const [msn] = newestPart(m);
    const inProgress = m.segments.some((s) => s.uri === `seg-${msn}.m4s`) ? msn + 1 : msn;
    const r = await o.get(`/live/ch/180p/seg-${inProgress}.m4s`);
    expect(r.status).toBe(200);
    expect(r.headers['transfer-encoding']).toBe('chunked');
    expect(r.body.subarray(4, 8).toString('latin1')).toBe('styp');
    const whole = await o.get(`/live/ch/180p/seg-${inProgress}.m4s`);
    expect(whole.headers['content-length']).toBe(String(whole.body.length));
    expect(r.body.equals(whole.body)).toBe(true);
  });

  it('serves a dynamic LL-DASH MPD whose segment numbers exist at the advertised times', async () => {
    const r = await o.get('/live/ch/manifest.mpd');
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('application/dash+xml');
    expect(r.text).toContain('type="dynamic"');
    expect(r.text).toMatch(/availabilityTimeOffset="0\.5"/);
    const now = Date.now();
    const mpd = parseMpd(r.text, { manifestUri: `${o.base}/live/ch/manifest.mpd`, NOW: now }) as MpdManifest;
    const ast = Date.parse(/availabilityStartTime="([^"]+)"/.exec(r.text)![1]);
    const video = mpd.playlists[0];
    const audio = Object.values(mpd.mediaGroups.AUDIO.audio)[0].playlists[0];
    for (const pl of [video, audio]) {
      const segs = pl.segments;
      expect(segs.length).toBeGreaterThanOrEqual(3);
      const init = await o.get(new URL(segs[0].map.resolvedUri).pathname);
      expect(init.status).toBe(200);
      const timescale = init.body.readUInt32BE(init.body.indexOf('mdhd') + 16); // mdhd v0: ... creation, modification, timescale
      for (const s of segs.slice(-4)) {
        // available once complete: AST + end of segment - availabilityTimeOffset <= now
        expect(ast + (s.presentationTime + s.duration - 0.5) * 1000).toBeLessThanOrEqual(now + 50);
        const seg = await o.get(new URL(s.resolvedUri).pathname);
        expect(seg.status, s.uri).toBe(200);
        expect(firstDecodeTime(seg.body)! / timescale).toBeCloseTo(s.presentationTime, 3);
      }
      // the next number is already requestable (availabilityTimeOffset): it streams as produced
      const last = segs[segs.length - 1];
      const next = await o.get(new URL(last.resolvedUri.replace(/seg-\d+/, `seg-${last.number + 1}`)).pathname);
      expect(next.status).toBe(200);
      expect(firstDecodeTime(next.body)! / timescale).toBeCloseTo(last.presentationTime + last.duration, 1);
    }
    const time = await o.get('/time');
    expect(Math.abs(Date.parse(time.text) - Date.now())).toBeLessThan(5000);
  });

  it('reports the channel running in /health and /metrics', async () => {
    const h = JSON.parse((await o.get('/health')).text);
    expect(h.channels[0]).toMatchObject({
      id: 'ch',
      state: 'running',
      renditions: expect.arrayContaining(['180p', 'audio']),
    });
    const metrics = (await o.get('/metrics')).text;
    expect(metrics).toContain('streamedge_live_channel_state{channel="ch",state="running"} 1');
    expect(metrics).toMatch(/streamedge_origin_wakeup_seconds_count\{kind="playlist"\} [1-9]/);
  });

  it('stops its ffmpeg child on close (no orphans)', async () => {
    const pid = JSON.parse((await o.get('/health')).text).channels[0].pid as number;
    expect(pidAlive(pid)).toBe(true);
    closed = true;
    await o.close();
    expect(pidAlive(pid)).toBe(false);
  });
});
