import { describe, expect, it } from 'vitest';
import { hdrRepresentations } from '../../../src/dash/hdr-representations.js';

const mpd = `<?xml version="1.0"?>
<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static">
  <Period id="p0">
    <AdaptationSet id="0" contentType="video" mimeType="video/mp4">
      <Representation id="720p" bandwidth="3000000" codecs="avc1.64001f"/>
    </AdaptationSet>
    <AdaptationSet id="1" contentType="video" mimeType="video/mp4">
      <EssentialProperty schemeIdUri="urn:mpeg:mpegB:cicp:ColourPrimaries" value="9"/>
      <EssentialProperty schemeIdUri="urn:mpeg:mpegB:cicp:TransferCharacteristics" value="16"/>
      <SegmentTemplate media="$RepresentationID$/seg-$Number$.m4s"/>
      <Representation id="720p-hevc" bandwidth="2100000" codecs="hvc1.2.4.L93.90"/>
      <Representation id="360p-hevc" bandwidth="560000" codecs="hvc1.2.4.L63.90"/>
    </AdaptationSet>
    <AdaptationSet id="2" contentType="video" mimeType="video/mp4">
      <EssentialProperty value="14" schemeIdUri="urn:mpeg:mpegB:cicp:TransferCharacteristics"/>
      <SupplementalProperty value="18" schemeIdUri="urn:mpeg:mpegB:cicp:TransferCharacteristics"/>
      <Representation id="hlg" bandwidth="2000000" codecs="hvc1.2.4.L93.90"/>
    </AdaptationSet>
    <AdaptationSet id="3" contentType="video" mimeType="video/mp4">
      <Representation id="sdr-in-mixed" bandwidth="1" codecs="hvc1.1.6.L93.90"/>
      <Representation id="pq-alone" bandwidth="2" codecs="hvc1.2.4.L93.90">
        <SupplementalProperty schemeIdUri="urn:mpeg:mpegB:cicp:TransferCharacteristics" value="16"/>
      </Representation>
    </AdaptationSet>
    <AdaptationSet id="4" contentType="audio" mimeType="audio/mp4">
      <Representation id="audio" bandwidth="128000" codecs="mp4a.40.2"/>
    </AdaptationSet>
  </Period>
</MPD>`;

describe('hdrRepresentations', () => {
  it('finds HDR sets and Representations by their cicp transfer (16 PQ, 18 HLG), SDR ones not at all', () => {
    expect(Object.fromEntries(hdrRepresentations(mpd))).toEqual({
      '720p-hevc': 'PQ',
      '360p-hevc': 'PQ',
      hlg: 'HLG',
      'pq-alone': 'PQ',
    });
  });
  it('an MPD without colour properties has none', () => {
    expect(hdrRepresentations(mpd.replace(/<\w+Property[^>]*\/>/g, '')).size).toBe(0);
  });
});
