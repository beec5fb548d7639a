/**
 * `package --ad-cues source` on an MPEG-TS recording that carries SCTE 35, as a broadcast
 * recording does (ffmpeg's TS with cues put on their own PID, test/support/ts-cue-injector.ts):
 * a splice_insert out and its return, sent twice as playout systems do, and a time_signal
 * placement opportunity with a duration. Each becomes a break whose start and end are key frames
 * in every rendition, on the packaged time line (the cue's PTS less the container's start, which
 * ffmpeg takes off); the source's own section is in the manifests, retimed; a cue past the end is
 * left out and said so. A source that is not MPEG-TS is refused.
 */
import { createReadStream, createWriteStream, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixture } from '../../../media-fixtures/generate.js';
import { ffmpegPath, ffprobePath } from '../../../src/media/ffmpeg-binaries.js';
import { decodeSpliceInfo, encodeSpliceInsert, fromHexSequence } from '../../../src/scte35/splice-info.js';
import { timeSignalSection, TsCueInjector } from '../../support/ts-cue-injector.js';
import { expectEachRefused, runCli } from './cli-run.js';
import { run } from './verify-package.js';

const HZ = 90_000;
let dir = '';
let version = '';
let stdout = '';
/** The cues' media times: the first video PTS less the container's start, plus the offsets asked. */
let shift = 0;
let firstVideoPts = 0;

const insert = (eventId: number, out: boolean, ptsTime: number) =>
  encodeSpliceInsert({
    spliceEventId: eventId,
    outOfNetwork: out,
    ptsTime,
    uniqueProgramId: 1,
    availNum: 0,
    availsExpected: 0,
  });

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'streamedge-srccues-'));
  const plain = join(dir, 'plain.ts');
  const recording = join(dir, 'recording.ts');
  const ff = await run(ffmpegPath(), [
    ...['-hide_banner', '-loglevel', 'error', '-i', await fixture('sample'), '-c', 'copy', '-f', 'mpegts', plain],
  ]);
  expect(ff.code, ff.stderr).toBe(0);
  // every cue goes in after the first video PES, timed from its PTS (playout sends cues ahead)
  const injector = new TsCueInjector();
  const at = (sec: number) => (pts: number) => pts + Math.round(sec * HZ);
  const first = injector.cue((pts) => insert(77, true, at(3.3)(pts)));
  void injector.cue((pts) => insert(77, true, at(3.3)(pts))); // the same cue again
  void injector.cue((pts) => insert(77, false, at(4.5)(pts)));
  void injector.cue((pts) => timeSignalSection(at(6)(pts), { eventId: 5, typeId: 0x34, duration: 1 * HZ }));
  void injector.cue((pts) => insert(78, true, at(20)(pts))); // past the end of the 8 s
  await pipeline(createReadStream(plain), injector, createWriteStream(recording));
  firstVideoPts = await first;
  const probe = await run(ffprobePath(), [
    '-v',
    'error',
    '-show_entries',
    'format=start_time',
    '-of',
    'csv=p=0',
    recording,
  ]);
  shift = firstVideoPts / HZ - Number(probe.stdout.trim());
  const r = await runCli([
    'package',
    recording,
    ...['--out', join(dir, 'root'), '--id', 'rec', '--ladder', 'small', '--segment', '2', '--part', '0.5'],
    ...['--ad-cues', 'source'],
  ]);
  expect(r.code, r.stderr).toBe(0);
  stdout = r.stdout;
  version = join(dir, 'root', 'rec', 'v1');
}, 180_000);

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** Media seconds of the cue put `sec` after the first video PES, to the ms. */
const media = (sec: number) => Math.round((shift + sec) * 1000) / 1000;

describe('package --ad-cues source', () => {
  it('places the two avails (the repeat once), and says what it left out', () => {
    expect(shift).toBeGreaterThanOrEqual(0);
    expect(stdout).toContain(
      `ad cues (key frames, SCTE 35 in HLS and DASH): ${media(3.3).toFixed(3)}–${media(4.5).toFixed(3)} s, ${media(6).toFixed(3)}–${media(7).toFixed(3)} s`,
    );
    expect(stdout).toMatch(/ad cues: the cue at 2\d\.\d{3} s is outside the programme \(0 to 8\.\d\d s\): left out/);
  });

  it('every video rendition has a key frame at each start and end, on the packaged time line', async () => {
    for (const id of ['360p', '240p']) {
      const init = readFileSync(join(version, id, 'init.mp4'));
      const playlist = readFileSync(join(version, id, 'index.m3u8'), 'utf8');
      const files = playlist.split('\n').filter((l) => l.startsWith('seg-'));
      const joined = join(dir, `${id}.mp4`);
      writeFileSync(joined, Buffer.concat([init, ...files.map((f) => readFileSync(join(version, id, f)))]));
      const probe = await run(ffprobePath(), [
        ...['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'packet=pts_time,flags', '-of', 'csv=p=0'],
        joined,
      ]);
      const keys = probe.stdout
        .trim()
        .split('\n')
        .map((l) => l.split(','))
        .filter(([, flags]) => flags.startsWith('K'))
        .map(([pts]) => Math.round(Number(pts) * 1000) / 1000);
      for (const sec of [3.3, 4.5, 6, 7]) expect(keys, `${id} at ${sec}`).toContain(media(sec));
    }
  });

  it('the manifests carry the source’s own sections, retimed to the packaged splice times', () => {
    const lines = readFileSync(join(version, '360p', 'index.m3u8'), 'utf8').split('\n');
    const outs = lines
      .filter((l) => l.startsWith('#EXT-X-DATERANGE:') && l.includes('SCTE35-OUT='))
      .map((l) => decodeSpliceInfo(fromHexSequence(/SCTE35-OUT=(0x[0-9A-F]+)/i.exec(l)![1])));
    expect(outs).toHaveLength(2);
    // the splice_insert: event 77 as the source sent it, its time now the packaged one
    expect(outs[0].spliceInsert).toMatchObject({ spliceEventId: 77, outOfNetwork: true });
    expect((outs[0].spliceInsert!.ptsTime! + outs[0].ptsAdjustment) % 2 ** 33).toBe(Math.round(media(3.3) * HZ));
    // the time_signal with its placement-opportunity descriptor
    expect(outs[1].commandType).toBe(0x06);
    expect((outs[1].timeSignalPts! + outs[1].ptsAdjustment) % 2 ** 33).toBe(Math.round(media(6) * HZ));
    expect(outs[1].descriptors.map((d) => d.tag)).toEqual([0x02]);
  });

  it('refuses a source that is not MPEG-TS, publishing nothing', async () => {
    await expectEachRefused(join(dir, 'bad'), await fixture('sample'), '--ad-cues', [
      [['source'], /--ad-cues source: .*sample-720p30\.mp4 is mov,mp4,.*, not MPEG-TS/],
    ]);
  }, 60_000);
});
