/**
 * HLS Content Steering, the shared part (src/hls/content-steering.ts): the tag a multivariant
 * playlist gets, where it goes, the Steering Manifest as a client checks it, and a clone's URIs.
 * The origin's steering server: test/integration/origin/content-steering.test.ts; hls.js
 * steered between two edges in Chromium: test/browser/content-steering.test.ts.
 */
import { describe, expect, it } from 'vitest';
import {
  cloneUri,
  contentSteeringTag,
  parseSteeringManifest,
  readContentSteering,
  withContentSteering,
} from '../../../src/hls/content-steering.js';
import { applySteeringWeights, parseSteeringPathways } from '../../../packager/origin/content-steering.js';

const MASTER = [
  '#EXTM3U',
  '#EXT-X-VERSION:4',
  '#EXT-X-INDEPENDENT-SEGMENTS',
  '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio",NAME="English",URI="audio/index.m3u8"',
  '#EXT-X-STREAM-INF:BANDWIDTH=800000,AUDIO="audio"',
  '360p/index.m3u8',
  '',
].join('\n');

describe('content steering', () => {
  it('writes the tag, puts it after the header lines once, and leaves media playlists alone', () => {
    const tag = contentSteeringTag('/steering');
    expect(tag).toBe('#EXT-X-CONTENT-STEERING:SERVER-URI="/steering"');
    expect(contentSteeringTag('https://s.example/m.json', 'cdn-a')).toBe(
      '#EXT-X-CONTENT-STEERING:SERVER-URI="https://s.example/m.json",PATHWAY-ID="cdn-a"',
    );
    expect(() => contentSteeringTag('/s', 'a b')).toThrow(/not a Pathway ID/);
    const steered = withContentSteering(MASTER, tag);
    expect(steered.split('\n').slice(0, 5)).toEqual([
      '#EXTM3U',
      '#EXT-X-VERSION:4',
      '#EXT-X-INDEPENDENT-SEGMENTS',
      tag,
      '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio",NAME="English",URI="audio/index.m3u8"',
    ]);
    // once: a second pass replaces, never doubles
    const other = contentSteeringTag('/other');
    const again = withContentSteering(steered, other);
    expect(again.split('\n').filter((l) => l.startsWith('#EXT-X-CONTENT-STEERING'))).toEqual([other]);
    expect(readContentSteering(again)).toEqual({ serverUri: '/other' });
    expect(readContentSteering(steered.replace(tag, contentSteeringTag('/s', 'b')))).toEqual({
      serverUri: '/s',
      pathwayId: 'b',
    });
    const media = '#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\nseg-1.m4s\n';
    expect(withContentSteering(media, tag)).toBe(media);
    expect(withContentSteering('not a playlist', tag)).toBe('not a playlist');
  });

  it('checks a Steering Manifest as a client reads it', () => {
    const ok = {
      VERSION: 1,
      TTL: 10,
      'PATHWAY-PRIORITY': ['cdn-b', 'cdn-a', '.'],
      'PATHWAY-CLONES': [{ 'BASE-ID': '.', ID: 'cdn-b', 'URI-REPLACEMENT': { HOST: 'b.example' } }],
    };
    expect(parseSteeringManifest(ok)).toEqual(ok);
    for (const [bad, why] of [
      [[], /not a JSON object/],
      [{ ...ok, VERSION: 2 }, /VERSION 2/],
      [{ ...ok, TTL: 0 }, /TTL/],
      [{ ...ok, 'PATHWAY-PRIORITY': [] }, /non-empty/],
      [{ ...ok, 'PATHWAY-PRIORITY': ['a', 'a'] }, /twice/],
      [{ ...ok, 'PATHWAY-PRIORITY': ['a b'] }, /bad Pathway ID/],
      [{ ...ok, 'PATHWAY-CLONES': [{ ID: 'x', 'BASE-ID': '.', 'URI-REPLACEMENT': { HOST: '' } }] }, /HOST/],
      [{ ...ok, 'PATHWAY-CLONES': {} }, /must be a list/],
    ] as const) {
      expect(() => parseSteeringManifest(bad), JSON.stringify(bad)).toThrow(why);
    }
  });

  it("a clone's URI: the hostname replaced (port and scheme kept), its parameters added", () => {
    expect(cloneUri('http://a.example:8080/vod/m/360p/index.m3u8?x=1', { HOST: 'b.example' })).toBe(
      'http://b.example:8080/vod/m/360p/index.m3u8?x=1',
    );
    expect(cloneUri('https://a.example/p.m3u8', { PARAMS: { token: 't', cdn: 'b' } })).toBe(
      'https://a.example/p.m3u8?cdn=b&token=t',
    );
  });

  it('--steering: <pathway>=<url>, one port for all, each named once', () => {
    expect(parseSteeringPathways(['a=http://a.example:8080/ignored', 'b-2=http://b.example:8080'])).toEqual([
      { id: 'a', url: 'http://a.example:8080' },
      { id: 'b-2', url: 'http://b.example:8080' },
    ]);
    for (const [values, why] of [
      [['a'], /expected <pathway>=<url>/],
      [['.=http://a'], /not "."/],
      [['a=nope'], /not a URL/],
      [['a=ftp://a'], /http or https only/],
      [['a=http://a', 'a=http://b'], /names "a" twice/],
      [['a=http://a:1', 'b=http://b:2'], /share one scheme and port/],
      [['a=http://a', 'b=https://b'], /share one scheme and port/],
    ] as const) {
      expect(() => parseSteeringPathways([...values]), values.join(' ')).toThrow(why);
    }
  });

  it('--steering-weight: <pathway>=<n> on a named pathway, once, not all 0', () => {
    const two = parseSteeringPathways(['a=http://a.example', 'b=http://b.example']);
    expect(applySteeringWeights(two, ['a=70', 'b=30.5'])).toEqual([
      { id: 'a', url: 'http://a.example', weight: 70 },
      { id: 'b', url: 'http://b.example', weight: 30.5 },
    ]);
    expect(applySteeringWeights(two, [])).toEqual(two);
    for (const [values, why] of [
      [['a'], /expected <pathway>=<weight>/],
      [['a=-1'], /expected <pathway>=<weight>/],
      [['z=1'], /no --steering pathway "z"/],
      [['a=1', 'a=2'], /names "a" twice/],
      [['a=0', 'b=0'], /every weight is 0/],
    ] as const) {
      expect(() => applySteeringWeights(two, [...values]), values.join(' ')).toThrow(why);
    }
  });
});
