import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadRulesFile, parseRules, requestTargets } from '../../../edge/request-rules.js';

describe('edge rules file', () => {
  it('needs no file: defaults key media without query, playlists with the LL-HLS directives', () => {
    const r = parseRules(undefined);
    const seg = requestTargets('/vod/a/seg-1.m4s?_HLS_msn=3&x=1&CMCD=ot%3Dv', {}, r);
    expect(seg).toMatchObject({ kind: 'media', keyTarget: '/vod/a/seg-1.m4s', upstreamTarget: '/vod/a/seg-1.m4s' });
    const pl = requestTargets('/live/a/index.m3u8?utm_source=x&_HLS_msn=3&token=t', {}, r);
    expect(pl).toMatchObject({ kind: 'playlist', keyTarget: '/live/a/index.m3u8?_HLS_msn=3' });
    // an HLS Interstitials client's session id on an ad's playlist: one copy for every viewer
    const ad = requestTargets('/vod/ad/master.m3u8?_HLS_primary_id=5c1d7a2e-0b&_HLS_start_offset=2', {}, r);
    expect(ad).toMatchObject({
      keyTarget: '/vod/ad/master.m3u8?_HLS_start_offset=2',
      upstreamTarget: '/vod/ad/master.m3u8?_HLS_start_offset=2',
    });
    const other = requestTargets('/obj/8?size=5&_HLS_msn=1&fbclid=z', {}, r);
    expect(other).toMatchObject({ kind: 'other', keyTarget: '/obj/8?size=5', upstreamTarget: '/obj/8?size=5' });
  });

  it('validates with errors that name the file and the field', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rules-'));
    try {
      const f = join(dir, 'edge.json');
      writeFileSync(f, '{"mediaPathPattern": "(", "x": 1}');
      expect(() => loadRulesFile(f)).toThrow(/edge\.json: unknown field "x"/);
      writeFileSync(f, '{"mediaPathPattern": "("}');
      expect(() => loadRulesFile(f)).toThrow(/"mediaPathPattern" is not a valid regular expression/);
      writeFileSync(f, '{"forwardCmcd": "yes"}');
      expect(() => loadRulesFile(f)).toThrow(/"forwardCmcd" must be true or false/);
      writeFileSync(f, '{"cmcdHitLog": "all"}');
      expect(() => loadRulesFile(f)).toThrow(/"cmcdHitLog" must be "every" or "sampled"/);
      writeFileSync(f, '{"cmcdHitLog": "sampled"}');
      expect(loadRulesFile(f).cmcdHitLog).toBe('sampled');
      writeFileSync(f, '{"trackingParams": ["utm_*"]}'); // (an ad decision service that reads the session id)
      expect(requestTargets('/list.json?_HLS_primary_id=s1', {}, loadRulesFile(f)).upstreamTarget).toBe(
        '/list.json?_HLS_primary_id=s1',
      );
      writeFileSync(f, '{"trackingParams": ["utm_*", 3]}');
      expect(() => loadRulesFile(f)).toThrow(/"trackingParams" must be a list of names/);
      writeFileSync(f, 'not json');
      expect(() => loadRulesFile(f)).toThrow(/not valid JSON/);
      expect(() => loadRulesFile(join(dir, 'missing.json'))).toThrow(/cannot read the rules file \(ENOENT\)/);
      writeFileSync(f, '{"mediaPathPattern": "\\\\.bin$", "forwardCmcd": true, "denyHeaders": ["X-Evil"]}');
      const r = loadRulesFile(f);
      expect(r.denyHeaders).toEqual(['x-evil']);
      expect(requestTargets('/a.bin?q=1&CMCD=sid%3D%22s%22', {}, r)).toMatchObject({
        kind: 'media',
        keyTarget: '/a.bin',
        upstreamTarget: '/a.bin',
        cmcd: { sid: 's' },
      });
      expect(requestTargets('/a.txt?CMCD=x', {}, r).upstreamTarget).toBe('/a.txt?CMCD=x');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
