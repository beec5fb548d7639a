/**
 * EXT-X-PRELOAD-HINT against a real live channel (ffmpeg lavfi, 1 s segments of two 0.5 s parts):
 * the hint names the part the server expects next — part 0 of the next segment once the segment
 * in progress has reached its target less half a part — and a request for it returns that part's
 * bytes. A held request for a part that turns out not to exist is answered 404 when its segment
 * closes (not after the 3-target-duration timeout).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseM3u8, type LiveOrigin, startTestChannel, type TestChannel } from '../live/live-helpers.js';

let ch: TestChannel;
let o: LiveOrigin;

beforeAll(async () => {
  ch = await startTestChannel('se-hint-', { segmentDuration: 1, dvrWindow: 10 }, [['180p', 2]]);
  o = ch.o;
}, 60_000);

afterAll(async () => {
  await ch?.close();
});

interface View {
  hint: [number, number];
  inProgress?: { msn: number; parts: number; seconds: number };
  lastComplete: number;
}

function view(text: string): View {
  const m = parseM3u8(text);
  const hint = /seg-(\d+)\.(\d+)\.m4s/.exec(m.preloadSegment?.preloadHints[0].uri ?? '')!;
  const parts: { uri: string; duration: number }[] = m.preloadSegment?.parts ?? [];
  const last = m.segments[m.segments.length - 1];
  const lastComplete = Number(/seg-(\d+)\.m4s/.exec(last.uri)![1]);
  return {
    hint: [Number(hint[1]), Number(hint[2])],
    lastComplete,
    ...(parts.length > 0
      ? {
          inProgress: {
            msn: lastComplete + 1,
            parts: parts.length,
            seconds: parts.reduce((a, p) => a + p.duration, 0),
          },
        }
      : {}),
  };
}

describe('preload hint on a live lavfi channel', () => {
  it('hints the next part, or part 0 of the next segment when the segment in progress is about to close; the hinted part arrives', async () => {
    const seen = new Set<string>();
    let v = view((await o.get('/live/ch/180p/index.m3u8')).text);
    for (let i = 0; i < 6; i++) {
      const cur = v.inProgress;
      if (!cur) expect(v.hint).toEqual([v.lastComplete + 1, 0]);
      else if (cur.seconds >= 1 - 0.25 - 1e-6) expect(v.hint).toEqual([cur.msn + 1, 0]);
      else expect(v.hint).toEqual([cur.msn, cur.parts]);
      seen.add(cur && cur.seconds >= 0.75 ? 'next-segment' : 'next-part');
      // the hinted part: held until produced, then its bytes
      const [n, p] = v.hint;
      const part = await o.get(`/live/ch/180p/seg-${n}.${p}.m4s`);
      expect(part.status, `hinted part ${n}.${p}`).toBe(200);
      expect(part.body.subarray(4, 8).toString('latin1')).toBe(p === 0 ? 'styp' : 'moof');
      // the playlist that first lists it
      v = view((await o.get(`/live/ch/180p/index.m3u8?_HLS_msn=${n}&_HLS_part=${p}`)).text);
    }
    // with two parts per segment both cases come up within six parts
    expect([...seen].sort()).toEqual(['next-part', 'next-segment']);
  });

  it('answers a held request for a part that never comes with 404 when its segment closes', async () => {
    // wait for a playlist whose segment in progress has one part: part 2 of it will never exist
    let v = view((await o.get('/live/ch/180p/index.m3u8')).text);
    for (let i = 0; i < 6 && v.inProgress?.parts !== 1; i++) {
      const [n, p] = v.hint;
      v = view((await o.get(`/live/ch/180p/index.m3u8?_HLS_msn=${n}&_HLS_part=${p}`)).text);
    }
    expect(v.inProgress?.parts).toBe(1);
    const n = v.inProgress!.msn;
    const r = await o.get(`/live/ch/180p/seg-${n}.2.m4s`);
    expect(r.status).toBe(404);
    expect(JSON.parse(r.text).error).toContain(`${n}.2`);
    // answered because segment n closed (not a timeout, which would be a 503)
    const after = view((await o.get('/live/ch/180p/index.m3u8')).text);
    expect(after.lastComplete).toBeGreaterThanOrEqual(n);
  });
});
