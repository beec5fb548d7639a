/**
 * The interstitial options `package` and `origin` share (src/cli/interstitial-options.ts): one
 * source, an absolute URL, X-RESTRICT's two values; each mistake named by its flag.
 */
import { describe, expect, it } from 'vitest';
import { interstitialSource } from '../../../src/cli/interstitial-options.js';

describe('interstitialSource', () => {
  it('an asset or an asset list, restricted when asked (each value once, in upper case)', () => {
    expect(interstitialSource({}, '--interstitial')).toBeUndefined();
    expect(interstitialSource({ uri: 'https://ads.example/pod.m3u8' }, '--interstitial')).toEqual({
      assetUri: 'https://ads.example/pod.m3u8',
    });
    expect(
      interstitialSource({ list: 'http://adserver:8080/list?x=1', restrict: 'jump, Skip,jump' }, '--live-interstitial'),
    ).toEqual({ assetList: 'http://adserver:8080/list?x=1', restrict: ['JUMP', 'SKIP'] });
  });

  it('refuses both sources, a relative or quoted URL, a restriction without a source or of another kind', () => {
    const p = '--live-interstitial';
    const refusals: [Parameters<typeof interstitialSource>[0], RegExp][] = [
      [
        { uri: 'https://a.example/x.m3u8', list: 'https://a.example/l' },
        /^--live-interstitial and --live-interstitial-list: give one of the two$/,
      ],
      [{ uri: 'ads/pod.m3u8' }, /^--live-interstitial must be an absolute http\(s\) URL, got "ads\/pod.m3u8"$/],
      [{ list: 'https://a.example/l?q="x"' }, /^--live-interstitial-list must be an absolute http\(s\) URL/],
      [{ restrict: 'jump' }, /^--live-interstitial-restrict needs --live-interstitial or --live-interstitial-list$/],
      [
        { uri: 'https://a.example/x.m3u8', restrict: 'skip,seek' },
        /^--live-interstitial-restrict: "seek" is not skip or jump$/,
      ],
    ];
    for (const [values, message] of refusals) {
      expect(() => interstitialSource(values, p), JSON.stringify(values)).toThrow(message);
    }
  });
});
