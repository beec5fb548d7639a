import { describe, expect, it } from 'vitest';
import { readBox, readBoxes } from '../../../src/cmaf/box.js';
import { parseEmsg } from '../../../src/cmaf/emsg.js';
import { parseFileType } from '../../../src/cmaf/file-type.js';
import { parseSidx } from '../../../src/cmaf/sidx.js';
import { parseTrex } from '../../../src/cmaf/trex.js';
import { box, emsg, ftyp, fullBox, mdatHeader, sidx, styp, tfdt, trex } from '../../../src/cmaf/writers.js';
import { StreamedgeError } from '../../../src/errors.js';

describe('writers round trip through the readers', () => {
  it('box and fullBox', () => {
    const b = readBox(box('abcd', Buffer.from([1, 2]), Buffer.from([3])));
    expect(b).toMatchObject({ type: 'abcd', size: 11, headerSize: 8 });
    expect([...b.payload]).toEqual([1, 2, 3]);
    const f = readBox(fullBox('wxyz', 1, 0x020304, Buffer.from([9])));
    expect([...f.payload]).toEqual([1, 2, 3, 4, 9]);
    expect(() => box('toolong')).toThrow(StreamedgeError);
    expect(() => fullBox('abcd', 0, 0x1000000)).toThrow(/24 bits/);
  });

  it('ftyp and styp', () => {
    const f = parseFileType(readBox(ftyp('iso6', 512, ['iso6', 'cmfc', 'avc1'])));
    expect(f).toEqual({ major: 'iso6', minorVersion: 512, compatible: ['iso6', 'cmfc', 'avc1'] });
    const s = readBox(styp());
    expect(s.type).toBe('styp');
    expect(parseFileType(s)).toEqual({ major: 'cmfs', minorVersion: 0, compatible: ['cmfs', 'msdh'] });
    expect(parseFileType(readBox(styp('msdh', ['msdh', 'msix'])))).toEqual({
      major: 'msdh',
      minorVersion: 0,
      compatible: ['msdh', 'msix'],
    });
  });

  it('sidx version 0 and 1', () => {
    const references = [
      { size: 1000, duration: 90000, startsWithSap: true },
      { size: 2000, duration: 45000, startsWithSap: false },
    ];
    const v0 = parseSidx(
      readBox(sidx({ referenceId: 1, timescale: 90000, earliestPresentationTime: 1234, firstOffset: 0, references })),
    );
    expect(v0).toEqual({
      version: 0,
      referenceId: 1,
      timescale: 90000,
      earliestPresentationTime: 1234,
      firstOffset: 0,
      references: [
        { size: 1000, duration: 90000, startsWithSap: true, referenceType: 0, sapType: 1, sapDeltaTime: 0 },
        { size: 2000, duration: 45000, startsWithSap: false, referenceType: 0, sapType: 0, sapDeltaTime: 0 },
      ],
    });
    const big = 2 ** 40 + 7;
    const v1 = parseSidx(
      readBox(sidx({ referenceId: 2, timescale: 48000, earliestPresentationTime: big, firstOffset: 16, references })),
    );
    expect(v1.version).toBe(1);
    expect(v1.earliestPresentationTime).toBe(big);
    expect(v1.firstOffset).toBe(16);
    expect(v1.references.map((r) => r.size)).toEqual([1000, 2000]);
    const hier = parseSidx(
      readBox(
        sidx({
          referenceId: 1,
          timescale: 1,
          earliestPresentationTime: 0,
          firstOffset: 0,
          references: [{ size: 5, duration: 1, startsWithSap: true, referenceType: 1, sapType: 2, sapDeltaTime: 77 }],
        }),
      ),
    );
    expect(hier.references[0]).toEqual({
      size: 5,
      duration: 1,
      startsWithSap: true,
      referenceType: 1,
      sapType: 2,
      sapDeltaTime: 77,
    });
    expect(() =>
      sidx({
        referenceId: 1,
        timescale: 1,
        earliestPresentationTime: 0,
        firstOffset: 0,
        references: [{ size: 2 ** 31, duration: 1, startsWithSap: true }],
      }),
    ).toThrow(/31 bits/);
  });

  it('emsg version 0 and 1', () => {
    const messageData = Buffer.from('ID3 payload \u00e9', 'utf8');
    const v0 = {
      version: 0 as const,
      schemeIdUri: 'urn:scte:scte35:2013:bin',
      value: '1',
      timescale: 90000,
      presentationTimeDelta: 4500,
      eventDuration: 0xffffffff,
      id: 42,
      messageData,
    };
    const p0 = parseEmsg(readBox(emsg(v0)));
    expect(p0).toEqual(v0);
    const v1 = {
      version: 1 as const,
      schemeIdUri: 'https://aomedia.org/emsg/ID3',
      value: '',
      timescale: 1000,
      presentationTime: 2 ** 45 + 3,
      eventDuration: 10,
      id: 7,
      messageData,
    };
    const p1 = parseEmsg(readBox(emsg(v1)));
    expect(p1).toEqual(v1);
    expect(() => emsg({ ...v1, presentationTime: undefined })).toThrow(/presentationTime/);
    expect(() => emsg({ ...v0, presentationTimeDelta: undefined })).toThrow(/presentationTimeDelta/);
  });

  it('trex', () => {
    const t = {
      trackId: 3,
      defaultSampleDescriptionIndex: 1,
      defaultSampleDuration: 1024,
      defaultSampleSize: 0,
      defaultSampleFlags: 0x02000000,
    };
    expect(parseTrex(readBox(trex(t)))).toEqual(t);
  });

  it('tfdt picks version 1 only when needed', () => {
    expect(readBox(tfdt(5)).payload[0]).toBe(0);
    expect(readBox(tfdt(2 ** 32)).payload[0]).toBe(1);
    expect(readBox(tfdt(5, 1)).payload.readBigUInt64BE(4)).toBe(5n);
  });

  it('mdatHeader frames a payload without copying it', () => {
    const payload = Buffer.from('media');
    const [m] = readBoxes(Buffer.concat([mdatHeader(payload.length), payload]));
    expect(m).toMatchObject({ type: 'mdat', size: 13 });
    const large = mdatHeader(2 ** 33);
    expect(large.length).toBe(16);
    expect(large.readUInt32BE(0)).toBe(1);
    expect(large.readBigUInt64BE(8)).toBe(BigInt(2 ** 33 + 16));
  });
});
