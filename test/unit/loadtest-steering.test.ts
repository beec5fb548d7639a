/**
 * A virtual viewer's content steering (bench/loadtest/steering.ts): the manifest's first usable
 * Pathway routes every URL of the playlist's host to the clone's host (same scheme and port), a
 * clone on a host the target policy does not allow is skipped, and "." routes nothing. Through
 * the real chain: test/integration/loadtest/loadtest-steering.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { ViewerSteering } from '../../bench/loadtest/steering.js';
import type { HttpGetter } from '../../bench/loadtest/http-get.js';
import type { SteeringManifest } from '../../src/hls/content-steering.js';

const PLAYLIST = 'http://127.0.0.2:8080/vod/m/master.m3u8';
const SEG = 'http://127.0.0.2:8080/vod/m/360p/seg-1.m4s';

function manifest(priority: string[]): SteeringManifest {
  return {
    VERSION: 1,
    TTL: 10,
    'PATHWAY-PRIORITY': priority,
    'PATHWAY-CLONES': [
      { 'BASE-ID': '.', ID: 'b', 'URI-REPLACEMENT': { HOST: '127.0.0.3' } },
      { 'BASE-ID': '.', ID: 'far', 'URI-REPLACEMENT': { HOST: 'cdn.example.com' } },
    ],
  };
}

describe('a virtual viewer under content steering', () => {
  it('routes to the first Pathway it may use, and back', () => {
    const s = new ViewerSteering({} as HttpGetter, PLAYLIST, '/steering');
    expect(s.route(SEG)).toBe(SEG);
    s.apply(manifest(['b', '.']));
    expect([s.pathway, s.switches]).toEqual(['b', 1]);
    expect(s.route(SEG)).toBe('http://127.0.0.3:8080/vod/m/360p/seg-1.m4s');
    // another host's URL is left alone
    expect(s.route('http://127.0.0.9:1/x')).toBe('http://127.0.0.9:1/x');
    // a clone outside the target policy is skipped, as an unreachable CDN would be
    s.apply(manifest(['far', '.', 'b']));
    expect([s.pathway, s.switches]).toEqual(['.', 2]);
    expect(s.route(SEG)).toBe(SEG);
    // unless the run allows its host
    const allowed = new ViewerSteering({} as HttpGetter, PLAYLIST, '/steering', ['cdn.example.com']);
    allowed.apply(manifest(['far', 'b']));
    expect(allowed.route(SEG)).toBe('http://cdn.example.com:8080/vod/m/360p/seg-1.m4s');
  });
});
