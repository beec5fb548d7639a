/**
 * Checks a published VOD asset from the outside, the way players and ffmpeg see it: parses every
 * manifest with m3u8-parser / mpd-parser, decodes every rendition (init + all segments) with
 * ffmpeg, validates the MPD against the ISO/IEC 23009-1 schema, and maps ffprobe's packets back to
 * segment files by byte position to measure real segment durations and key frames.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Parser } from 'm3u8-parser';
import { parse as parseMpd } from 'mpd-parser';
import { expect } from 'vitest';
import { ffmpegPath, ffprobePath } from '../../../src/media/ffmpeg-binaries.js';
import { validateMpd } from '../../support/xml-validate.js';

export function run(bin: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** HLS variant attributes as m3u8-parser reads them. */
export interface HlsVariantAttributes {
  BANDWIDTH?: number;
  CODECS?: string;
  RESOLUTION?: { width: number; height: number };
  'FRAME-RATE'?: number;
}

interface ByteRange {
  length: number;
  offset: number;
}

interface M3u8Segment {
  uri: string;
  duration: number;
  map?: { uri: string };
  byterange?: ByteRange;
}

/** What the packaging checks read from an m3u8-parser manifest (multivariant, media or I-frame playlist). */
export interface ParsedM3u8 {
  /** Multivariant playlists only. */
  playlists?: { uri: string; attributes: HlsVariantAttributes }[];
  mediaGroups?: { AUDIO?: Record<string, Record<string, { uri: string }>> };
  endList?: boolean;
  playlistType?: string;
  targetDuration?: number;
  iFramesOnly?: boolean;
  segments: M3u8Segment[];
}

export function parseM3u8(text: string): ParsedM3u8 {
  const p = new Parser();
  p.push(text);
  p.end();
  return p.manifest as ParsedM3u8;
}

/** What the packaging checks read from an mpd-parser manifest. */
interface MpdPlaylist {
  attributes: { NAME: string; CODECS: string; BANDWIDTH: number };
  segments: { duration: number; uri: string; map: { uri: string } }[];
}

interface ParsedMpd {
  duration: number;
  playlists: MpdPlaylist[];
  mediaGroups?: { AUDIO?: { audio?: Record<string, { playlists: MpdPlaylist[] }> } };
}

interface Packet {
  pts: number;
  duration: number;
  pos: number;
  size: number;
  key: boolean;
}

interface Probed {
  stream: {
    codec_name: string;
    profile?: string;
    level?: number;
    width?: number;
    height?: number;
    sample_rate?: string;
    channels?: number;
  };
  packets: Packet[];
}

async function probePackets(file: string): Promise<Probed> {
  const r = await run(ffprobePath(), [
    '-v',
    'error',
    '-show_streams',
    '-show_entries',
    'packet=pts_time,duration_time,pos,size,flags',
    '-of',
    'json',
    file,
  ]);
  expect(r.code, r.stderr).toBe(0);
  const json = JSON.parse(r.stdout) as { streams: Probed['stream'][]; packets: Record<string, string>[] };
  return {
    stream: json.streams[0],
    packets: json.packets.map((p) => ({
      pts: Number(p.pts_time),
      duration: Number(p.duration_time),
      pos: Number(p.pos),
      size: Number(p.size),
      key: (p.flags ?? '').startsWith('K'),
    })),
  };
}

const PROFILE_IDC: Record<string, number> = { Baseline: 0x42, 'Constrained Baseline': 0x42, Main: 0x4d, High: 0x64 };

export interface RenditionReport {
  id: string;
  kind: 'video' | 'audio';
  /** Segment start times (s) from the manifests. */
  starts: number[];
  durations: number[];
  frames: number;
  peakBps: number;
}

export interface VerifyOptions {
  segmentDuration: number;
  partDuration: number;
  /** Source frame rate (frames per second), for the one-frame tolerance. */
  fps: number;
  hasAudio: boolean;
  /** Expected total media seconds (approximate). */
  durationSec: number;
}

/** Verifies everything about one published asset folder; returns per-rendition facts for further checks. */
/** The rendition folder a multivariant URI names (an entry point's URIs start with "v<N>/"). */
function renditionOf(uri: string): string {
  return uri.replace(/^v[0-9]+\//, '').split('/')[0];
}

export async function verifyPackage(assetDir: string, o: VerifyOptions): Promise<RenditionReport[]> {
  const work = mkdtempSync(join(tmpdir(), 'se-verify-'));
  try {
    const master = parseM3u8(readFileSync(join(assetDir, 'master.m3u8'), 'utf8'));
    const variants = master.playlists ?? [];
    expect(variants.length).toBeGreaterThan(0);
    const audioGroup = master.mediaGroups?.AUDIO?.audio;
    if (o.hasAudio) expect(audioGroup && Object.keys(audioGroup).length).toBe(1);
    else expect(audioGroup === undefined || Object.keys(audioGroup).length === 0).toBe(true);

    const mpdText = readFileSync(join(assetDir, 'manifest.mpd'), 'utf8');
    const mpd = parseMpd(mpdText, { manifestUri: 'http://127.0.0.1/vod/x/manifest.mpd' }) as ParsedMpd;
    expect(mpd.playlists.length).toBe(variants.length);
    const mpdAudio = Object.values(mpd.mediaGroups?.AUDIO?.audio ?? {});
    expect(mpdAudio.length > 0).toBe(o.hasAudio);
    expect(mpd.duration).toBeCloseTo(o.durationSec, 0);
    const schema = await validateMpd(mpdText);
    expect(schema.errors).toBe('');
    expect(schema.valid).toBe(true);

    const renditions: {
      id: string;
      kind: 'video' | 'audio';
      attrs?: HlsVariantAttributes;
      mpdPlaylist: MpdPlaylist;
    }[] = [];
    for (const v of variants) {
      const id = renditionOf(v.uri);
      const mpdPlaylist = mpd.playlists.find((p) => p.attributes.NAME === id);
      expect(mpdPlaylist, `MPD Representation ${id}`).toBeTruthy();
      renditions.push({ id, kind: 'video', attrs: v.attributes, mpdPlaylist: mpdPlaylist! });
    }
    if (o.hasAudio) {
      const uri = Object.values(audioGroup!)[0].uri;
      renditions.push({ id: renditionOf(uri), kind: 'audio', mpdPlaylist: mpdAudio[0].playlists[0] });
    }

    const reports: RenditionReport[] = [];
    for (const r of renditions) {
      const media = parseM3u8(readFileSync(join(assetDir, r.id, 'index.m3u8'), 'utf8'));
      expect(media.endList).toBe(true);
      expect(media.playlistType).toBe('VOD');
      const segs = media.segments;
      expect(segs.length).toBeGreaterThan(0);
      expect(media.targetDuration).toBeGreaterThanOrEqual(Math.max(...segs.map((s) => Math.round(s.duration))));
      // DASH lists the same segments with the same durations.
      const mpdSegs = r.mpdPlaylist.segments;
      expect(mpdSegs.map((s) => s.uri)).toEqual(segs.map((s) => `${r.id}/${s.uri}`));
      expect(mpdSegs[0].map.uri).toBe(`${r.id}/init.mp4`);
      mpdSegs.forEach((s, i) => expect(Math.abs(s.duration - segs[i].duration)).toBeLessThan(0.002));

      // Concatenate init + segments; remember each segment's byte range.
      const init = readFileSync(join(assetDir, r.id, segs[0].map!.uri));
      const parts: Buffer[] = [init];
      const ranges: { start: number; end: number }[] = [];
      let off = init.length;
      for (const s of segs) {
        const bytes = readFileSync(join(assetDir, r.id, s.uri));
        expect(bytes.toString('latin1', 4, 8)).toBe('styp');
        ranges.push({ start: off, end: off + bytes.length });
        off += bytes.length;
        parts.push(bytes);
      }
      const whole = join(work, `${r.id}.mp4`);
      writeFileSync(whole, Buffer.concat(parts));

      // ffmpeg decodes every frame without a complaint.
      const decode = await run(ffmpegPath(), ['-v', 'error', '-nostdin', '-i', whole, '-f', 'null', '-']);
      expect(decode.code, decode.stderr).toBe(0);
      expect(decode.stderr.trim()).toBe('');

      const probed = await probePackets(whole);
      const frameSec = r.kind === 'video' ? 1 / o.fps : 1024 / Number(probed.stream.sample_rate ?? 48000);
      const bySeg = ranges.map((rg) => probed.packets.filter((p) => p.pos >= rg.start && p.pos < rg.end));
      expect(bySeg.reduce((n, b) => n + b.length, 0)).toBe(probed.packets.length);
      const starts: number[] = [];
      let t = 0;
      segs.forEach((s, i) => {
        const pk = bySeg[i];
        expect(pk.length, `${r.id} seg ${i + 1} has samples`).toBeGreaterThan(0);
        if (r.kind === 'video') expect(pk[0].key, `${r.id} seg-${i + 1} starts with a key frame`).toBe(true);
        // (AAC's priming packet, hidden by the edit list, has no duration in ffprobe's view: count one frame.)
        const actual = pk.reduce((n, p) => n + (Number.isFinite(p.duration) ? p.duration : frameSec), 0);
        expect(
          Math.abs(actual - s.duration),
          `${r.id} seg-${i + 1} duration ${actual} vs EXTINF ${s.duration}`,
        ).toBeLessThanOrEqual(frameSec + 1e-6);
        starts.push(t);
        t += s.duration;
      });

      // Codec strings match the stream.
      if (r.kind === 'video') {
        const codecs = String(r.attrs!.CODECS).split(',');
        const avc = codecs.find((c) => c.startsWith('avc1.'))!;
        expect(probed.stream.codec_name).toBe('h264');
        expect(parseInt(avc.slice(5, 7), 16)).toBe(PROFILE_IDC[probed.stream.profile!]);
        expect(parseInt(avc.slice(9, 11), 16)).toBe(probed.stream.level);
        expect(r.attrs!.RESOLUTION).toEqual({ width: probed.stream.width, height: probed.stream.height });
        expect(probed.stream.width! % 2).toBe(0);
        expect(probed.stream.height! % 2).toBe(0);
        expect(Number(r.attrs!['FRAME-RATE'])).toBeCloseTo(o.fps, 2);
        expect(r.mpdPlaylist.attributes.CODECS).toBe(avc);
        if (o.hasAudio) expect(codecs).toContain('mp4a.40.2');
      } else {
        expect(probed.stream.codec_name).toBe('aac');
        expect(probed.stream.profile).toBe('LC');
        expect(r.mpdPlaylist.attributes.CODECS).toBe('mp4a.40.2');
      }

      const peakBps = Math.max(...ranges.map((rg, i) => ((rg.end - rg.start) * 8) / segs[i].duration));
      reports.push({
        id: r.id,
        kind: r.kind,
        starts,
        durations: segs.map((s) => s.duration),
        frames: probed.packets.length,
        peakBps,
      });

      // I-frame playlist: each byte range is a moof + its key frame, decodable on its own after the init.
      if (r.kind === 'video') {
        const iframes = parseM3u8(readFileSync(join(assetDir, r.id, 'iframes.m3u8'), 'utf8'));
        expect(iframes.iFramesOnly).toBe(true);
        // every entry of an I-frame playlist is a byte range
        const refs = iframes.segments as (M3u8Segment & { byterange: ByteRange })[];
        expect(refs.length).toBe(segs.length);
        const first = refs[0];
        const segBytes = readFileSync(join(assetDir, r.id, first.uri));
        expect(segBytes.toString('latin1', first.byterange.offset + 4, first.byterange.offset + 8)).toBe('moof');
        const one = join(work, `${r.id}-iframe.mp4`);
        writeFileSync(
          one,
          Buffer.concat([
            init,
            segBytes.subarray(first.byterange.offset, first.byterange.offset + first.byterange.length),
          ]),
        );
        const d = await run(ffmpegPath(), ['-v', 'error', '-nostdin', '-i', one, '-f', 'null', '-']);
        expect(d.code, d.stderr).toBe(0);
        for (const ref of refs) {
          const b = readFileSync(join(assetDir, r.id, ref.uri));
          expect(b.toString('latin1', ref.byterange.offset + 4, ref.byterange.offset + 8)).toBe('moof');
          expect(ref.byterange.offset + ref.byterange.length).toBeLessThanOrEqual(b.length);
        }
      }
    }

    // All renditions share segment count and boundaries (audio within half a part).
    const videos = reports.filter((x) => x.kind === 'video');
    for (const x of reports) {
      expect(x.starts.length, `${x.id} segment count`).toBe(videos[0].starts.length);
      x.starts.forEach((s, i) => {
        const tol = x.kind === 'video' ? 1e-3 : o.partDuration / 2;
        expect(Math.abs(s - videos[0].starts[i])).toBeLessThanOrEqual(tol);
      });
      // Every segment but the last is about one segment duration long (key frames forced on the grid).
      x.durations
        .slice(0, -1)
        .forEach((d) => expect(Math.abs(d - o.segmentDuration)).toBeLessThanOrEqual(o.partDuration / 2));
    }

    // BANDWIDTH is at least the measured peak of video + audio.
    const audioPeak = reports.find((x) => x.kind === 'audio')?.peakBps ?? 0;
    for (const v of renditions.filter((x) => x.kind === 'video')) {
      const rep = reports.find((x) => x.id === v.id)!;
      expect(v.attrs!.BANDWIDTH).toBeGreaterThanOrEqual(Math.floor(rep.peakBps + audioPeak));
      expect(v.mpdPlaylist.attributes.BANDWIDTH).toBeGreaterThanOrEqual(Math.floor(rep.peakBps));
    }
    expect(existsSync(join(assetDir, 'manifest.mpd'))).toBe(true);
    return reports;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
