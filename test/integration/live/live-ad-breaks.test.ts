/**
 * Ad breaks on a real live channel (ffmpeg lavfi source, 1 s segments, real origin on loopback):
 * cued through the origin's ad-break API (and its CLI), they are in every media playlist as
 * EXT-X-DATERANGE (SCTE35-OUT, then SCTE35-IN with END-DATE and DURATION), as HLS Interstitials
 * (`--live-interstitial-list`) and CUE-OUT/CUE-IN segment tags (`--live-cue-tags`), and in the MPD
 * as an SCTE 35 EventStream. The break starts on a segment the playlist then lists, at exactly that
 * segment's PROGRAM-DATE-TIME; the MPD's Event falls at the same instant and validates against
 * the schema. The API refuses what it must (no or a wrong credential, a bad duration, a second
 * break while one is open, an unknown channel), an early return ends a break at the next
 * boundary, and an origin restarted on the same root still lists the breaks.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { decodeSpliceInfo, fromHexSequence } from '../../../src/scte35/splice-info.js';
import { validateMpd } from '../../support/xml-validate.js';
import { TEST_SOURCE, startLiveOrigin, until, writeTinyLadder, type LiveOrigin } from './live-helpers.js';
import type { ChannelConfig } from '../../../packager/origin/server.js';
import { interstitialSource } from '../../../src/cli/interstitial-options.js';

const run = promisify(execFile);
const CREDENTIAL = 'cue-credential-for-tests-0123456789';
const ADS = 'https://ads.example/list?slot=live';
let dir: string;
let root: string;
let channel: ChannelConfig;
let o: LiveOrigin;

interface BreakView {
  eventId: number;
  id: string;
  startDate: string;
  startsWithSegment: number;
  plannedDuration: number;
  scte35Out: string;
  endDate?: string;
  duration?: number;
  returnsAtSegment?: number;
  scte35In?: string;
}

/** An ad given to one break through the API. */
const SPECIAL = 'https://ads.example/special/master.m3u8';

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'se-live-ads-'));
  root = join(dir, 'root');
  mkdirSync(root);
  channel = {
    id: 'ch',
    source: TEST_SOURCE,
    segmentDuration: 1,
    partDuration: 0.5,
    dvrWindow: 30,
    ladder: writeTinyLadder(dir),
    hlsCueTags: true, // `--live-cue-tags`
    // `--live-interstitial-list … --live-interstitial-restrict jump`, parsed as the CLI parses it
    interstitial: interstitialSource({ list: ADS, restrict: 'jump' }, '--live-interstitial'),
  };
  o = await startLiveOrigin(root, [channel], {}, { cueCredential: CREDENTIAL });
  await segmentListed('180p', 1);
}, 60_000);

afterAll(async () => {
  await o?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function api(
  method: 'GET' | 'POST',
  path: string,
  body?: unknown,
  credential: string | null = CREDENTIAL,
): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${o.base}/_live/${path}`, {
    method,
    headers: {
      ...(credential !== null ? { authorization: `Bearer ${credential}` } : {}),
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

/** The media playlist's text once it lists segment `n` as complete (any number when n is 1: the first). */
async function segmentListed(rendition: string, n: number): Promise<string> {
  return until(
    async () => {
      const r = await o.get(`/live/ch/${rendition}/index.m3u8`);
      if (r.status !== 200) return undefined;
      return n === 1 ? (/#EXTINF/.test(r.text) ? r.text : undefined) : r.text.includes(`\nseg-${n}.m4s`) && r.text;
    },
    30_000,
    `segment ${n} of ${rendition}`,
  );
}

/** The EXT-X-PROGRAM-DATE-TIME the playlist gives segment `n`. */
function pdtOf(playlist: string, n: number): string {
  const lines = playlist.split('\n');
  const at = lines.indexOf(`seg-${n}.m4s`);
  const pdt = lines
    .slice(0, at)
    .reverse()
    .find((l) => l.startsWith('#EXT-X-PROGRAM-DATE-TIME:'));
  return pdt!.slice('#EXT-X-PROGRAM-DATE-TIME:'.length);
}

const dateranges = (playlist: string) =>
  playlist.split('\n').filter((l) => l.startsWith('#EXT-X-DATERANGE:') && !l.includes('com.apple.hls.interstitial'));
const interstitials = (playlist: string) =>
  playlist.split('\n').filter((l) => l.startsWith('#EXT-X-DATERANGE:') && l.includes('com.apple.hls.interstitial'));

describe('ad breaks on a live channel', () => {
  it('the API refuses no credential, a wrong one, a bad duration and an unknown channel', async () => {
    expect((await api('POST', 'ch/ad-breaks', { duration: 2 }, null)).status).toBe(401);
    expect((await api('POST', 'ch/ad-breaks', { duration: 2 }, 'wrong')).status).toBe(401);
    expect((await api('POST', 'ch/ad-breaks', { duration: -1 })).json.error).toMatch(/duration must be/);
    expect((await api('POST', 'ch/ad-breaks', { duration: 'ten' })).status).toBe(400);
    expect((await api('POST', 'ch/ad-breaks', { duration: 2, segment: 0 })).json.error).toMatch(/segment must be/);
    expect((await api('POST', 'ch/ad-breaks', { duration: 2, eventId: 0 })).json.error).toMatch(/eventId must be/);
    expect((await api('POST', 'nope/ad-breaks', { duration: 2 })).status).toBe(404);
    expect((await api('POST', 'ch/ad-breaks/return')).status).toBe(409); // none open
  });

  it('a cued break is in every playlist and the MPD at once, starts on a segment boundary at its PDT, and returns after its duration', async () => {
    const cued = await api('POST', 'ch/ad-breaks', { duration: 2 });
    expect(cued.status).toBe(201);
    const b = cued.json as unknown as BreakView;
    expect(b).toMatchObject({ eventId: 1, id: 'splice-1', plannedDuration: 2 });
    // a second break while this one is open: refused
    expect((await api('POST', 'ch/ad-breaks', { duration: 5 })).status).toBe(409);

    // announced ahead: the segment it starts with is not listed yet
    const video = (await o.get('/live/ch/180p/index.m3u8')).text;
    const audio = (await o.get('/live/ch/audio/index.m3u8')).text;
    expect(video).not.toContain(`\nseg-${b.startsWithSegment}.m4s`);
    const out = `#EXT-X-DATERANGE:ID="splice-1",START-DATE="${b.startDate}",PLANNED-DURATION=2,SCTE35-OUT=${b.scte35Out}`;
    expect(dateranges(video)).toEqual([out]);
    expect(dateranges(audio)).toEqual([out]);
    // --live-interstitial-list: the break as an interstitial too, the ad replacing its 2 s
    const ad =
      `#EXT-X-DATERANGE:ID="ad-1",CLASS="com.apple.hls.interstitial",START-DATE="${b.startDate}",` +
      `X-ASSET-LIST="${ADS}",X-RESUME-OFFSET=2,X-PLAYOUT-LIMIT=2,X-RESTRICT="JUMP"`;
    expect(interstitials(video)).toEqual([ad]);
    expect(interstitials(audio)).toEqual([ad]);
    expect(decodeSpliceInfo(fromHexSequence(b.scte35Out)).spliceInsert).toMatchObject({
      spliceEventId: 1,
      outOfNetwork: true,
      breakDuration: { autoReturn: true, duration: 2 * 90_000 },
    });
    expect((await o.get('/live/ch/manifest.mpd')).text).toMatch(
      /<EventStream schemeIdUri="urn:scte:scte35:2014:xml\+bin"/,
    );

    // once the segment after the break is listed: the return, on the boundary 2 s on
    const end = b.startsWithSegment + 2;
    const later = await segmentListed('180p', end);
    const tags = dateranges(later);
    expect(tags[0]).toBe(out); // unchanged: a whole number of frames per segment
    const back =
      /^#EXT-X-DATERANGE:ID="splice-1",START-DATE="([^"]+)",END-DATE="([^"]+)",DURATION=([\d.]+),SCTE35-IN=(0x[0-9A-F]+)$/.exec(
        tags[1],
      );
    expect(back, tags.join('\n')).not.toBeNull();
    expect(back![1]).toBe(b.startDate);
    // the break's start and end are the PDTs of the segments it starts with and returns at
    expect(pdtOf(later, b.startsWithSegment)).toBe(b.startDate);
    expect(pdtOf(later, end)).toBe(back![2]);
    expect(Number(back![3])).toBe(2);
    const inCue = decodeSpliceInfo(fromHexSequence(back![4])).spliceInsert!;
    expect(inCue).toMatchObject({ spliceEventId: 1, outOfNetwork: false });
    expect(inCue.ptsTime! - decodeSpliceInfo(fromHexSequence(b.scte35Out)).spliceInsert!.ptsTime!).toBe(2 * 90_000);
    expect(dateranges((await o.get('/live/ch/audio/index.m3u8')).text)).toEqual(tags);
    expect(interstitials(later)).toEqual([ad]); // a DATERANGE never changes once given

    // --live-cue-tags: the break on its segments too (the 2 s break over 1 s video segments)
    const section = Buffer.from(b.scte35Out.slice(2), 'hex').toString('base64');
    const cueLines = (playlist: string) =>
      playlist.split('\n').filter((l) => /^#EXT(-X-CUE|-OATCLS)/.test(l) || (l.endsWith('.m4s') && !l.startsWith('#')));
    const videoCues = cueLines(later);
    const at = (n: number) => videoCues.indexOf(`seg-${n}.m4s`);
    expect(videoCues.slice(at(b.startsWithSegment - 1), at(end) + 1)).toEqual([
      `seg-${b.startsWithSegment - 1}.m4s`,
      `#EXT-OATCLS-SCTE35:${section}`,
      '#EXT-X-CUE-OUT:2.000',
      `seg-${b.startsWithSegment}.m4s`,
      `#EXT-X-CUE-OUT-CONT:ElapsedTime=1.000,Duration=2.000,SCTE35=${section}`,
      `seg-${b.startsWithSegment + 1}.m4s`,
      `#EXT-OATCLS-SCTE35:${Buffer.from(back![4].slice(2), 'hex').toString('base64')}`,
      '#EXT-X-CUE-IN',
      `seg-${end}.m4s`,
    ]);
    // the audio's 1.024 s segments are not cut at the video's: the break starts on the one whose
    // start is nearest, and the next (once listed) continues it, half a segment to 1.5 later
    const audioCues = cueLines((await o.get('/live/ch/audio/index.m3u8')).text).filter((l) => l.startsWith('#'));
    expect(audioCues.slice(0, 2)).toEqual([`#EXT-OATCLS-SCTE35:${section}`, '#EXT-X-CUE-OUT:2.000']);
    if (audioCues.length > 2) {
      const elapsed = /^#EXT-X-CUE-OUT-CONT:ElapsedTime=([\d.]+),Duration=2\.000,SCTE35=(.+)$/.exec(audioCues[2]);
      expect(elapsed?.[2], audioCues[2]).toBe(section);
      expect(Number(elapsed![1])).toBeGreaterThanOrEqual(0.512);
      expect(Number(elapsed![1])).toBeLessThan(1.536);
    }

    // the MPD: the start's Event at the same instant (availabilityStartTime + presentationTime),
    // 2 s long, and the return's at the END-DATE; schema-valid
    const mpd = (await o.get('/live/ch/manifest.mpd')).text;
    const ast = Date.parse(/availabilityStartTime="([^"]+)"/.exec(mpd)![1]);
    const ev = /<Event presentationTime="(\d+)" duration="(\d+)" id="2">/.exec(mpd);
    expect(ev).not.toBeNull();
    expect(ast + Number(ev![1])).toBe(Date.parse(b.startDate));
    expect(Number(ev![2])).toBe(2000);
    const ret = /<Event presentationTime="(\d+)" id="3">/.exec(mpd);
    expect(ast + Number(ret![1])).toBe(Date.parse(back![2]));
    const v = await validateMpd(mpd);
    expect(v.errors).toBe('');
  }, 60_000);

  it('an early return ends the open break at the next boundary; the CLI lists the breaks', async () => {
    const b = (await api('POST', 'ch/ad-breaks', { duration: 600 })).json as unknown as BreakView;
    expect(b.eventId).toBe(2);
    const r = await api('POST', 'ch/ad-breaks/return');
    expect(r.status).toBe(200);
    const ended = r.json as unknown as BreakView;
    expect(ended.returnsAtSegment).toBeGreaterThan(b.startsWithSegment);
    expect(ended.duration).toBeLessThan(600);
    const later = await segmentListed('180p', ended.returnsAtSegment!);
    expect(pdtOf(later, ended.returnsAtSegment!)).toBe(ended.endDate);
    expect(dateranges(later).filter((t) => t.includes('"splice-2"'))).toHaveLength(2);

    const credentialFile = join(dir, 'cue-credential');
    writeFileSync(credentialFile, CREDENTIAL);
    const { stdout } = await run(
      process.execPath,
      ['bin/streamedge.js', 'ad-break', o.base, 'ch', '--list', '--cue-credential-file', credentialFile],
      { timeout: 30_000 },
    );
    const listed = JSON.parse(stdout) as { adBreaks: BreakView[] };
    expect(listed.adBreaks.map((x) => [x.id, x.returnsAtSegment !== undefined])).toEqual([
      ['splice-1', true],
      ['splice-2', true],
    ]);
  }, 60_000);

  it('an origin restarted on the same root lists the breaks again, and numbers the next one on', async () => {
    const before = dateranges((await o.get('/live/ch/180p/index.m3u8')).text);
    await o.close();
    o = await startLiveOrigin(root, [channel], {}, { cueCredential: CREDENTIAL });
    const again = await until(
      async () => {
        const r = await o.get('/live/ch/180p/index.m3u8');
        return r.status === 200 && r.text;
      },
      30_000,
      'the restored playlist',
    );
    expect(dateranges(again)).toEqual(before);
    await segmentListed('180p', 1);
    const next = await until(
      async () => {
        const r = await api('POST', 'ch/ad-breaks', { duration: 1 });
        return r.status === 201 && (r.json as unknown as BreakView);
      },
      30_000,
      'a cue on the restarted channel',
    );
    expect(next.eventId).toBe(3);

    // a cue for a later segment under a given splice_event_id (what redundant origins on one clock
    // are sent alike), sent twice: one break, at that segment's PDT
    const listed = (await o.get('/live/ch/180p/index.m3u8')).text;
    const newest = Math.max(...[...listed.matchAll(/^seg-(\d+)\.m4s$/gm)].map((m) => Number(m[1])));
    const ask = { duration: 1, eventId: 900, segment: newest + 4 };
    const first = await until(
      async () => {
        const r = await api('POST', 'ch/ad-breaks', ask);
        return r.status === 201 && (r.json as unknown as BreakView);
      },
      30_000,
      'a cue once break 3 has returned',
    );
    expect(first).toMatchObject({ id: 'splice-900', startsWithSegment: newest + 4 });
    const again2 = await api('POST', 'ch/ad-breaks', ask);
    expect(again2.status).toBe(200);
    expect(again2.json).toEqual(first);
    const at = await segmentListed('180p', newest + 4);
    expect(pdtOf(at, newest + 4)).toBe(first.startDate);
  }, 90_000);

  it('a break cued with its own ad is an interstitial of that ad; the API refuses an ad that is not one', async () => {
    const bad = async (interstitial: unknown) =>
      (await api('POST', 'ch/ad-breaks', { duration: 1, interstitial })).json.error;
    expect(await bad('https://ads.example/x.m3u8')).toMatch(/interstitial must be an object/);
    expect(await bad({})).toMatch(/interstitial needs assetUri or assetList/);
    expect(await bad({ assetUri: 'ads/x.m3u8' })).toMatch(/interstitial\.assetUri must be an absolute http\(s\) URL/);
    expect(await bad({ assetUri: SPECIAL, assetList: ADS })).toMatch(/give one of the two/);
    expect(await bad({ assetUri: SPECIAL, restrict: 'rewind' })).toMatch(
      /interstitial\.restrict: "rewind" is not skip or jump/,
    );

    const own = { assetUri: SPECIAL, restrict: 'skip' };
    const b = await until(
      async () => {
        const r = await api('POST', 'ch/ad-breaks', { duration: 1, interstitial: own });
        return r.status === 201 && (r.json as unknown as BreakView & { interstitial: unknown });
      },
      30_000,
      'a cue once the breaks before have returned',
    );
    expect(b.interstitial).toEqual({ assetUri: SPECIAL, restrict: ['SKIP'] });
    const tags = interstitials((await o.get('/live/ch/180p/index.m3u8')).text);
    expect(tags).toContain(
      `#EXT-X-DATERANGE:ID="ad-${b.eventId}",CLASS="com.apple.hls.interstitial",START-DATE="${b.startDate}",` +
        `X-ASSET-URI="${SPECIAL}",X-RESUME-OFFSET=1,X-PLAYOUT-LIMIT=1,X-RESTRICT="SKIP"`,
    );
    // the breaks cued without one keep the channel's ad
    for (const t of tags.filter((t) => !t.includes(`"ad-${b.eventId}"`))) expect(t).toContain(`X-ASSET-LIST="${ADS}"`);
    // the same cue again (its id, its ad) is the same break; another ad under its id is refused
    const again = await api('POST', 'ch/ad-breaks', {
      duration: 1,
      eventId: b.eventId,
      segment: b.startsWithSegment,
      interstitial: own,
    });
    expect(again.status).toBe(200);
    const other = await api('POST', 'ch/ad-breaks', {
      duration: 1,
      eventId: b.eventId,
      segment: b.startsWithSegment,
      interstitial: { assetList: ADS },
    });
    expect(other.status).toBe(409);

    // the CLI's --interstitial-list / --interstitial-restrict: the same, from the command line
    const credentialFile = join(dir, 'cue-credential');
    writeFileSync(credentialFile, CREDENTIAL);
    const viaCli = await until(
      async () => {
        const r = await run(
          process.execPath,
          [
            ...[
              'bin/streamedge.js',
              'ad-break',
              o.base,
              'ch',
              '--duration',
              '1',
              '--cue-credential-file',
              credentialFile,
            ],
            ...['--interstitial-list', `${ADS}&cli=1`, '--interstitial-restrict', 'jump'],
          ],
          { timeout: 30_000 },
        ).catch(() => undefined); // (409 while the break before has not returned)
        return r && (JSON.parse(r.stdout) as BreakView & { interstitial: unknown });
      },
      30_000,
      'a cue from the CLI',
    );
    expect(viaCli.interstitial).toEqual({ assetList: `${ADS}&cli=1`, restrict: ['JUMP'] });
    expect(interstitials((await o.get('/live/ch/180p/index.m3u8')).text)).toContainEqual(
      expect.stringContaining(`ID="ad-${viaCli.eventId}",CLASS="com.apple.hls.interstitial"`),
    );
  }, 90_000);

  it('an origin without a cue credential answers 403, saying how to turn the API on', async () => {
    const bare = mkdtempSync(join(tmpdir(), 'se-live-ads-off-'));
    const off = await startLiveOrigin(bare, []);
    try {
      const res = await fetch(`${off.base}/_live/ch/ad-breaks`, {
        method: 'POST',
        headers: { authorization: 'Bearer x' },
      });
      expect(res.status).toBe(403);
      expect(((await res.json()) as { error: string }).error).toMatch(/--cue-credential-file/);
    } finally {
      await off.close();
      rmSync(bare, { recursive: true, force: true });
    }
  });
});
