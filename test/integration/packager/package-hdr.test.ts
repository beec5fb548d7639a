/**
 * An HDR10 source (PQ transfer, BT.2020) packages into SDR renditions that say so: tone-mapped to
 * BT.709 before scaling, with BT.709 colour tags in the H.264 stream, matching the VIDEO-RANGE=SDR
 * the playlists list. Before, the source's PQ/BT.2020 tags came out on 8-bit SDR pictures. With
 * HEVC renditions, those stay HDR: Main 10, BT.2020 and PQ in the stream, VIDEO-RANGE=PQ, and the
 * MPD's colour properties on their AdaptationSet. Real ffprobe + ffmpeg + our segmenter.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fixture } from '../../../media-fixtures/generate.js';
import { packageVod } from '../../../packager/vod-job.js';
import { probeSource } from '../../../packager/probe.js';
import { ffprobePath } from '../../../src/media/ffmpeg-binaries.js';
import { run } from './verify-package.js';
import { validateMpd } from '../../support/xml-validate.js';

const root = mkdtempSync(join(tmpdir(), 'se-pkg-hdr-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** `input` packaged as asset "hdr" under `out`: the small ladder in H.264 and HEVC, 2 s segments. */
async function packageBothCodecs(input: string, out: string): Promise<void> {
  await packageVod({
    input,
    outDir: out,
    assetId: 'hdr',
    ladder: 'small',
    segmentDuration: 2,
    partDuration: 0.5,
    videoCodecs: ['h264', 'hevc'],
  });
}

/** The first video stream of a rendition's init + first segment, as ffprobe reads it. */
async function probeRung(dir: string, name: string): Promise<Record<string, string>> {
  const whole = join(root, `${name}.mp4`);
  writeFileSync(whole, Buffer.concat(['init.mp4', 'seg-1.m4s'].map((f) => readFileSync(join(dir, f)))));
  const r = await run(ffprobePath(), [
    ...['-v', 'error', '-select_streams', 'v:0'],
    ...['-show_entries', 'stream=codec_name,profile,pix_fmt,color_transfer,color_primaries,color_space', '-of', 'json'],
    whole,
  ]);
  return (JSON.parse(r.stdout) as { streams: Record<string, string>[] }).streams[0];
}

describe('an HDR10 source', () => {
  it('packages into SDR renditions tagged BT.709, as the playlists say', async () => {
    const input = await fixture('hdrPq');
    expect((await probeSource(input)).video).toMatchObject({ hdr: 'pq' });

    const out = join(root, 'out');
    await packageVod({ input, outDir: out, assetId: 'hdr', ladder: 'small', segmentDuration: 2, partDuration: 0.5 });
    expect(readFileSync(join(out, 'hdr', 'master.m3u8'), 'utf8')).toContain('VIDEO-RANGE=SDR');
    for (const rung of ['360p', '240p']) {
      const s = await probeRung(join(out, 'hdr', 'v1', rung), `hdr-${rung}`);
      expect(s, rung).toMatchObject({
        pix_fmt: 'yuv420p',
        color_transfer: 'bt709',
        color_primaries: 'bt709',
        color_space: 'bt709',
      });
    }
  });

  it('with HEVC renditions: those stay HDR (Main 10, BT.2020, PQ) and say so; the H.264 ones are SDR', async () => {
    const input = await fixture('hdrPq');
    const out = join(root, 'both');
    await packageBothCodecs(input, out);
    for (const rung of ['360p-hevc', '240p-hevc']) {
      expect(await probeRung(join(out, 'hdr', 'v1', rung), `both-${rung}`), rung).toMatchObject({
        codec_name: 'hevc',
        profile: 'Main 10',
        pix_fmt: 'yuv420p10le',
        color_transfer: 'smpte2084',
        color_primaries: 'bt2020',
        color_space: 'bt2020nc',
      });
    }
    for (const rung of ['360p', '240p']) {
      expect(await probeRung(join(out, 'hdr', 'v1', rung), `both-${rung}`), rung).toMatchObject({
        codec_name: 'h264',
        pix_fmt: 'yuv420p',
        color_transfer: 'bt709',
        color_primaries: 'bt709',
      });
    }

    const master = readFileSync(join(out, 'hdr', 'master.m3u8'), 'utf8');
    const variants = master.split('\n').filter((l) => l.startsWith('#EXT-X-STREAM-INF:'));
    expect(variants).toHaveLength(4);
    for (const line of variants) {
      // Main 10 is general_profile_idc 2: hvc1.2.4.L…
      if (line.includes('hvc1.')) expect(line).toMatch(/CODECS="hvc1\.2\.4\.L\d+\.\w+".*VIDEO-RANGE=PQ/);
      else expect(line).toMatch(/CODECS="avc1\.[^"]+".*VIDEO-RANGE=SDR/);
    }
    const iframes = master.split('\n').filter((l) => l.startsWith('#EXT-X-I-FRAME-STREAM-INF:'));
    expect(iframes.filter((l) => l.includes('VIDEO-RANGE=PQ'))).toHaveLength(2);
    expect(iframes.filter((l) => l.includes('VIDEO-RANGE=SDR'))).toHaveLength(2);

    const mpd = readFileSync(join(out, 'hdr', 'manifest.mpd'), 'utf8');
    const sets = [...mpd.matchAll(/<AdaptationSet [^>]*contentType="video"[^>]*>([\s\S]*?)<\/AdaptationSet>/g)].map(
      (m) => m[1],
    );
    expect(sets).toHaveLength(2);
    const cicp = (set: string): string[] =>
      [...set.matchAll(/<(\w+Property) schemeIdUri="urn:mpeg:mpegB:cicp:(\w+)" value="(\d+)"/g)].map(
        (m) => `${m[1]} ${m[2]}=${m[3]}`,
      );
    expect(cicp(sets[0])).toEqual([]);
    expect(cicp(sets[1])).toEqual([
      'EssentialProperty ColourPrimaries=9',
      'EssentialProperty TransferCharacteristics=16',
      'EssentialProperty MatrixCoefficients=9',
    ]);
    expect((await validateMpd(mpd)).errors).toBe('');
  });

  it('an HLG source: HEVC renditions in HLG (VIDEO-RANGE=HLG, the BT.2020 transfer essential and HLG supplemental in the MPD)', async () => {
    const input = await fixture('hdrHlg');
    expect((await probeSource(input)).video).toMatchObject({ hdr: 'hlg' });
    const out = join(root, 'hlg');
    await packageBothCodecs(input, out);
    expect(await probeRung(join(out, 'hdr', 'v1', '360p-hevc'), 'hlg-360p-hevc')).toMatchObject({
      profile: 'Main 10',
      pix_fmt: 'yuv420p10le',
      color_transfer: 'arib-std-b67',
      color_primaries: 'bt2020',
    });
    expect(await probeRung(join(out, 'hdr', 'v1', '360p'), 'hlg-360p')).toMatchObject({ color_transfer: 'bt709' });
    const master = readFileSync(join(out, 'hdr', 'master.m3u8'), 'utf8');
    expect(master.match(/VIDEO-RANGE=HLG/g)).toHaveLength(4); // two variants, two I-frame streams
    expect(master.match(/VIDEO-RANGE=SDR/g)).toHaveLength(4);
    const mpd = readFileSync(join(out, 'hdr', 'manifest.mpd'), 'utf8');
    expect(mpd).toContain('<EssentialProperty schemeIdUri="urn:mpeg:mpegB:cicp:TransferCharacteristics" value="14"/>');
    expect(mpd).toContain(
      '<SupplementalProperty schemeIdUri="urn:mpeg:mpegB:cicp:TransferCharacteristics" value="18"/>',
    );
    expect((await validateMpd(mpd)).errors).toBe('');
  });

  it("an HDR10 master's mastering display and content light level go on into the HDR HEVC renditions", async () => {
    const input = await fixture('hdrPqHevc');
    expect((await probeSource(input)).video?.hdrMetadata).toEqual({
      masterDisplay: 'G(13250,34500)B(7500,3000)R(34000,16000)WP(15635,16450)L(10000000,1)',
      maxCll: '1000,400',
    });
    const out = join(root, 'meta');
    await packageBothCodecs(input, out);
    const sideData = async (rung: string): Promise<Record<string, string | number>[]> => {
      const dir = join(out, 'hdr', 'v1', rung);
      const whole = join(root, `meta-${rung}.mp4`);
      writeFileSync(whole, Buffer.concat(['init.mp4', 'seg-1.m4s'].map((f) => readFileSync(join(dir, f)))));
      const r = await run(ffprobePath(), [
        ...['-v', 'error', '-select_streams', 'v:0', '-read_intervals', '%+#1'],
        ...['-show_entries', 'frame=side_data_list:side_data', '-of', 'json', whole],
      ]);
      const j = JSON.parse(r.stdout) as {
        packets_and_frames?: { type?: string; side_data_list?: Record<string, string | number>[] }[];
      };
      return j.packets_and_frames?.find((e) => e.type === 'frame')?.side_data_list ?? [];
    };
    for (const rung of ['360p-hevc', '240p-hevc']) {
      const sd = await sideData(rung);
      expect(
        sd.find((d) => d.side_data_type === 'Mastering display metadata'),
        rung,
      ).toMatchObject({
        red_x: '34000/50000',
        green_y: '34500/50000',
        white_point_x: '15635/50000',
        max_luminance: '10000000/10000',
        min_luminance: '1/10000',
      });
      expect(
        sd.find((d) => d.side_data_type === 'Content light level metadata'),
        rung,
      ).toMatchObject({
        max_content: 1000,
        max_average: 400,
      });
    }
    // the tone-mapped SDR rungs carry none
    expect((await sideData('360p')).map((d) => d.side_data_type)).not.toContain('Mastering display metadata');
  });
});
