/**
 * Our player's captions (inband-captions.ts) when media reaches the buffer out of order: a
 * replacement chunk carries pictures already read (read once, no second cue), a seek back reads
 * them again (no duplicate cue, the cue's end kept), a jump forward starts the decoder afresh (the
 * caption on screen ends where the media read ended), and seconds of media with no caption data
 * between a caption and its erasure do not. The fragment reader is replaced by a table of
 * fragments here (their span and pictures); the decoder and the track bookkeeping are the real ones.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { CcTriplet } from '../../../src/captions/cea608.js';
import type { FragmentCaptions, PictureCaptions } from '../../../src/captions/fragment-captions.js';

/** Fragments by their first byte: the media each spans, and its pictures with caption data. */
const fragments = new Map<number, FragmentCaptions>();
const fragment = (n: number, start: number, end: number, pictures: PictureCaptions[]) =>
  fragments.set(n, { start, end, pictures });
vi.mock('../../../src/captions/fragment-captions.js', () => ({
  captionTrackInfo: () => ({ timescale: 30, nalLengthSize: 4, hevc: false }),
  fragmentCaptions: (bytes: Uint8Array) => fragments.get(bytes[0]) ?? { pictures: [] },
}));
const { InbandCaptions } = await import('../../../player-demo/player/inband-captions.js');

class FakeCue {
  constructor(
    public startTime: number,
    public endTime: number,
    public text: string,
  ) {}
  snapToLines = true;
  line: number | string = 'auto';
  position: number | string = 'auto';
  align = 'center';
}
class FakeTrack {
  mode = 'disabled';
  readonly cues: FakeCue[] = [];
  constructor(
    readonly kind: string,
    readonly label: string,
    readonly language: string,
  ) {}
  addCue(c: FakeCue): void {
    this.cues.push(c);
  }
}
const tracks: FakeTrack[] = [];
const video = {
  addTextTrack: (kind: string, label: string, language: string) => {
    const t = new FakeTrack(kind, label, language);
    tracks.push(t);
    return t;
  },
} as unknown as HTMLVideoElement;

beforeAll(() => vi.stubGlobal('VTTCue', FakeCue));
afterAll(() => vi.unstubAllGlobals());

function parity(b: number): number {
  let ones = 0;
  for (let x = b; x; x >>= 1) ones += x & 1;
  return ones % 2 === 0 ? b | 0x80 : b;
}
const pair = (b1: number, b2: number): CcTriplet => ({ type: 0, b1: parity(b1), b2: parity(b2) });
/** A pop-on caption `text` (two characters) built over pictures from `t`, shown at t + 3/30, erased at `eraseAt`. */
function caption(t: number, text: string, eraseAt: number): PictureCaptions[] {
  const steps = [pair(0x14, 0x20), pair(0x14, 0x70), pair(text.charCodeAt(0), text.charCodeAt(1)), pair(0x14, 0x2f)];
  return [
    ...steps.map((p, i) => ({ time: t + i / 30, triplets: [p] })),
    { time: eraseAt, triplets: [pair(0x14, 0x2c)] },
  ];
}

describe('our player: captions of media appended out of order', () => {
  const captions = new InbandCaptions(video);
  captions.announce([{ id: 'cc:CC1', service: 'CC1', language: 'en', name: 'English', default: false }]);
  captions.init('init-360p', new Uint8Array([0]));
  const track = () => tracks[0];
  const cues = () => track().cues.map((c) => [c.text, +c.startTime.toFixed(3), +c.endTime.toFixed(3)]);

  it('announces a hidden captions track per service, shown on request', () => {
    expect(tracks.map((t) => [t.kind, t.label, t.language, t.mode])).toEqual([['captions', 'English', 'en', 'hidden']]);
    captions.show('cc:CC1');
    expect(track().mode).toBe('showing');
    expect(captions.activeId).toBe('cc:CC1');
  });

  it('reads a caption, and not again from a replacement of the same media', () => {
    fragment(1, 0, 2, caption(0, 'HI', 1.5)); // media 0–2 s: nothing between 0.1 and 1.5 s
    captions.media('init-360p', new Uint8Array([1]), 0);
    expect(cues()).toEqual([['HI', 0.1, 1.5]]);
    captions.media('init-540p', new Uint8Array([1]), 0); // (another rung's init was never announced: skipped)
    captions.init('init-540p', new Uint8Array([0]));
    captions.media('init-540p', new Uint8Array([1]), 0); // the same pictures at another rung: read already
    expect(cues()).toEqual([['HI', 0.1, 1.5]]);
  });

  it('a caption still on screen is open-ended until the decoder ends it', () => {
    fragment(2, 2, 4, caption(2, 'YO', 99).slice(0, 4)); // 2–4 s: shown at 2.1, no erase yet
    captions.media('init-360p', new Uint8Array([2]), 0);
    expect(cues()[1][0]).toBe('YO');
    expect(cues()[1][2]).toBeGreaterThan(3600);
    fragment(3, 4, 6, [{ time: 4.5, triplets: [pair(0x14, 0x2c)] }]);
    captions.media('init-360p', new Uint8Array([3]), 0);
    expect(cues()[1]).toEqual(['YO', 2.1, 4.5]);
  });

  it('a jump forward ends what was on screen where the media read ended; a seek back adds no duplicate', () => {
    fragment(4, 20, 22, caption(20, 'ZZ', 99).slice(0, 4)); // 20 s (a seek the player made): shown at 20.1
    captions.media('init-360p', new Uint8Array([4]), 0);
    expect(cues()[2][2]).toBeGreaterThan(3600);
    fragment(5, 40, 42, [{ time: 40, triplets: [pair(0, 0)] }]); // 40 s: media skipped to
    captions.media('init-360p', new Uint8Array([5]), 0);
    expect(cues()[2]).toEqual(['ZZ', 20.1, 22]); // ended where the media read ended
    captions.seeked();
    captions.media('init-360p', new Uint8Array([1]), 0); // back to the start: read again
    expect(cues().map((c) => c[0])).toEqual(['HI', 'YO', 'ZZ']);
    expect(cues()[0]).toEqual(['HI', 0.1, 1.5]);
  });

  it('places media by the SourceBuffer offset', () => {
    captions.seeked();
    fragment(6, 0, 2, caption(0, 'OK', 1));
    captions.media('init-360p', new Uint8Array([6]), 100);
    expect(cues().at(-1)).toEqual(['OK', 100.1, 101]);
  });
});
