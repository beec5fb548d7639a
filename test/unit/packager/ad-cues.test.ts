/** `--ad-cues` read: splice points, breaks and the post-roll `end`, in time order. */
import { describe, expect, it } from 'vitest';
import { checkAdCues, parseAdCues, splicePoints } from '../../../packager/ad-cues.js';

describe('parseAdCues', () => {
  it('reads splice points, breaks and end (a post-roll, last), in time order', () => {
    expect(parseAdCues('end, 25.5,0,60+30')).toEqual([
      { atSec: 0 },
      { atSec: 25.5 },
      { atSec: 60, durationSec: 30 },
      { atSec: Infinity, postRoll: true },
    ]);
  });

  it('refuses what is not a cue, a break of no time, and end twice', () => {
    expect(() => parseAdCues('10,later')).toThrow(/"later" is not a cue; .* or end for a post-roll/);
    expect(() => parseAdCues('5+0')).toThrow(/the break "5\+0" lasts no time/);
    expect(() => parseAdCues('end,10,end')).toThrow(/"end" is given twice/);
  });

  it('a post-roll is no splice point: the splice points and checks are of the others', () => {
    const cues = parseAdCues('3,5+1.2,end').filter((c) => !c.postRoll);
    expect(splicePoints(cues)).toEqual([3, 5, 6.2]);
    expect(() => checkAdCues(cues, 8, 0.5)).not.toThrow();
  });
});
