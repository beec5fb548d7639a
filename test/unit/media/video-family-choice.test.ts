import { describe, expect, it } from 'vitest';
import { chooseVideoFamily, fitScreenRange, PREFERRED_VIDEO_FAMILIES } from '../../../src/media/video-family-choice.js';
import { videoCodecFamily } from '../../../src/media/presentation.js';

const ladder = [
  { id: '720p', codecs: 'avc1.64001f' },
  { id: '360p', codecs: 'avc1.4d401e' },
  { id: '720p-hevc', codecs: 'hvc1.1.6.L93.90' },
  { id: '360p-hevc', codecs: 'hvc1.1.6.L63.90' },
];
const ids = (rs: { id: string }[]) => rs.map((r) => r.id);

describe('chooseVideoFamily', () => {
  it('plays one codec family, never a mix: HEVC where it decodes, else H.264', () => {
    expect(ids(chooseVideoFamily(ladder, () => true, PREFERRED_VIDEO_FAMILIES))).toEqual(['720p-hevc', '360p-hevc']);
    const noHevc = (codecs: string) => codecs.startsWith('avc1');
    expect(ids(chooseVideoFamily(ladder, noHevc, PREFERRED_VIDEO_FAMILIES))).toEqual(['720p', '360p']);
  });

  it('without a preference: the first listed family it decodes', () => {
    expect(ids(chooseVideoFamily(ladder, () => true))).toEqual(['720p', '360p']);
    expect(ids(chooseVideoFamily(ladder, (c) => c.startsWith('hvc1')))).toEqual(['720p-hevc', '360p-hevc']);
  });

  it('leaves a one-family ladder, and one it can decode none of, as it is', () => {
    expect(ids(chooseVideoFamily(ladder.slice(0, 2), () => false))).toEqual(['720p', '360p']);
    expect(ids(chooseVideoFamily(ladder, () => false, PREFERRED_VIDEO_FAMILIES))).toEqual(ids(ladder));
  });

  it('families by sample entry: avc1/avc3, hvc1/hev1, anything else as itself', () => {
    expect(
      [
        'avc1.640028',
        'avc3.4d401e',
        'hvc1.2.4.L123.B0',
        'hev1.1.6.L93.B0',
        'av01.0.05M.08',
        'vp09.00.10.08,mp4a.40.2',
      ].map(videoCodecFamily),
    ).toEqual(['avc', 'avc', 'hevc', 'hevc', 'av01', 'vp09']);
  });
});

describe('fitScreenRange', () => {
  const hdrLadder = [
    { id: '720p', videoRange: undefined },
    { id: '360p', videoRange: 'SDR' },
    { id: '720p-hevc', videoRange: 'PQ' },
    { id: '360p-hevc', videoRange: 'HLG' },
  ];
  it('an SDR screen gets the SDR rungs when there are any', () => {
    expect(fitScreenRange(hdrLadder, false).map((r) => r.id)).toEqual(['720p', '360p']);
  });
  it('an HDR screen gets them all (the family choice then picks HEVC where it decodes)', () => {
    expect(fitScreenRange(hdrLadder, true).map((r) => r.id)).toEqual(['720p', '360p', '720p-hevc', '360p-hevc']);
  });
  it('an HDR-only ladder plays on any screen (the browser tone-maps)', () => {
    expect(fitScreenRange(hdrLadder.slice(2), false).map((r) => r.id)).toEqual(['720p-hevc', '360p-hevc']);
  });
});
