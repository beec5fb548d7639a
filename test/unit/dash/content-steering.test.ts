/**
 * The MPD of DASH Content Steering (src/dash/content-steering.ts): one absolute BaseURL per CDN
 * with its serviceLocation, where the MPD-level BaseURL was, and the ContentSteering element.
 */
import { describe, expect, it } from 'vitest';
import { dashPathways, withDashContentSteering } from '../../../src/dash/content-steering.js';
import { dashSteeringUri } from '../../../packager/origin/content-steering.js';
import { ENTRY_MPD as ENTRY } from '../../support/entry-mpd.js';

const cdns = [
  { id: 'cdn-b', url: 'https://b.example.com' },
  { id: 'cdn-a', url: 'https://a.example.com:8443/' },
];

describe('withDashContentSteering', () => {
  it("replaces the MPD's BaseURL with one per CDN (its path resolved against the request) and names the server", () => {
    const out = withDashContentSteering(ENTRY, {
      serverUri: '/steering/dash',
      locations: cdns,
      requestPath: '/vod/movie/manifest.mpd',
    });
    expect(out.split('\n').slice(1, 6)).toEqual([
      '<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static" mediaPresentationDuration="PT8S">',
      '  <BaseURL serviceLocation="cdn-b">https://b.example.com/vod/movie/v1/</BaseURL>',
      '  <BaseURL serviceLocation="cdn-a">https://a.example.com:8443/vod/movie/v1/</BaseURL>',
      '  <ContentSteering defaultServiceLocation="cdn-b" queryBeforeStart="true">/steering/dash</ContentSteering>',
      '  <Period id="0" start="PT0S">',
    ]);
    // nothing else changed, and the relative BaseURL is gone
    expect(out.match(/<BaseURL/g)).toHaveLength(2);
    expect(out.slice(out.indexOf('<Period'))).toBe(ENTRY.slice(ENTRY.indexOf('<Period')));
  });

  it('an MPD without a BaseURL: the folder it was asked in; other MPD-level elements stay after', () => {
    const ll = ENTRY.replace('  <BaseURL>v1/</BaseURL>\n', '  <ServiceDescription id="0"/>\n');
    const out = withDashContentSteering(ll, {
      serverUri: 'https://steer.example.com/s?x=1&y=2',
      locations: cdns.slice(0, 1),
      requestPath: '/live/news/manifest.mpd',
    });
    expect(out).toContain('<BaseURL serviceLocation="cdn-b">https://b.example.com/live/news/</BaseURL>');
    expect(out).toContain('queryBeforeStart="true">https://steer.example.com/s?x=1&amp;y=2</ContentSteering>');
    expect(out.indexOf('<ContentSteering')).toBeLessThan(out.indexOf('<ServiceDescription'));
  });

  it('an absolute or root-relative BaseURL keeps its path; escaped text is read as text', () => {
    for (const [base, path] of [
      ['https://origin.example.com/assets/m/', '/assets/m/'],
      ['/other/place/', '/other/place/'],
      ['v1/a&amp;b/', '/vod/movie/v1/a&amp;b/'],
    ]) {
      const out = withDashContentSteering(ENTRY.replace('v1/', base), {
        serverUri: '/steering/dash',
        locations: cdns.slice(0, 1),
        requestPath: '/vod/movie/manifest.mpd',
      });
      expect(out).toContain(`<BaseURL serviceLocation="cdn-b">https://b.example.com${path}</BaseURL>`);
    }
  });

  it('what is not an MPD with a Period comes back as it was', () => {
    const o = { serverUri: '/s', locations: cdns, requestPath: '/x.mpd' };
    expect(withDashContentSteering('#EXTM3U\n', o)).toBe('#EXTM3U\n');
    expect(withDashContentSteering('<MPD type="static"></MPD>', o)).toBe('<MPD type="static"></MPD>');
  });
});

describe("the client's Pathway and the server's URI", () => {
  it('_DASH_pathway: a quoted, comma-separated list', () => {
    expect(dashPathways('"cdn-a"')).toEqual(['cdn-a']);
    expect(dashPathways('"cdn-b,cdn-a"')).toEqual(['cdn-b', 'cdn-a']);
    expect(dashPathways('cdn-b')).toEqual(['cdn-b']);
    expect(dashPathways('""')).toEqual([]);
    expect(dashPathways(['a'])).toEqual([]);
  });

  it('the DASH server is the HLS one with /dash after its path', () => {
    expect(dashSteeringUri('/steering')).toBe('/steering/dash');
    expect(dashSteeringUri('https://s.example.com/steer/?k=1')).toBe('https://s.example.com/steer/dash?k=1');
  });
});
