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
      renditions: [
        row('240p', 'video', 'avc1.4d4015'),
        row('audio-en', 'audio', 'mp4a.40.2'),
        row('audio-en-5.1', 'audio', 'mp4a.40.2'),
      ],
    } as unknown as VodSummary);
    const rows = text.split('\n').filter((l) => / (avc1|mp4a)\./.test(l));
    expect(rows).toHaveLength(3);
    expect(new Set(rows.map((l) => l.search(/(avc1|mp4a)\./))).size).toBe(1);
    expect(new Set(rows.map((l) => l.indexOf(' peak '))).size).toBe(1);
  });
});

describe('package summary: closed captions', () => {
  it('says when the source’s captions were kept, and says nothing of them otherwise', () => {
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
    const line = /captions: CEA-608 in the source video, kept in every rendition/;
    const withCc = { ...base, source: { formatName: 'mp4', video: { closedCaptions: true } } };
    expect(formatSummary(withCc as unknown as VodSummary)).toMatch(line);
    expect(formatSummary({ ...base, source: { formatName: 'mp4', video: {} } } as unknown as VodSummary)).not.toMatch(
      line,
    );
  });
});
