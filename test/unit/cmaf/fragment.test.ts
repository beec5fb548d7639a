import { describe, expect, it } from 'vitest';
import { readBoxes } from '../../../src/cmaf/box.js';
import {
  SAMPLE_DEPENDS_NO,
  SAMPLE_DEPENDS_YES,
  SAMPLE_IS_NON_SYNC,
  isSyncSampleFlags,
  parseFragment,
  setBaseDecodeTime,
  setSequenceNumber,
  type TrexDefaults,
} from '../../../src/cmaf/fragment.js';
import {
  box,
  mdatHeader,
  mfhd,
  tfdt,
  tfhd,
  type TfhdOptions,
  trun,
  type TrunSample,
} from '../../../src/cmaf/writers.js';
import { StreamedgeError } from '../../../src/errors.js';

const SYNC = SAMPLE_DEPENDS_NO; // 0x02000000
const NON_SYNC = SAMPLE_DEPENDS_YES | SAMPLE_IS_NON_SYNC; // 0x01010000

const BASE = {
  durations: [1000, 1001, 999, 1002],
  sizes: [10, 20, 30, 40],
  flags: [SYNC, NON_SYNC, NON_SYNC, SYNC],
  cto: [0, 2000, -500, 1000],
};
const DEF = { duration: 1234, size: 55, flags: NON_SYNC };

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(StreamedgeError);
    return (e as StreamedgeError).code;
  }
  throw new Error('expected a throw');
}

function moofOf(seq: number, ...trafs: Buffer[]): Buffer {
  return box('moof', mfhd(seq), ...trafs);
}

describe('trun: every optional-field combination, both versions, tfhd and trex defaults', () => {
  const cases: { bits: number; version: 0 | 1; source: 'tfhd' | 'trex' }[] = [];
  for (let bits = 0; bits < 64; bits++) {
    for (const version of [0, 1] as const)
      for (const source of ['tfhd', 'trex'] as const) cases.push({ bits, version, source });
  }
  it(`parses ${cases.length} combinations`, () => {
    for (const { bits, version, source } of cases) {
      const has = {
        d: !!(bits & 1),
        s: !!(bits & 2),
        f: !!(bits & 4),
        c: !!(bits & 8),
        off: !!(bits & 16),
        first: !!(bits & 32),
      };
      const samples: TrunSample[] = BASE.sizes.map((_, i) => ({
        ...(has.d ? { duration: BASE.durations[i] } : {}),
        ...(has.s ? { size: BASE.sizes[i] } : {}),
        ...(has.f ? { flags: BASE.flags[i] } : {}),
        ...(has.c ? { compositionOffset: version === 1 ? BASE.cto[i] : Math.abs(BASE.cto[i]) } : {}),
      }));
      const defaults: TfhdOptions =
        source === 'tfhd'
          ? {
              trackId: 7,
              defaultSampleDuration: DEF.duration,
              defaultSampleSize: DEF.size,
              defaultSampleFlags: DEF.flags,
              defaultBaseIsMoof: true,
            }
          : { trackId: 7, defaultBaseIsMoof: true };
      const trex = new Map<number, TrexDefaults>([
        [
          7,
          {
            trackId: 7,
            defaultSampleDescriptionIndex: 1,
            defaultSampleDuration: DEF.duration,
            defaultSampleSize: DEF.size,
            defaultSampleFlags: DEF.flags,
          },
        ],
      ]);
      const build = (dataOffset: number): Buffer =>
        moofOf(
          9,
          box(
            'traf',
            tfhd(defaults),
            tfdt(90_000),
            trun({
              version,
              samples,
              ...(has.off ? { dataOffset } : {}),
              ...(has.first ? { firstSampleFlags: SYNC } : {}),
            }),
          ),
        );
      const moofLen = build(0).length;
      const moof = build(moofLen + 8);
      const label = JSON.stringify({ bits, version, source });
      const frag = parseFragment(moof, source === 'trex' ? trex : undefined);
      expect(frag.sequenceNumber, label).toBe(9);
      expect(frag.tracks, label).toHaveLength(1);
      const t = frag.tracks[0];
      expect(t.trackId).toBe(7);
      expect(t.baseDecodeTime).toBe(90_000);
      const expFlags = BASE.flags.map((f, i) => (i === 0 && has.first ? SYNC : has.f ? f : DEF.flags));
      let offset = has.off ? moofLen + 8 : 0;
      const expected = BASE.sizes.map((_, i) => {
        const size = has.s ? BASE.sizes[i] : DEF.size;
        const s = {
          duration: has.d ? BASE.durations[i] : DEF.duration,
          size,
          flags: expFlags[i],
          isSync: expFlags[i] === SYNC,
          compositionOffset: has.c ? (version === 1 ? BASE.cto[i] : Math.abs(BASE.cto[i])) : 0,
          dependsOn: expFlags[i] === SYNC ? 2 : 1,
          offset,
        };
        offset += size;
        return s;
      });
      expect(t.samples, label).toEqual(expected);
      expect(t.duration).toBe(expected.reduce((n, s) => n + s.duration, 0));
      expect(t.bytes).toBe(expected.reduce((n, s) => n + s.size, 0));
      expect(t.startsWithSync).toBe(expected[0].isSync);
      expect(t.dataOffsetBase).toBe('moof');
    }
  });

  it('tfhd defaults win over trex defaults', () => {
    const moof = moofOf(
      1,
      box(
        'traf',
        tfhd({ trackId: 1, defaultSampleDuration: 3, defaultBaseIsMoof: true }),
        trun({ samples: [{ size: 1 }, { size: 2 }] }),
      ),
    );
    const trex = new Map([
      [
        1,
        {
          trackId: 1,
          defaultSampleDescriptionIndex: 2,
          defaultSampleDuration: 100,
          defaultSampleSize: 0,
          defaultSampleFlags: NON_SYNC,
        },
      ],
    ]);
    const t = parseFragment(moof, trex).tracks[0];
    expect(t.samples.map((s) => s.duration)).toEqual([3, 3]);
    expect(t.samples.map((s) => s.isSync)).toEqual([false, false]);
    expect(t.sampleDescriptionIndex).toBe(2);
    expect(t.hasTfdt).toBe(false);
  });

  it('refuses a sample size defined nowhere', () => {
    const moof = moofOf(
      1,
      box('traf', tfhd({ trackId: 1, defaultSampleDuration: 3 }), trun({ samples: [{ flags: 0 }] })),
    );
    expect(code(() => parseFragment(moof))).toBe('BAD_FRAGMENT');
    const noDur = moofOf(1, box('traf', tfhd({ trackId: 1 }), trun({ samples: [{ size: 4 }] })));
    expect(code(() => parseFragment(noDur))).toBe('BAD_FRAGMENT');
  });

  it('rejects a trun whose sample count overruns the box', () => {
    const t = trun({ samples: [{ size: 1 }, { size: 2 }] });
    t.writeUInt32BE(1000, 12); // sample_count
    const moof = moofOf(1, box('traf', tfhd({ trackId: 1, defaultSampleDuration: 1 }), t));
    expect(code(() => parseFragment(moof))).toBe('BAD_BOX');
  });
});

describe('sync detection', () => {
  it('uses sample_is_non_sync_sample and sample_depends_on', () => {
    expect(isSyncSampleFlags(0)).toBe(true); // audio: no dependency info, not non-sync
    expect(isSyncSampleFlags(SAMPLE_DEPENDS_NO)).toBe(true);
    expect(isSyncSampleFlags(SAMPLE_DEPENDS_YES)).toBe(false);
    expect(isSyncSampleFlags(SAMPLE_IS_NON_SYNC)).toBe(false);
    expect(isSyncSampleFlags(SAMPLE_DEPENDS_NO | SAMPLE_IS_NON_SYNC)).toBe(false); // open-GOP I frame
    expect(isSyncSampleFlags(0x0c000000 | SAMPLE_DEPENDS_NO)).toBe(true); // is_leading bits do not matter
  });

  it('first_sample_flags overrides the tfhd default for sample 0 only', () => {
    const moof = moofOf(
      1,
      box(
        'traf',
        tfhd({ trackId: 1, defaultSampleDuration: 1, defaultSampleSize: 1, defaultSampleFlags: NON_SYNC }),
        trun({ firstSampleFlags: SYNC, samples: [{}, {}, {}] }),
      ),
    );
    // trun with no per-sample fields: samples carry nothing; count still 3.
    const t = parseFragment(moof).tracks[0];
    expect(t.samples.map((s) => s.isSync)).toEqual([true, false, false]);
    expect(t.startsWithSync).toBe(true);
  });
});

describe('data offsets', () => {
  it('implicit base: second traf data follows the first, truns chain within a traf', () => {
    const build = (off: number): Buffer =>
      moofOf(
        1,
        box(
          'traf',
          tfhd({ trackId: 1, defaultSampleDuration: 1 }),
          trun({ dataOffset: off, samples: [{ size: 5 }, { size: 6 }] }),
          trun({ samples: [{ size: 7 }] }),
        ),
        box('traf', tfhd({ trackId: 2, defaultSampleDuration: 1 }), trun({ samples: [{ size: 3 }, { size: 4 }] })),
      );
    const len = build(0).length;
    const f = parseFragment(build(len + 8));
    expect(f.tracks[0].samples.map((s) => s.offset)).toEqual([len + 8, len + 13, len + 19]);
    expect(f.tracks[1].samples.map((s) => s.offset)).toEqual([len + 26, len + 29]);
  });

  it('explicit base_data_offset is reported as a file offset', () => {
    const moof = moofOf(
      1,
      box(
        'traf',
        tfhd({ trackId: 1, baseDataOffset: 5000, defaultSampleDuration: 1 }),
        trun({ dataOffset: 16, samples: [{ size: 5 }] }),
      ),
    );
    const t = parseFragment(moof).tracks[0];
    expect(t.dataOffsetBase).toBe('file');
    expect(t.samples[0].offset).toBe(5016);
  });

  it('finds the moof after a styp and ignores a truncated trailing mdat', () => {
    const moof = moofOf(
      3,
      box(
        'traf',
        tfhd({ trackId: 1, defaultSampleDuration: 1, defaultBaseIsMoof: true }),
        trun({ samples: [{ size: 100 }] }),
      ),
    );
    const buf = Buffer.concat([box('styp', Buffer.from('cmfs\0\0\0\0')), moof, mdatHeader(100), Buffer.alloc(10)]);
    const f = parseFragment(buf);
    expect(f.moofStart).toBe(16);
    expect(f.moofSize).toBe(moof.length);
    expect(f.sequenceNumber).toBe(3);
    expect(code(() => parseFragment(box('free')))).toBe('BAD_FRAGMENT');
  });

  it('duration-is-empty with samples is rejected, without samples accepted', () => {
    expect(
      parseFragment(moofOf(1, box('traf', tfhd({ trackId: 1, durationIsEmpty: true })))).tracks[0].samples,
    ).toEqual([]);
    const bad = moofOf(
      1,
      box(
        'traf',
        tfhd({ trackId: 1, durationIsEmpty: true, defaultSampleDuration: 1 }),
        trun({ samples: [{ size: 1 }] }),
      ),
    );
    expect(code(() => parseFragment(bad))).toBe('BAD_FRAGMENT');
  });

  it('64-bit tfdt: number when safe, exact bigint always', () => {
    const big = 2n ** 60n + 1n;
    const t = parseFragment(moofOf(1, box('traf', tfhd({ trackId: 1 }), tfdt(big)))).tracks[0];
    expect(t.baseDecodeTimeExact).toBe(big);
    const safe = parseFragment(moofOf(1, box('traf', tfhd({ trackId: 1 }), tfdt(2 ** 40 + 3)))).tracks[0];
    expect(safe.baseDecodeTime).toBe(2 ** 40 + 3);
  });
});

/** A moof (+ mdat with recognisable bytes) with a video and an audio traf. */
function twoTrackFragment(opts: { tfdtVideo?: 'v0' | 'v1' | 'none'; base?: 'moof' | 'implicit' | 'explicit' }): Buffer {
  const vSizes = [6, 3, 4];
  const aSizes = [5, 5];
  const base = opts.base ?? 'moof';
  const vt = opts.tfdtVideo ?? 'v0';
  const build = (mdatStart: number): Buffer => {
    const dataV = base === 'explicit' ? 8 : mdatStart + 8;
    const dataA = base === 'explicit' ? 8 + 13 : mdatStart + 8 + 13;
    const head = (trackId: number): Buffer =>
      tfhd({
        trackId,
        defaultSampleDuration: 512,
        ...(base === 'moof' ? { defaultBaseIsMoof: true } : {}),
        ...(base === 'explicit' ? { baseDataOffset: mdatStart } : {}),
      });
    return moofOf(
      4,
      box(
        'traf',
        head(1),
        ...(vt === 'none' ? [] : [tfdt(1000, vt === 'v1' ? 1 : 0)]),
        trun({ dataOffset: dataV, samples: vSizes.map((size, i) => ({ size, flags: i === 0 ? SYNC : NON_SYNC })) }),
      ),
      box('traf', head(2), tfdt(2000), trun({ dataOffset: dataA, samples: aSizes.map((size) => ({ size })) })),
    );
  };
  const moof = build(build(0).length);
  const payload = Buffer.from('VVVVVVvvvwwwwaaaaaAAAAA', 'latin1');
  return Buffer.concat([moof, mdatHeader(payload.length), payload]);
}

/** The bytes each sample points at, per track. */
function sampleBytes(buf: Buffer): string[][] {
  const f = parseFragment(buf);
  return f.tracks.map((t) =>
    t.samples.map((s) => {
      const at = t.dataOffsetBase === 'moof' ? f.moofStart + s.offset : s.offset;
      return buf.toString('latin1', at, at + s.size);
    }),
  );
}

describe('setSequenceNumber / setBaseDecodeTime', () => {
  it('sets the sequence number without touching the input', () => {
    const buf = twoTrackFragment({});
    const out = setSequenceNumber(buf, 77);
    expect(parseFragment(out).sequenceNumber).toBe(77);
    expect(parseFragment(buf).sequenceNumber).toBe(4);
    expect(out.length).toBe(buf.length);
    expect(code(() => setSequenceNumber(buf, -1))).toBe('BAD_ARGUMENT');
  });

  it('rewrites a tfdt in place when it fits, version 1 stays version 1', () => {
    const buf = twoTrackFragment({});
    const out = setBaseDecodeTime(buf, 2, 123456);
    expect(out.length).toBe(buf.length);
    expect(parseFragment(out).tracks.map((t) => t.baseDecodeTime)).toEqual([1000, 123456]);
    const v1 = twoTrackFragment({ tfdtVideo: 'v1' });
    const out1 = setBaseDecodeTime(v1, 1, 2n ** 50n);
    expect(out1.length).toBe(v1.length);
    expect(parseFragment(out1).tracks[0].baseDecodeTimeExact).toBe(2n ** 50n);
    expect(parseFragment(buf).tracks[1].baseDecodeTime).toBe(2000); // input untouched
  });

  for (const base of ['moof', 'implicit', 'explicit'] as const) {
    for (const tfdtVideo of ['v0', 'none'] as const) {
      it(`grows the tfdt (${tfdtVideo}, ${base} base) and keeps every sample pointing at its bytes`, () => {
        const buf = twoTrackFragment({ base, tfdtVideo });
        const before = sampleBytes(buf);
        expect(before[0]).toEqual(['VVVVVV', 'vvv', 'wwww']);
        const t = tfdtVideo === 'none' ? 4242 : 2 ** 33 + 5;
        const out = setBaseDecodeTime(buf, 1, t);
        // Sizes still add up: the whole buffer parses and the moof grew by the tfdt delta.
        const top = readBoxes(out);
        expect(top.map((b) => b.type)).toEqual(['moof', 'mdat']);
        const grew = out.length - buf.length;
        expect(grew).toBe(tfdtVideo === 'none' ? 16 : 4);
        const f = parseFragment(out);
        expect(f.tracks.map((x) => x.baseDecodeTime)).toEqual([t, 2000]);
        expect(f.tracks[0].hasTfdt).toBe(true);
        expect(sampleBytes(out)).toEqual(before);
      });
    }
  }

  it('names a missing track', () => {
    expect(code(() => setBaseDecodeTime(twoTrackFragment({}), 9, 1))).toBe('NO_TRACK');
    expect(code(() => setBaseDecodeTime(twoTrackFragment({}), 1, -1))).toBe('BAD_ARGUMENT');
    expect(code(() => setBaseDecodeTime(twoTrackFragment({}), 1, 2 ** 60))).toBe('BAD_ARGUMENT');
  });
});
