/**
 * The load tester's codec mix (`loadtest --hevc-share`): which viewers prefer HEVC over H.264 in
 * a ladder that offers both, spread evenly over the run (so a worker's or an agent's share of the
 * viewers holds the mix too), the family a client reports having chosen, and the viewers by
 * family merged across threads and printed in the report.
 */
import { describe, expect, it } from 'vitest';
import { videoPreference } from '../../bench/loadtest/viewer-pool.js';
import { LoadStats } from '../../bench/loadtest/load-stats.js';
import { chooseVideoFamily, chosenFamily } from '../../src/media/video-family-choice.js';

const prefersHevc = (i: number, share: number) => videoPreference(i, share)![0] === 'hevc';

describe('--hevc-share', () => {
  it('spreads the share evenly: 6 of 10 viewers at 0.6, none at 0, all at 1, first listed without it', () => {
    const count = (share: number, indices: number[]) => indices.filter((i) => prefersHevc(i, share)).length;
    const ten = Array.from({ length: 10 }, (_, i) => i);
    expect(count(0.6, ten)).toBe(6);
    expect(count(0, ten)).toBe(0);
    expect(count(1, ten)).toBe(10);
    expect(videoPreference(3, undefined)).toBeUndefined();
    // the whole run, and two or three workers taking every n-th viewer, each hold the mix
    const thousand = Array.from({ length: 1000 }, (_, i) => i);
    expect(Math.abs(count(0.25, thousand) - 250)).toBeLessThanOrEqual(3);
    for (const stride of [2, 3])
      for (let first = 0; first < stride; first++) {
        const mine = thousand.filter((i) => i % stride === first);
        expect(Math.abs(count(0.25, mine) - mine.length / 4), `worker ${first} of ${stride}`).toBeLessThanOrEqual(3);
      }
  });

  it('a viewer plays the family it prefers when the ladder has it, and says which; a one-codec ladder says nothing', () => {
    const ladder = [
      { id: '360p', codecs: 'avc1.4d401e,mp4a.40.2' },
      { id: '360p-hevc', codecs: 'hvc1.1.6.L63.90,mp4a.40.2' },
    ];
    const hevc = chooseVideoFamily(ladder, () => true, videoPreference(0, 1));
    expect(hevc.map((r) => r.id)).toEqual(['360p-hevc']);
    expect(chosenFamily(ladder, hevc)).toBe('hevc');
    const avc = chooseVideoFamily(ladder, () => true, videoPreference(0, 0));
    expect(chosenFamily(ladder, avc)).toBe('avc');
    // no preference: the first family listed
    expect(
      chosenFamily(
        ladder,
        chooseVideoFamily(ladder, () => true),
      ),
    ).toBe('avc');
    const single = [ladder[0]];
    expect(
      chosenFamily(
        single,
        chooseVideoFamily(single, () => true, videoPreference(0, 1)),
      ),
    ).toBeUndefined();
  });

  it('viewers by family are merged across worker threads', () => {
    const a = new LoadStats();
    a.videoFamilies = { hevc: 3, avc: 2 };
    const b = new LoadStats();
    b.videoFamilies = { hevc: 1 };
    const merged = new LoadStats();
    merged.merge(a.serialize());
    merged.merge(b.serialize());
    expect(merged.videoFamilies).toEqual({ hevc: 4, avc: 2 });
  });
});
