/**
 * A VOD asset's ad cues (and a live channel's ad breaks) as HLS Interstitials (RFC 8216bis appendix D.2): one DATERANGE each, of
 * the interstitial CLASS, at the cue's date, naming the asset (or the asset list), resuming the
 * programme where the ad was inserted (a splice point) or after the slate it replaces (a break).
 */
import { describe, expect, it } from 'vitest';
import { interstitialTags, liveInterstitialTags } from '../../../src/hls/interstitials.js';
import { writeMediaPlaylist } from '../../../src/hls/media-playlist.js';
import type { AdBreak } from '../../../src/media/presentation.js';
import { AST, ladder, livePresentation, vodPresentation } from './fixture-presentations.js';

const at = (sec: number) => Date.UTC(2026, 11, 6) + sec * 1000;
const point: AdBreak = {
  eventId: 1,
  startDate: at(3.3),
  mediaStart: 3.3,
  scte35Out: '0xFC',
  end: { date: at(3.3), mediaTime: 3.3, scte35In: '0xFC' },
};
const slate: AdBreak = {
  eventId: 2,
  startDate: at(5),
  mediaStart: 5,
  plannedDuration: 1.2,
  scte35Out: '0xFC',
  end: { date: at(6.2), mediaTime: 6.2, scte35In: '0xFC' },
};

describe('interstitialTags', () => {
  it('an asset: inserted at a splice point, replacing the slate of a break', () => {
    expect(interstitialTags([point, slate], { assetUri: 'https://ads.example/pod/master.m3u8' })).toEqual([
      '#EXT-X-DATERANGE:ID="ad-1",CLASS="com.apple.hls.interstitial",START-DATE="2026-12-06T00:00:03.300Z",X-ASSET-URI="https://ads.example/pod/master.m3u8",X-RESUME-OFFSET=0',
      '#EXT-X-DATERANGE:ID="ad-2",CLASS="com.apple.hls.interstitial",START-DATE="2026-12-06T00:00:05.000Z",X-ASSET-URI="https://ads.example/pod/master.m3u8",X-RESUME-OFFSET=1.2',
    ]);
  });

  it('a pre-roll: the cue at the start, played before the programme (CUE="PRE")', () => {
    expect(
      interstitialTags(
        [
          {
            ...point,
            mediaStart: 0,
            startDate: at(0),
            preRoll: true,
            end: { date: at(0), mediaTime: 0, scte35In: '0xFC' },
          },
        ],
        {
          assetUri: 'https://ads.example/pre.m3u8',
        },
      ),
    ).toEqual([
      '#EXT-X-DATERANGE:ID="ad-1",CLASS="com.apple.hls.interstitial",START-DATE="2026-12-06T00:00:00.000Z",CUE="PRE",X-ASSET-URI="https://ads.example/pre.m3u8",X-RESUME-OFFSET=0',
    ]);
  });

  it('X-RESTRICT when asked: no skipping, and a seek past the cue plays the ad', () => {
    expect(interstitialTags([point], { assetUri: 'https://ads.example/pod.m3u8', restrict: ['SKIP', 'JUMP'] })).toEqual(
      [
        '#EXT-X-DATERANGE:ID="ad-1",CLASS="com.apple.hls.interstitial",START-DATE="2026-12-06T00:00:03.300Z",X-ASSET-URI="https://ads.example/pod.m3u8",X-RESUME-OFFSET=0,X-RESTRICT="SKIP,JUMP"',
      ],
    );
  });

  it('a post-roll: one more after the cues, at the programme’s end (CUE="POST"), with nothing to resume', () => {
    expect(interstitialTags([point], { assetUri: 'https://ads.example/pod.m3u8' }, at(8))).toEqual([
      '#EXT-X-DATERANGE:ID="ad-1",CLASS="com.apple.hls.interstitial",START-DATE="2026-12-06T00:00:03.300Z",X-ASSET-URI="https://ads.example/pod.m3u8",X-RESUME-OFFSET=0',
      '#EXT-X-DATERANGE:ID="ad-post",CLASS="com.apple.hls.interstitial",START-DATE="2026-12-06T00:00:08.000Z",CUE="POST",X-ASSET-URI="https://ads.example/pod.m3u8"',
    ]);
  });

  it('an asset list (an ad decision service)', () => {
    expect(interstitialTags([point], { assetList: 'https://ads.example/list?slot=1' })).toEqual([
      '#EXT-X-DATERANGE:ID="ad-1",CLASS="com.apple.hls.interstitial",START-DATE="2026-12-06T00:00:03.300Z",X-ASSET-LIST="https://ads.example/list?slot=1",X-RESUME-OFFSET=0',
    ]);
  });
});

describe('a media playlist with a post-roll only (`--ad-cues end`)', () => {
  const p = {
    ...vodPresentation(),
    adBreaks: [],
    dateOrigin: at(0),
    postRoll: true,
    interstitial: { assetUri: 'https://ads.example/pod.m3u8' },
  };

  it('is dated (a DATERANGE needs a PROGRAM-DATE-TIME) and plays the interstitial after its 30 s', () => {
    const lines = writeMediaPlaylist(p, ladder[0].id).split('\n');
    expect(lines).toContain('#EXT-X-PROGRAM-DATE-TIME:2026-12-06T00:00:00.000Z');
    expect(lines.filter((l) => l.startsWith('#EXT-X-DATERANGE'))).toEqual([
      '#EXT-X-DATERANGE:ID="ad-post",CLASS="com.apple.hls.interstitial",START-DATE="2026-12-06T00:00:30.000Z",CUE="POST",X-ASSET-URI="https://ads.example/pod.m3u8"',
    ]);
  });

  it('has no post-roll without an interstitial to play', () => {
    const { interstitial: _, ...bare } = p;
    expect(writeMediaPlaylist(bare, ladder[0].id)).not.toContain('DATERANGE');
  });
});

describe("a live channel's breaks as interstitials (`origin --live-interstitial`)", () => {
  const live: AdBreak = {
    eventId: 7,
    startDate: AST + 204_000,
    mediaStart: 204,
    plannedDuration: 30,
    scte35Out: '0xFC',
  };
  const source = { assetList: 'https://ads.example/list?slot=live' };

  it('the ad replaces the planned break: resumes after it and plays no longer', () => {
    expect(liveInterstitialTags([live], source)).toEqual([
      '#EXT-X-DATERANGE:ID="ad-7",CLASS="com.apple.hls.interstitial",START-DATE="2023-11-14T22:16:44.123Z",X-ASSET-LIST="https://ads.example/list?slot=live",X-RESUME-OFFSET=30,X-PLAYOUT-LIMIT=30',
    ]);
  });

  it('keeps its tag when the break returns early (a DATERANGE never changes), and leaves an open-ended break to the player', () => {
    const early = { ...live, end: { date: live.startDate + 12_000, mediaTime: 216, scte35In: '0xFC' } };
    expect(liveInterstitialTags([early], source)).toEqual(liveInterstitialTags([live], source));
    const { plannedDuration: _, ...open } = live;
    expect(liveInterstitialTags([open], { assetUri: 'https://ads.example/pod.m3u8', restrict: ['SKIP'] })).toEqual([
      '#EXT-X-DATERANGE:ID="ad-7",CLASS="com.apple.hls.interstitial",START-DATE="2023-11-14T22:16:44.123Z",X-ASSET-URI="https://ads.example/pod.m3u8",X-RESTRICT="SKIP"',
    ]);
  });

  it("a break cued with its own ad plays it, with or without the channel's; the others keep the channel's or none", () => {
    const own = { ...live, eventId: 8, interstitial: { assetUri: 'https://ads.example/special.m3u8' } };
    const ids = (tags: string[]) =>
      tags.map((l) => [/ID="([^"]+)"/.exec(l)![1], /X-ASSET-(?:URI|LIST)="([^"]+)"/.exec(l)![1]]);
    expect(ids(liveInterstitialTags([live, own], source))).toEqual([
      ['ad-7', source.assetList],
      ['ad-8', 'https://ads.example/special.m3u8'],
    ]);
    expect(ids(liveInterstitialTags([live, own], undefined))).toEqual([['ad-8', 'https://ads.example/special.m3u8']]);
    const p = { ...livePresentation(), adBreaks: [live, own] };
    expect(
      writeMediaPlaylist(p, '720p')
        .split('\n')
        .filter((l) => l.includes('com.apple.hls.interstitial')),
    ).toHaveLength(1);
  });

  it('a live media playlist carries them beside the SCTE 35 DATERANGEs, only with an interstitial configured', () => {
    const p = { ...livePresentation(), adBreaks: [live] };
    const tags = (text: string) => text.split('\n').filter((l) => l.startsWith('#EXT-X-DATERANGE'));
    expect(tags(writeMediaPlaylist(p, '720p')).map((l) => /ID="([^"]+)"/.exec(l)![1])).toEqual(['splice-7']);
    const withAds = tags(writeMediaPlaylist({ ...p, interstitial: source }, '720p'));
    expect(withAds.map((l) => /ID="([^"]+)"/.exec(l)![1])).toEqual(['splice-7', 'ad-7']);
    expect(withAds[1]).toBe(liveInterstitialTags([live], source)[0]);
  });
});
