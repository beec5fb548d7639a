/**
 * The MPEG-TS reader (src/mpegts/ts-reader.ts) and the PMT filter (src/mpegts/pmt-filter.ts) on
 * streams built packet by packet: the programme's streams from PAT and PMT (a 0x06 stream
 * without descriptors is data, with one it is audio), each media PES's PTS, private sections
 * (0x86) across packets and several in one packet, data PES payloads across packets with their
 * PTS, a reader that joins inside a PES, and a PMT given on without its data streams.
 */
import { describe, expect, it } from 'vitest';
import { pmtPacketWithout } from '../../../src/mpegts/pmt-filter.js';
import { TS_PACKET, TsReader } from '../../../src/mpegts/ts-reader.js';
import { sealSection } from '../../../src/mpegts/psi-section.js';
import { crc32Mpeg2 } from '../../../src/scte35/splice-info.js';
import { sectionPackets } from '../../support/ts-cue-injector.js';

const PMT_PID = 0x1000;
const VIDEO = 0x100;
const AUDIO = 0x101;
const CUES = 0x1f0;
const DATA_PES = 0x102;
const DVB_AUDIO = 0x103;

/** A table section of `body` (table_id on; section_syntax_indicator set) with its length and CRC. */
const withCrc = (body: number[]): Buffer => sealSection(Uint8Array.from([body[0], 0xb0, ...body.slice(2)]));

const pat = () => withCrc([0x00, 0, 0, 0, 1, 0xc1, 0, 0, 0, 1, 0xe0 | (PMT_PID >> 8), PMT_PID & 0xff]);

function pmt(version = 0): Buffer {
  const es = (type: number, pid: number, descriptors: number[] = []) => [
    type,
    0xe0 | (pid >> 8),
    pid & 0xff,
    0xf0 | (descriptors.length >> 8),
    descriptors.length,
    ...descriptors,
  ];
  return withCrc([
    0x02,
    0,
    0,
    0,
    1,
    0xc1 | (version << 1),
    0,
    0,
    0xe0 | (VIDEO >> 8),
    VIDEO & 0xff,
    0xf0,
    0,
    ...es(0x1b, VIDEO),
    ...es(0x0f, AUDIO),
    ...es(0x86, CUES),
    ...es(0x06, DATA_PES),
    ...es(0x06, DVB_AUDIO, [0x6a, 1, 0]), // AC-3 descriptor: audio
  ]);
}

function ptsBytes(pts: number): number[] {
  return [
    0x21 | ((Math.floor(pts / 2 ** 30) & 7) << 1),
    Math.floor(pts / 2 ** 22) & 0xff,
    ((Math.floor(pts / 2 ** 15) & 0x7f) << 1) | 1,
    Math.floor(pts / 2 ** 7) & 0xff,
    ((pts & 0x7f) << 1) | 1,
  ];
}

/** A PES (stream id, PTS, payload) cut into packets on `pid`. */
function pesPackets(pid: number, streamId: number, pts: number, payload: Buffer, bounded = true): Buffer[] {
  const header = Buffer.from([0, 0, 1, streamId, 0, 0, 0x80, 0x80, 5, ...ptsBytes(pts)]);
  const length = bounded ? 3 + 5 + payload.length : 0;
  header[4] = length >> 8;
  header[5] = length & 0xff;
  return packetize(pid, Buffer.concat([header, payload]), false);
}

function packetize(pid: number, bytes: Buffer, pointer: boolean): Buffer[] {
  if (pointer) return sectionPackets(pid, bytes, 0);
  const out: Buffer[] = [];
  for (let at = 0, n = 0; at < bytes.length; at += TS_PACKET - 4, n++) {
    const chunk = bytes.subarray(at, at + TS_PACKET - 4);
    const p = Buffer.alloc(TS_PACKET, 0xff);
    const stuffing = TS_PACKET - 4 - chunk.length;
    p[0] = 0x47;
    p[1] = (at === 0 ? 0x40 : 0) | (pid >> 8);
    p[2] = pid & 0xff;
    if (stuffing > 0) {
      // an adaptation field pads the last packet, the payload ends the packet
      p[3] = 0x30 | (n & 0x0f);
      p[4] = stuffing - 1;
      if (stuffing > 1) p[5] = 0;
      chunk.copy(p, 4 + stuffing);
    } else {
      p[3] = 0x10 | (n & 0x0f);
      chunk.copy(p, 4);
    }
    out.push(p);
  }
  return out;
}

function reader() {
  const seen: { pts: [number, number][]; data: [number, Buffer, number | undefined][] } = { pts: [], data: [] };
  const r = new TsReader({
    pts: (pid, pts) => seen.pts.push([pid, pts]),
    data: (pid, payload, pts) => seen.data.push([pid, Buffer.from(payload), pts]),
  });
  return { r, seen, push: (packets: Buffer[]) => packets.forEach((p) => r.push(p)) };
}

/** A fake section of `length` bytes in all (table 0xFC, as SCTE 35's), filled with `fill`. */
function section(length: number, fill: number): Buffer {
  const s = Buffer.alloc(length, fill);
  s[0] = 0xfc;
  s[1] = 0x30 | ((length - 3) >> 8);
  s[2] = (length - 3) & 0xff;
  return s;
}

describe('the MPEG-TS reader', () => {
  it('knows the streams from PAT and PMT, and reports each media PES with its PTS', () => {
    const { r, seen, push } = reader();
    push(packetize(0, pat(), true));
    push(packetize(PMT_PID, pmt(), true));
    expect([VIDEO, AUDIO, DVB_AUDIO].map((p) => r.isData(p))).toEqual([false, false, false]);
    expect([CUES, DATA_PES].map((p) => r.isData(p))).toEqual([true, true]);
    expect([VIDEO, AUDIO, DVB_AUDIO, CUES].map((p) => r.isAudioVisual(p))).toEqual([true, true, true, false]);
    expect(r.isPmt(PMT_PID)).toBe(true);
    push(pesPackets(VIDEO, 0xe0, 2 ** 33 - 1, Buffer.alloc(400, 1)));
    push(pesPackets(AUDIO, 0xc0, 123_456, Buffer.alloc(100, 2)));
    expect(seen.pts).toEqual([
      [VIDEO, 2 ** 33 - 1],
      [AUDIO, 123_456],
    ]);
    expect(seen.data).toEqual([]);
  });

  it('reads private sections across packets, and several in one packet', () => {
    const { seen, push } = reader();
    push(packetize(0, pat(), true));
    push(packetize(PMT_PID, pmt(), true));
    const long = section(300, 7);
    push(sectionPackets(CUES, long, 0)); // two packets
    const a = section(40, 1);
    const b = section(50, 2);
    push(sectionPackets(CUES, Buffer.concat([a, b]), 2)); // one packet, two sections, then stuffing
    expect(seen.data.map(([pid, bytes, pts]) => [pid, bytes.toString('hex'), pts])).toEqual([
      [CUES, long.toString('hex'), undefined],
      [CUES, a.toString('hex'), undefined],
      [CUES, b.toString('hex'), undefined],
    ]);
  });

  it('reads data PES payloads across packets with their PTS; a reader joining inside one waits for the next', () => {
    const { seen, push } = reader();
    push(packetize(0, pat(), true));
    push(packetize(PMT_PID, pmt(), true));
    const first = pesPackets(DATA_PES, 0xfc, 1000, section(250, 3));
    push(first.slice(1)); // joined after its start: nothing
    expect(seen.data).toEqual([]);
    const payload = section(250, 4);
    push(pesPackets(DATA_PES, 0xfc, 2000, payload));
    // an unbounded PES (length 0) ends where the next starts
    const open = section(30, 5);
    push(pesPackets(DATA_PES, 0xfc, 3000, open, false));
    expect(seen.data).toHaveLength(1);
    push(pesPackets(DATA_PES, 0xfc, 4000, section(20, 6)));
    expect(seen.data.map(([pid, bytes, pts]) => [pid, bytes.toString('hex'), pts])).toEqual([
      [DATA_PES, payload.toString('hex'), 2000],
      [DATA_PES, open.toString('hex'), 3000],
      [DATA_PES, section(20, 6).toString('hex'), 4000],
    ]);
  });

  it('a new PMT version replaces the stream list', () => {
    const { r, push } = reader();
    push(packetize(0, pat(), true));
    push(packetize(PMT_PID, pmt(0), true));
    expect(r.isData(CUES)).toBe(true);
    const without = pmtPacketWithout(packetize(PMT_PID, pmt(1), true)[0], (p) => p === CUES);
    r.push(without);
    expect(r.isData(CUES)).toBe(false);
    expect(r.isData(DATA_PES)).toBe(true);
  });
});

describe('the PMT filter', () => {
  it('leaves the named streams out and rewrites the CRC; a PMT without them is given back as it was', () => {
    const packet = packetize(PMT_PID, pmt(), true)[0];
    const out = pmtPacketWithout(packet, (p) => p === CUES || p === DATA_PES);
    expect(out).not.toBe(packet);
    const { r, push } = reader();
    push(packetize(0, pat(), true));
    r.push(out);
    expect(r.isAudioVisual(VIDEO) && r.isAudioVisual(AUDIO) && r.isAudioVisual(DVB_AUDIO)).toBe(true);
    expect(r.hasData()).toBe(false);
    // its section checks: CRC over the whole section is 0 for MPEG-2's CRC
    const at = 5 + out[4];
    const length = 3 + (((out[at + 1] & 0x0f) << 8) | out[at + 2]);
    const withoutCrc = out.subarray(at, at + length - 4);
    expect(crc32Mpeg2(withoutCrc)).toBe(out.readUInt32BE(at + length - 4));
    expect(length).toBe(pmt().length - 10); // two 5-byte stream entries fewer
    expect(pmtPacketWithout(out, (p) => p === CUES)).toBe(out);
  });
});
