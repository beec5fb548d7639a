import { describe, expect, it } from 'vitest';
import { parseInit } from '../../../src/cmaf/init-segment.js';
import { box, ftyp, fullBox, mdatHeader, trex } from '../../../src/cmaf/writers.js';
import { StreamedgeError } from '../../../src/errors.js';

const u32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
};
const u16 = (n: number): Buffer => {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
};

function tkhd(trackId: number, width: number, height: number): Buffer {
  const p = Buffer.alloc(80);
  p.writeUInt32BE(trackId, 8);
  p.writeUInt32BE(width * 65536, 72);
  p.writeUInt32BE(height * 65536, 76);
  return fullBox('tkhd', 0, 3, p);
}

function mdhd(timescale: number, lang = 'eng', version = 0): Buffer {
  const code = [...lang].reduce((n, c) => (n << 5) | (c.charCodeAt(0) - 0x60), 0);
  const times = Buffer.alloc(version === 1 ? 16 : 8);
  const dur = Buffer.alloc(version === 1 ? 8 : 4);
  return fullBox('mdhd', version, 0, times, u32(timescale), dur, u16(code), u16(0));
}

function hdlr(type: string): Buffer {
  return fullBox('hdlr', 0, 0, u32(0), Buffer.from(type, 'latin1'), Buffer.alloc(12), Buffer.from('handler\0'));
}

function visualEntry(type: string, w: number, h: number, ...children: Buffer[]): Buffer {
  const f = Buffer.alloc(78);
  f.writeUInt16BE(1, 6);
  f.writeUInt16BE(w, 24);
  f.writeUInt16BE(h, 26);
  f.writeUInt16BE(0x18, 74);
  f.writeInt16BE(-1, 76);
  return box(type, f, ...children);
}

function audioEntry(type: string, channels: number, rate: number, qtVersion = 0, ...children: Buffer[]): Buffer {
  const f = Buffer.alloc(28 + (qtVersion === 1 ? 16 : 0));
  f.writeUInt16BE(1, 6);
  f.writeUInt16BE(qtVersion, 8);
  f.writeUInt16BE(channels, 16);
  f.writeUInt16BE(16, 18);
  f.writeUInt32BE(rate * 65536, 24);
  return box(type, f, ...children);
}

function trak(trackId: number, handler: string, timescale: number, entry: Buffer, w = 0, h = 0): Buffer {
  const stsd = fullBox('stsd', 0, 0, u32(1), entry);
  return box('trak', tkhd(trackId, w, h), box('mdia', mdhd(timescale), hdlr(handler), box('minf', box('stbl', stsd))));
}

function mvhd(timescale: number): Buffer {
  return fullBox('mvhd', 0, 0, Buffer.alloc(8), u32(timescale), Buffer.alloc(84));
}

const AVCC = box('avcC', Buffer.from([1, 0x4d, 0x40, 0x1f, 0xff, 0xe0, 0]));

describe('parseInit (synthetic)', () => {
  it('reads tracks, brands, trex defaults and languages', () => {
    const init = Buffer.concat([
      ftyp('cmf2', 0, ['cmfc', 'iso6']),
      box(
        'moov',
        mvhd(1000),
        trak(1, 'vide', 90000, visualEntry('avc1', 1280, 720, AVCC), 1280, 720),
        trak(2, 'soun', 44100, audioEntry('ac-3', 6, 44100)),
        trak(3, 'subt', 1000, box('stpp', Buffer.alloc(8))),
        box(
          'mvex',
          trex({
            trackId: 1,
            defaultSampleDescriptionIndex: 1,
            defaultSampleDuration: 3000,
            defaultSampleSize: 0,
            defaultSampleFlags: 0x01010000,
          }),
          trex({
            trackId: 2,
            defaultSampleDescriptionIndex: 1,
            defaultSampleDuration: 0,
            defaultSampleSize: 0,
            defaultSampleFlags: 0,
          }),
        ),
      ),
    ]);
    const info = parseInit(init);
    expect(info.brands).toEqual({ major: 'cmf2', compatible: ['cmfc', 'iso6'] });
    expect(info.movieTimescale).toBe(1000);
    expect(info.fragmented).toBe(true);
    expect(info.trex.get(1)!.defaultSampleFlags).toBe(0x01010000);
    expect(info.tracks).toEqual([
      {
        trackId: 1,
        kind: 'video',
        handler: 'vide',
        timescale: 90000,
        codec: 'avc1.4d401f',
        codecFourcc: 'avc1',
        width: 1280,
        height: 720,
        defaultSampleDuration: 3000,
        language: 'eng',
        duration: 0,
      },
      {
        trackId: 2,
        kind: 'audio',
        handler: 'soun',
        timescale: 44100,
        codec: 'ac-3',
        codecFourcc: 'ac-3',
        channels: 6,
        sampleRate: 44100,
        language: 'eng',
        duration: 0,
      },
      {
        trackId: 3,
        kind: 'other',
        handler: 'subt',
        timescale: 1000,
        codec: 'stpp',
        codecFourcc: 'stpp',
        language: 'eng',
        duration: 0,
      },
    ]);
  });

  it('maps encrypted entries to their original format, reads QuickTime v1 sound entries', () => {
    const sinf = box(
      'sinf',
      box('frma', Buffer.from('avc1')),
      fullBox('schm', 0, 0, Buffer.from('cenc'), u32(0x10000)),
    );
    const esds = fullBox(
      'esds',
      0,
      0,
      Buffer.from([3, 25, 0, 1, 0, 4, 17, 0x40, 0x15, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5, 2, 0x11, 0x90, 6, 1, 2]),
    );
    const init = box(
      'moov',
      mvhd(600),
      trak(1, 'vide', 90000, visualEntry('encv', 640, 360, AVCC, sinf)),
      trak(2, 'soun', 48000, audioEntry('mp4a', 2, 48000, 1, esds)),
    );
    const [v, a] = parseInit(init).tracks;
    expect(v).toMatchObject({ codec: 'avc1.4d401f', codecFourcc: 'avc1', width: 640, height: 360 });
    expect(a).toMatchObject({ codec: 'mp4a.40.2', channels: 2, sampleRate: 48000 });
    expect(parseInit(init).fragmented).toBe(false);
  });

  it('accepts an init followed by a partial fragment', () => {
    const init = Buffer.concat([
      ftyp('iso5', 0, ['iso6']),
      box('moov', mvhd(1000), trak(1, 'vide', 15360, visualEntry('avc1', 2, 2, AVCC))),
    ]);
    const withMedia = Buffer.concat([init, mdatHeader(1000), Buffer.alloc(10)]);
    expect(parseInit(withMedia).tracks[0].codec).toBe('avc1.4d401f');
  });

  it('reports a missing or cut moov as BAD_INIT', () => {
    for (const bad of [Buffer.alloc(0), ftyp('isom', 0, []), Buffer.concat([ftyp('isom', 0, []), mdatHeader(100)])]) {
      try {
        parseInit(bad);
        throw new Error('no throw');
      } catch (e) {
        expect(e).toBeInstanceOf(StreamedgeError);
        expect((e as StreamedgeError).code).toBe('BAD_INIT');
      }
    }
    const moov = box('moov', mvhd(1000), trak(1, 'vide', 15360, visualEntry('avc1', 2, 2, AVCC)));
    expect(() => parseInit(moov.subarray(0, moov.length - 5))).toThrow(/no complete moov/);
  });
});
