/**
 * The summary `streamedge package` prints at the end: one row per rendition whose columns line up
 * whatever the length of the rendition ids (a 5.1 twin's "audio-en-5.1" included).
 */
import { describe, expect, it } from 'vitest';
import { formatSummary } from '../../../packager/package-cli.js';
import type { VodSummary } from '../../../packager/vod-job.js';

describe('package summary', () => {
  it('lines the columns up past long rendition ids', () => {
    const row = (id: string, kind: 'video' | 'audio', codecs: string) => ({
      id,
      kind,
      codecs,
      bandwidth: 300_000,
      averageBandwidth: 290_000,
      segments: 2,
      bytes: 100_000,
      ...(kind === 'video' ? { width: 426, height: 240 } : { language: 'en' }),
    });
    const text = formatSummary({
      assetId: 'movie',
      path: '/out/movie',
      version: 'v1',
      durationSec: 8,
      segmentCount: 2,
      segmentDuration: 4,
      partDuration: 1,
      totalBytes: 300_000,
      elapsedMs: 1000,
      audioNotes: [],
      adCues: [],
      adCueNotes: [],
      removedVersions: [],
      captions: { services: [], given: false, webVtt: [] },
      renditions: [
        row('240p', 'video', 'avc1.4d4015'),
        { ...row('240p-hevc', 'video', 'hvc1.2.4.L60.90'), videoRange: 'PQ' },
        row('audio-en', 'audio', 'mp4a.40.2'),
        row('audio-en-5.1', 'audio', 'mp4a.40.2'),
      ],
    } as unknown as VodSummary);
    const rows = text.split('\n').filter((l) => / (avc1|hvc1|mp4a)\./.test(l));
    expect(rows).toHaveLength(4);
    expect(new Set(rows.map((l) => l.search(/(avc1|hvc1|mp4a)\./))).size).toBe(1);
    expect(new Set(rows.map((l) => l.indexOf(' peak '))).size).toBe(1);
    // an HDR rendition's range beside its codec
    expect(rows[1]).toMatch(/ hvc1\.2\.4\.L60\.90 PQ +peak /);
    expect(rows[0]).not.toMatch(/ (PQ|HLG|SDR) /);
  });
});

describe('package summary: closed captions', () => {
  const base = {
    assetId: 'news',
    path: '/out/news',
    version: 'v1',
    durationSec: 4,
    segmentCount: 2,
    segmentDuration: 2,
    partDuration: 0.5,
    totalBytes: 1000,
    elapsedMs: 1000,
    audioNotes: [],
    adCues: [],
    adCueNotes: [],
    removedVersions: [],
    renditions: [],
  };
  const summary = (captions: VodSummary['captions'], closedCaptions?: boolean) =>
    formatSummary({
      ...base,
      captions,
      source: { formatName: 'mp4', video: closedCaptions ? { closedCaptions } : {} },
    } as unknown as VodSummary);

  it('names the channels found in the video', () => {
    expect(
      summary(
        {
          services: [
            { instreamId: 'CC1', name: 'CC1' },
            { instreamId: 'CC3', name: 'CC3' },
          ],
          given: false,
          webVtt: [],
        },
        true,
      ),
    ).toMatch(/captions: CEA-608 CC1, CC3 in the source video, kept in every rendition/);
  });

  it('names the channels --captions gave, with language and name', () => {
    expect(
      summary({ services: [{ instreamId: 'CC1', name: 'English', language: 'en' }], given: true, webVtt: [] }, true),
    ).toMatch(/captions: CEA-608 CC1 en "English" announced as --captions says/);
  });

  it('names the WebVTT tracks --captions-webvtt made', () => {
    expect(
      summary(
        { services: [{ instreamId: 'CC1', name: 'CC1' }], given: false, webVtt: [{ id: 'cc1', cues: 12 }] },
        true,
      ),
    ).toMatch(/captions: CC1 also as WebVTT subtitles \(cc1\/, 12 cues\)/);
  });

  it('says when captions in the video are announced nowhere, and nothing when there are none', () => {
    expect(summary({ services: [], given: false, webVtt: [] }, true)).toMatch(
      /carries caption data \(CEA-608\/708\), announced in no manifest/,
    );
    expect(summary({ services: [], given: false, webVtt: [] })).not.toMatch(/captions/);
  });
});

describe('package summary: an HDR source', () => {
  const video = (id: string, videoRange?: 'PQ' | 'HLG') => ({
    id,
    kind: 'video',
    codecs: videoRange ? 'hvc1.2.4.L63.90' : 'avc1.4d401e',
    bandwidth: 1,
    averageBandwidth: 1,
    segments: 1,
    bytes: 1,
    ...(videoRange ? { videoRange } : {}),
  });
  const summary = (hdr: 'pq' | 'hlg' | undefined, renditions: ReturnType<typeof video>[]) =>
    formatSummary({
      assetId: 'hdr',
      path: '/out/hdr',
      version: 'v1',
      durationSec: 2,
      segmentCount: 1,
      segmentDuration: 2,
      partDuration: 0.5,
      totalBytes: 1,
      elapsedMs: 1000,
      audioNotes: [],
      adCues: [],
      adCueNotes: [],
      removedVersions: [],
      captions: { services: [], given: false, webVtt: [] },
      renditions,
      source: { formatName: 'mp4', video: hdr ? { hdr } : {} },
    } as unknown as VodSummary)
      .split('\n')
      .filter((l) => l.startsWith('  dynamic range: '));

  it('says what became of its range: tone-mapped, split by codec, or HDR everywhere with no SDR variant', () => {
    expect(summary('pq', [video('360p')])).toEqual([
      '  dynamic range: the PQ source is tone-mapped to SDR BT.709 in every rendition',
    ]);
    expect(summary('hlg', [video('360p'), video('360p-hevc', 'HLG')])).toEqual([
      "  dynamic range: the HEVC renditions keep the source's HLG, the H.264 ones are tone-mapped to SDR BT.709",
    ]);
    expect(summary('pq', [video('360p-hevc', 'PQ')])).toEqual([
      '  dynamic range: every rendition is PQ: there is no SDR variant, so an SDR screen tone-maps HDR; --video-codecs h264,hevc adds H.264 SDR ones',
    ]);
  });

  it('says nothing for an SDR source', () => {
    expect(summary(undefined, [video('360p')])).toEqual([]);
  });
});
