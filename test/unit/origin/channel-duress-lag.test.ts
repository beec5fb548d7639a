/**
 * `--duress-lag`: how far behind real time a live channel may fall before it says it is under
 * duress (CMSD-Dynamic `du`). The default is a segment and two parts; a value under a part is
 * refused, since an encoder is always about a part behind. The origin's behaviour with a real
 * encoder stopped: test/integration/live/origin-duress.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { resolveChannelConfig } from '../../../packager/live/channel-config.js';

describe('live channel duress lag', () => {
  it('defaults to a segment and two parts, takes a value, and refuses one under a part', () => {
    expect(resolveChannelConfig({ id: 'c', source: 'lavfi' }).duressLag).toBe(3);
    expect(resolveChannelConfig({ id: 'c', source: 'lavfi', segmentDuration: 4, partDuration: 1 }).duressLag).toBe(6);
    expect(resolveChannelConfig({ id: 'c', source: 'lavfi', duressLag: 1.5 }).duressLag).toBe(1.5);
    expect(resolveChannelConfig({ id: 'c', source: 'lavfi', duressLag: 0.5 }).duressLag).toBe(0.5);
    for (const bad of [0.25, 0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => resolveChannelConfig({ id: 'c', source: 'lavfi', duressLag: bad })).toThrow(
        /channel c: --duress-lag \(.*\) must be at least a part \(0\.5 s\)/,
      );
    }
  });
});
