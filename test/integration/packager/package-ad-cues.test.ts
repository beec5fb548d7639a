/**
 * `package --ad-cues` through the real CLI and ffmpeg: each cue is a frame-accurate splice point
 * (a key frame in every video rendition, seen by ffprobe in the decoded files, and a segment that
 * starts with it), and the markers a server-side ad inserter reads are in both manifests: HLS
 * EXT-X-DATERANGE with the SCTE 35 splice_insert (dated from the playlist's
 * EXT-X-PROGRAM-DATE-TIME), DASH an EventStream of the same sections, valid against the schema.
 * Cues that cannot be placed are refused before anything is encoded or published.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixture } from '../../../media-fixtures/generate.js';
import { ffprobePath } from '../../../src/media/ffmpeg-binaries.js';
import { decodeSpliceInfo, fromHexSequence } from '../../../src/scte35/splice-info.js';
import { validateMpd } from '../../support/xml-validate.js';
import { expectEachRefused, listing, runCli } from './cli-run.js';
import { run } from './verify-package.js';

let dir = '';
let version = '';
let stdout = '';
let source = '';

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'streamedge-adcues-'));
  source = await fixture('sample'); // 8 s of 720p at 30 fps with AAC
  const r = await runCli([
    'package',
    source,
    ...['--out', join(dir, 'root'), '--id', 'show', '--ladder', 'small', '--segment', '2', '--part', '0.5'],
    ...['--ad-cues', '3.3,5+1.2'],
  ]);
  expect(r.code, r.stderr).toBe(0);
  stdout = r.stdout;
  version = join(dir, 'root', 'show', 'v1');
}, 180_000);

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** Each segment's start (s) and file, from a media playlist's EXTINFs. */
function segmentsOf(playlist: string): { start: number; uri: string }[] {
  const out: { start: number; uri: string }[] = [];
  let t = 0;
  const lines = playlist.split('\n');
  lines.forEach((line, i) => {
    const m = /^#EXTINF:([\d.]+),/.exec(line);
    if (!m) return;
    out.push({ start: Math.round(t * 1000) / 1000, uri: lines[i + 1] });
    t += Number(m[1]);
  });
  return out;
}

/** The URI of the first segment after line `i` of a media playlist. */
function segmentAfter(lines: string[], i: number): string | undefined {
  return lines.slice(i).find((l) => l.endsWith('.m4s') && !l.startsWith('#'));
}

/** `KEY=value` attributes of a tag line (quoted values unquoted). */
function attributes(line: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of line.slice(line.indexOf(':') + 1).matchAll(/([A-Z0-9-]+)=("[^"]*"|[^,]*)/g)) {
    out[m[1]] = m[2].replace(/^"|"$/g, '');
  }
  return out;
}

describe('package --ad-cues', () => {
  it('says where the cues went', () => {
    expect(stdout).toContain('ad cues (key frames, SCTE 35 in HLS and DASH): 3.300 s, 5.000–6.200 s');
  });

  it.each(['360p', '240p'])(
    '%s: a segment starts at each splice point, on a key frame ffprobe sees; the grid elsewhere, none a sliver',
    async (id) => {
      const playlist = readFileSync(join(version, id, 'index.m3u8'), 'utf8');
      const segments = segmentsOf(playlist);
      // the grid (2 s) with the cues: 6 s is dropped for the break's end at 6.2, less than a part away
      expect(segments.map((s) => s.start)).toEqual([0, 2, 3.3, 4, 5, 6.2]);
      const joined = join(dir, `${id}.mp4`);
      writeFileSync(
        joined,
        Buffer.concat([
          readFileSync(join(version, id, 'init.mp4')),
          ...segments.map((s) => readFileSync(join(version, id, s.uri))),
        ]),
      );
      const probe = await run(ffprobePath(), [
        ...['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'packet=pts_time,flags', '-of', 'csv=p=0'],
        joined,
      ]);
      expect(probe.code, probe.stderr).toBe(0);
      const keys = probe.stdout
        .trim()
        .split('\n')
        .map((l) => l.split(','))
        .filter(([, flags]) => flags.startsWith('K'))
        .map(([pts]) => Number(pts));
      expect(keys).toEqual([0, 2, 3.3, 4, 5, 6.2]);
    },
  );

  it('audio: each segment starts within half an AAC frame of the video’s, and the whole decodes as the source’s 8 s', async () => {
    const segments = segmentsOf(readFileSync(join(version, 'audio', 'index.m3u8'), 'utf8'));
    const video = [0, 2, 3.3, 4, 5, 6.2];
    expect(segments).toHaveLength(video.length);
    // an AAC frame is 1024 samples at 48 kHz: 21.3 ms; the encoder's fragments are 0.5 s, cut to the
    // sample (starts here are summed EXTINFs, rounded to the ms: half a frame plus that)
    segments.forEach((s, i) => expect(Math.abs(s.start - video[i])).toBeLessThanOrEqual(512 / 48_000 + 0.001));
    const joined = join(dir, 'audio.mp4');
    writeFileSync(
      joined,
      Buffer.concat([
        readFileSync(join(version, 'audio', 'init.mp4')),
        ...segments.map((s) => readFileSync(join(version, 'audio', s.uri))),
      ]),
    );
    const probe = await run(ffprobePath(), [
      ...['-v', 'error', '-show_entries', 'packet=pts_time', '-of', 'csv=p=0'],
      joined,
    ]);
    expect(probe.code, probe.stderr).toBe(0);
    const pts = probe.stdout.trim().split('\n').map(Number);
    // one frame after another, none lost or doubled where the fragments were split
    pts.slice(1).forEach((t, i) => expect(t - pts[i]).toBeCloseTo(1024 / 48_000, 5));
    expect(pts.length * (1024 / 48_000)).toBeCloseTo(8, 1);
  });

  it('HLS: EXT-X-DATERANGE per cue with its splice_insert, dated from the playlist’s PROGRAM-DATE-TIME', () => {
    for (const id of ['360p', 'audio']) {
      const lines = readFileSync(join(version, id, 'index.m3u8'), 'utf8').split('\n');
      const pdt = lines.filter((l) => l.startsWith('#EXT-X-PROGRAM-DATE-TIME:'));
      expect(pdt).toHaveLength(1); // on the first segment: a DATERANGE needs one
      const zero = Date.parse(pdt[0].slice(pdt[0].indexOf(':') + 1));
      const ranges = lines.filter((l) => l.startsWith('#EXT-X-DATERANGE:')).map(attributes);
      expect(ranges.map((r) => [r.ID, Date.parse(r['START-DATE']) - zero])).toEqual([
        ['splice-1', 3300],
        ['splice-1', 3300],
        ['splice-2', 5000],
        ['splice-2', 5000],
      ]);
      // the splice point: out and back in at once; the break: planned and actual 1.2 s
      expect(ranges[1]).toMatchObject({ DURATION: '0', 'END-DATE': ranges[0]['START-DATE'] });
      expect(ranges[2]['PLANNED-DURATION']).toBe('1.2');
      expect(ranges[3]).toMatchObject({ DURATION: '1.2' });
      expect(Date.parse(ranges[3]['END-DATE']) - zero).toBe(6200);
      const out1 = decodeSpliceInfo(fromHexSequence(ranges[0]['SCTE35-OUT'])).spliceInsert!;
      expect(out1).toMatchObject({ spliceEventId: 1, outOfNetwork: true, ptsTime: 3.3 * 90_000 });
      expect(out1.breakDuration).toBeUndefined();
      const out2 = decodeSpliceInfo(fromHexSequence(ranges[2]['SCTE35-OUT'])).spliceInsert!;
      expect(out2).toMatchObject({
        spliceEventId: 2,
        outOfNetwork: true,
        ptsTime: 5 * 90_000,
        breakDuration: { autoReturn: true, duration: 1.2 * 90_000 },
      });
      const in2 = decodeSpliceInfo(fromHexSequence(ranges[3]['SCTE35-IN'])).spliceInsert!;
      expect(in2).toMatchObject({ spliceEventId: 2, outOfNetwork: false, ptsTime: 6.2 * 90_000 });
    }
  });

  it('DASH: one SCTE 35 EventStream in the Period (the entry point’s MPD too), schema-valid', async () => {
    for (const mpd of [join(version, 'manifest.mpd'), join(dir, 'root', 'show', 'manifest.mpd')]) {
      const xml = readFileSync(mpd, 'utf8');
      const stream =
        /<EventStream schemeIdUri="urn:scte:scte35:2014:xml\+bin" timescale="1000">([\s\S]*?)<\/EventStream>/.exec(xml);
      expect(stream, xml).not.toBeNull();
      const events = [...stream![1].matchAll(/<Event presentationTime="(\d+)"(?: duration="(\d+)")? id="(\d+)">/g)].map(
        (m) => [Number(m[1]), m[2] === undefined ? undefined : Number(m[2]), Number(m[3])],
      );
      expect(events).toEqual([
        [3300, 0, 2],
        [3300, undefined, 3],
        [5000, 1200, 4],
        [6200, undefined, 5],
      ]);
      const binaries = [...stream![1].matchAll(/<Binary>([^<]+)<\/Binary>/g)].map(
        (m) => decodeSpliceInfo(Buffer.from(m[1], 'base64')).spliceInsert!,
      );
      expect(binaries.map((s) => [s.spliceEventId, s.outOfNetwork, s.ptsTime])).toEqual([
        [1, true, 3.3 * 90_000],
        [1, false, 3.3 * 90_000],
        [2, true, 5 * 90_000],
        [2, false, 6.2 * 90_000],
      ]);
      const v = await validateMpd(xml);
      expect(v.valid, v.errors).toBe(true);
    }
  });

  it('refuses interstitials without cues, with a relative URL, named twice, restricted otherwise than skip and jump, a post-roll without one, or cue tags with no break', async () => {
    const cases: [string[], RegExp][] = [
      [['--interstitial', 'https://ads.example/pod.m3u8'], /--interstitial and --interstitial-list need --ad-cues/],
      [
        ['--ad-cues', '3', '--interstitial', 'ads/pod.m3u8'],
        /--interstitial must be an absolute http\(s\) URL, got "ads\/pod.m3u8"/,
      ],
      [
        ['--ad-cues', '3', '--interstitial', 'https://a.example/x.m3u8', '--interstitial-list', 'https://a.example/l'],
        /--interstitial and --interstitial-list: give one of the two/,
      ],
      [['--ad-cues', '3', '--interstitial-restrict', 'jump'], /--interstitial-restrict needs --interstitial/],
      [['--ad-cues', '3,end'], /--ad-cues end \(a post-roll\) needs --interstitial or --interstitial-list/],
      [['--ad-cues', '3', '--hls-cue-tags'], /--hls-cue-tags marks breaks .* and there is none/],
      [
        ['--ad-cues', '3', '--interstitial', 'https://a.example/x.m3u8', '--interstitial-restrict', 'skip,seek'],
        /--interstitial-restrict: "seek" is not skip or jump/,
      ],
    ];
    for (const [flags, message] of cases) {
      const out = join(dir, `bad-interstitial-${cases.findIndex((c) => c[0] === flags)}`);
      const r = await runCli(['package', source, '--out', out, '--id', 'm', '--ladder', 'small', ...flags]);
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr).toMatch(message);
      expect(listing(out)).toEqual([]);
    }
  }, 120_000);

  it('--dash-periods cues: a Period from each cue and return, in the version’s MPD and the entry point’s, schema-valid; restricted interstitials, a post-roll, cue tags', async () => {
    const out = join(dir, 'periods');
    const r = await runCli([
      'package',
      source,
      ...['--out', out, '--id', 'show', '--ladder', 'small', '--segment', '2', '--part', '0.5'],
      ...['--ad-cues', '3.3,5+1.2,end', '--dash-periods', 'cues'],
      ...['--interstitial', 'https://ads.example/pod.m3u8', '--interstitial-restrict', 'skip,jump'],
      '--hls-cue-tags',
    ]);
    expect(r.code, r.stderr).toBe(0);
    for (const mpd of [join(out, 'show', 'v1', 'manifest.mpd'), join(out, 'show', 'manifest.mpd')]) {
      const xml = readFileSync(mpd, 'utf8');
      const periods = [...xml.matchAll(/<Period id="(\d)" start="([^"]+)" duration="([^"]+)">/g)].map((m) =>
        m.slice(1),
      );
      expect(periods).toEqual([
        ['0', 'PT0S', 'PT3.3S'],
        ['1', 'PT3.3S', 'PT1.7S'],
        ['2', 'PT5S', 'PT1.2S'],
        ['3', 'PT6.2S', 'PT1.8S'],
      ]);
      // the video's segments across the Periods: each once, in order, from the one that starts there
      const numbers = [...xml.matchAll(/contentType="video"[\s\S]*?startNumber="(\d+)"/g)].map((m) => Number(m[1]));
      expect(numbers).toEqual([1, 3, 5, 6]); // 0–2–3.3 | 3.3–4–5 | 5–6.2 (6 s is too near the return) | 6.2–8
      const v = await validateMpd(xml);
      expect(v.valid, v.errors).toBe(true);
    }
    // the interstitials, restricted as asked
    const playlist = readFileSync(join(out, 'show', 'v1', '360p', 'index.m3u8'), 'utf8');
    const interstitials = playlist.split('\n').filter((l) => l.includes('CLASS="com.apple.hls.interstitial"'));
    expect(interstitials.map((l) => /ID="([^"]+)"/.exec(l)![1])).toEqual(['ad-1', 'ad-2', 'ad-post']);
    for (const line of interstitials) expect(line).toContain(',X-RESTRICT="SKIP,JUMP"');
    // the post-roll (end): after the programme's 8 s, no splice point (the Periods above are the same)
    expect(interstitials[2]).toContain(',CUE="POST",');
    expect(r.stdout).toContain('ad cues: a post-roll interstitial after the programme (CUE="POST")');
    // --hls-cue-tags: the 1.2 s break on its segments, video and audio (the splice point at 3.3 s has none)
    for (const id of ['360p', 'audio']) {
      const lines = readFileSync(join(out, 'show', 'v1', id, 'index.m3u8'), 'utf8').split('\n');
      const tagged = lines.flatMap((l, i) =>
        /^#EXT(-X-CUE|-OATCLS)/.test(l) ? [[l.split(':')[0], segmentAfter(lines, i)]] : [],
      );
      expect(tagged).toEqual([
        ['#EXT-OATCLS-SCTE35', 'seg-5.m4s'],
        ['#EXT-X-CUE-OUT', 'seg-5.m4s'],
        ['#EXT-OATCLS-SCTE35', 'seg-6.m4s'],
        ['#EXT-X-CUE-IN', 'seg-6.m4s'],
      ]);
      expect(lines).toContain('#EXT-X-CUE-OUT:1.200');
    }
    // the rest of HLS is the same as without them (but for the dates, which are the packaging's second)
    const undated = (file: string) =>
      readFileSync(file, 'utf8')
        .replace(/#EXT-X-DATERANGE:ID="ad-.*\n|#EXT(-X-CUE|-OATCLS).*\n/g, '')
        .replace(/#EXT-X-PROGRAM-DATE-TIME:.*|(?:START|END)-DATE="[^"]*"/g, '');
    expect(undated(join(out, 'show', 'v1', '360p', 'index.m3u8'))).toBe(undated(join(version, '360p', 'index.m3u8')));
  }, 120_000);

  it('refuses --dash-periods without cues, with subtitles, or of another kind', async () => {
    const vtt = join(dir, 'en.vtt');
    writeFileSync(vtt, 'WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nHello\n');
    const cases: [string[], RegExp][] = [
      [['--dash-periods', 'cues'], /--dash-periods cues needs --ad-cues/],
      [['--ad-cues', '3', '--dash-periods', 'many'], /--dash-periods many: use single or cues/],
      [
        ['--ad-cues', '3', '--dash-periods', 'cues', '--subtitles', `en=${vtt}`],
        /--dash-periods cues with --subtitles: .*package them with --dash-periods single/,
      ],
    ];
    for (const [i, [flags, message]] of cases.entries()) {
      const out = join(dir, `bad-periods-${i}`);
      const r = await runCli(['package', source, '--out', out, '--id', 'm', '--ladder', 'small', ...flags]);
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr).toMatch(message);
      expect(listing(out)).toEqual([]);
    }
  }, 120_000);

  it('refuses cues it cannot place, before encoding, publishing nothing', async () => {
    await expectEachRefused(join(dir, 'bad'), source, '--ad-cues', [
      [['ten'], /--ad-cues: "ten" is not a cue; use seconds from the start/],
      [['9'], /--ad-cues: the cue at 9 s is not inside the programme \(0 to 8\.00 s\)/],
      [
        ['0+5'],
        /--ad-cues: the break at 0 s \(\+5 s\) would replace the programme's start; a pre-roll is the splice point 0/,
      ],
      [['6+3'], /--ad-cues: the break at 6 s \(\+3 s\) ends at 9 s, not before the programme's end/],
      [
        ['3,3.4'],
        /--ad-cues: the cue at 3\.4 s is 0\.400 s after the cue at 3 s; splice points must be at least a part \(1 s\) apart/,
      ],
      [['2+2,4.5'], /--ad-cues: the cue at 4\.5 s is 0\.500 s after the end of the break at 2 s \(\+2 s\)/],
      [['5+0'], /--ad-cues: the break "5\+0" lasts no time/],
    ]);
  }, 120_000);
});
