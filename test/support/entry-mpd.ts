/**
 * An entry-point MPD as `package` writes it (its MPD-level BaseURL points into the current
 * version), for the tests of what the origin does to MPDs it serves.
 */
export const ENTRY_MPD = `<?xml version="1.0" encoding="UTF-8"?>
<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static" mediaPresentationDuration="PT8S">
  <BaseURL>v1/</BaseURL>
  <Period id="0" start="PT0S">
    <AdaptationSet id="0" contentType="video">
      <SegmentTemplate media="$RepresentationID$/seg-$Number$.m4s" initialization="$RepresentationID$/init.mp4"/>
      <Representation id="360p" bandwidth="800000"/>
    </AdaptationSet>
  </Period>
</MPD>
`;
