/**
 * A live channel from an HDR10 source (the HEVC Main 10 master fixture, looped in real time as a
 * file source) in `--live-video-codecs h264,hevc`: as in VOD, the HEVC rungs stay HDR (Main 10,
 * BT.2020, PQ, the source's mastering display and content light level in their SEI), the H.264
 * rungs are tone-mapped to SDR BT.709, and the manifests say which is which: VIDEO-RANGE in the
 * multivariant playlist, the colour code points on the MPD's HEVC AdaptationSet. Real ffmpeg,
 * ffprobe and sockets.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixture } from '../../../media-fixtures/generate.js';
import { ffprobePath } from '../../../src/media/ffmpeg-binaries.js';
import { run } from '../packager/verify-package.js';
import { validateMpd } from '../../support/xml-validate.js';
import { completeSegments, startLiveOrigin, until, writeTinyLadder, type LiveOrigin } from './live-helpers.js';

let dir: string;
let o: LiveOrigin;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'se-live-hdr-'));
  const source = await fixture('hdrPqHevc');
  const root = join(dir, 'root');
  mkdirSync(root);
  o = await startLiveOrigin(root, [
    {
      id: 'hdr',
      source,
      segmentDuration: 1,
      partDuration: 0.5,
      dvrWindow: 20,
      ladder: writeTinyLadder(dir),
      videoCodecs: ['h264', 'hevc'],
    },
  ]);
  await until(
    async () => (await completeSegments(o, 'hdr', '180p-hevc')) >= 2 && (await completeSegments(o, 'hdr', '180p')) >= 2,
    60_000,
    'two complete segments of each video rendition',
  );
}, 120_000);

afterAll(async () => {
  await o?.close();
  rmSync(dir, { recursive: true, force: true });
});

interface Probed {
  stream: Record<string, string>;
  /** The first frame's side data (mastering display, content light level). */
  sideData: Record<string, string | number>[];
}

/** ffprobe of a rendition's init segment and its newest complete segment: the stream and its first frame. */
async function probeNewest(rendition: string): Promise<Probed> {
  const playlist = (await o.get(`/live/hdr/${rendition}/index.m3u8`)).text;
  const segments = [...playlist.matchAll(/^(seg-\d+\.m4s)$/gm)].map((m) => m[1]);
  const init = await o.get(`/live/hdr/${rendition}/init.mp4`);
  const seg = await o.get(`/live/hdr/${rendition}/${segments[segments.length - 1]}`);
  expect([init.status, seg.status]).toEqual([200, 200]);
  const file = join(dir, `${rendition}.mp4`);
  writeFileSync(file, Buffer.concat([init.body, seg.body]));
  const ffprobe = async (entries: string): Promise<string> => {
    const r = await run(ffprobePath(), [
      ...['-v', 'error', '-select_streams', 'v:0', '-read_intervals', '%+#1', '-of', 'json'],
      ...['-show_entries', entries, file],
    ]);
    expect(r.code, r.stderr).toBe(0);
    return r.stdout;
  };
  const streams = JSON.parse(
    await ffprobe('stream=codec_name,profile,pix_fmt,color_transfer,color_primaries,color_space'),
  ) as { streams: Record<string, string>[] };
  const frames = JSON.parse(await ffprobe('frame=side_data_list:side_data')) as {
    packets_and_frames?: { type?: string; side_data_list?: Record<string, string | number>[] }[];
  };
  return {
    stream: streams.streams[0],
    sideData: frames.packets_and_frames?.find((e) => e.type === 'frame')?.side_data_list ?? [],
  };
}

describe('a live channel from an HDR10 source, in H.264 and HEVC', () => {
  it('HEVC rungs stay HDR10: Main 10, BT.2020, PQ, with the source mastering display and light level', async () => {
    const p = await probeNewest('180p-hevc');
    expect(p.stream).toMatchObject({
      codec_name: 'hevc',
      profile: 'Main 10',
      pix_fmt: 'yuv420p10le',
      color_transfer: 'smpte2084',
      color_primaries: 'bt2020',
      color_space: 'bt2020nc',
    });
    expect(p.sideData).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          side_data_type: 'Mastering display metadata',
          red_x: '34000/50000',
          max_luminance: '10000000/10000',
        }),
        expect.objectContaining({
          side_data_type: 'Content light level metadata',
          max_content: 1000,
          max_average: 400,
        }),
      ]),
    );
  });

  it('H.264 rungs are tone-mapped to SDR BT.709', async () => {
    const p = await probeNewest('180p');
    expect(p.stream).toMatchObject({
      codec_name: 'h264',
      pix_fmt: 'yuv420p',
      color_transfer: 'bt709',
      color_primaries: 'bt709',
      color_space: 'bt709',
    });
    expect(p.sideData.map((d) => d.side_data_type)).not.toContain('Mastering display metadata');
  });

  it('the multivariant playlist says VIDEO-RANGE=PQ on the HEVC variant (Main 10 CODECS), SDR on the H.264 one', async () => {
    const master = (await o.get('/live/hdr/master.m3u8')).text;
    const lines = master.split('\n');
    const variants = lines.flatMap((l, i) => (l.startsWith('#EXT-X-STREAM-INF:') ? [[l, lines[i + 1]]] : []));
    expect(variants.map(([, uri]) => uri)).toEqual(['180p/index.m3u8', '180p-hevc/index.m3u8']);
    expect(variants[0][0]).toContain('VIDEO-RANGE=SDR');
    expect(variants[1][0]).toContain('VIDEO-RANGE=PQ');
    expect(variants[1][0]).toMatch(/CODECS="hvc1\.2\.4\.L\d+\.\w+"/);
  });

  it('the MPD: PQ colour code points as EssentialProperty on the HEVC AdaptationSet only; schema-valid', async () => {
    const mpd = (await o.get('/live/hdr/manifest.mpd')).text;
    const sets = [...mpd.matchAll(/<AdaptationSet[^>]*contentType="video"[\s\S]*?<\/AdaptationSet>/g)].map((x) => x[0]);
    expect(sets).toHaveLength(2);
    expect(sets[0]).not.toContain('urn:mpeg:mpegB:cicp:');
    for (const [scheme, value] of [
      ['ColourPrimaries', 9],
      ['TransferCharacteristics', 16],
      ['MatrixCoefficients', 9],
    ])
      expect(sets[1]).toContain(`<EssentialProperty schemeIdUri="urn:mpeg:mpegB:cicp:${scheme}" value="${value}"/>`);
    expect((await validateMpd(mpd)).errors).toBe('');
  });
});
