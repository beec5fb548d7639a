/**
 * Closed captions carried in H.264 (ATSC A/53 Part 4: `GA94` user data in an SEI
 * `user_data_registered_itu_t_t35` message before each picture), written into an Annex B stream
 * for the `captioned` fixtures: ffmpeg has no caption encoder, and broadcast sources carry captions
 * this way. One CEA-608 caption, pop-on, on CC1 (field 1) or CC3 (field 2): `text` shown from
 * frame 7, erased at frame `eraseAtFrame`; every other picture carries padding. Optionally, as an
 * ATSC encoder sends them beside the 608, a CEA-708 caption on service 1: a window defined
 * hidden, its text written, then shown (DisplayWindows) in a DTVCC packet spread over frames 3–7
 * (two DTVCC triplets a picture), so it shows from frame 7 too; hidden (HideWindows) at its own
 * erase frame.
 */

/** A 608 byte with odd parity in bit 7. */
function parity(b: number): number {
  const v = b & 0x7f;
  let ones = 0;
  for (let x = v; x; x >>= 1) ones += x & 1;
  return ones % 2 === 0 ? v | 0x80 : v;
}

/** The byte pairs for each frame of the caption (control codes sent twice, as encoders do). */
function script(text: string, eraseAtFrame: number, field: 1 | 2): Map<number, [number, number]> {
  const misc = field === 1 ? 0x14 : 0x15; // the first byte of miscellaneous control codes on CC1 / CC3
  const pairs: [number, number][] = [
    [misc, 0x20], // RCL: resume caption loading (pop-on)
    [misc, 0x20],
    [0x14, 0x70], // PAC: row 15, white
    [0x14, 0x70],
  ];
  for (let i = 0; i < text.length; i += 2)
    pairs.push([text.charCodeAt(i), i + 1 < text.length ? text.charCodeAt(i + 1) : 0]);
  pairs.push([misc, 0x2f], [misc, 0x2f]); // EOC: end of caption, shown now
  const frames = new Map<number, [number, number]>(pairs.map((p, i) => [i, p]));
  frames.set(eraseAtFrame, [misc, 0x2c]); // EDM: erase displayed memory
  frames.set(eraseAtFrame + 1, [misc, 0x2c]);
  return frames;
}

/** Emulation prevention (H.264 7.4.1): 00 00 0x (x ≤ 3) → 00 00 03 0x. */
function escape(rbsp: number[]): number[] {
  const out: number[] = [];
  let zeros = 0;
  for (const b of rbsp) {
    if (zeros >= 2 && b <= 3) {
      out.push(3);
      zeros = 0;
    }
    out.push(b);
    zeros = b === 0 ? zeros + 1 : 0;
  }
  return out;
}

/** A 708 caption: its text on service 1, hidden again at frame `eraseAtFrame`. */
export interface Cea708Caption {
  text: string;
  eraseAtFrame: number;
}

/** DTVCC triplets a picture carries (A/53 allows more; two is enough for these small packets). */
const DTVCC_PER_FRAME = 2;
/** The first frame of the caption's packet (it is complete, and shown, at frame 7). */
const DTVCC_FIRST_FRAME = 3;

/** A DTVCC packet (CEA-708-E §5): header (sequence, size code), the service-1 block, padded to an even size. */
function dtvccPacket(sequence: number, serviceData: number[]): number[] {
  const body = [(1 << 5) | serviceData.length, ...serviceData];
  if ((body.length + 1) % 2 !== 0) body.push(0x00); // a null block header pads it
  return [((sequence & 3) << 6) | ((body.length + 1) / 2), ...body];
}

/** Per frame, the DTVCC triplets (cc_type 3 starts a packet, 2 continues it). */
function dtvccScript(c: Cea708Caption): Map<number, number[]> {
  const show = dtvccPacket(0, [
    // DF0: window 0, hidden, row and column lock, priority 0; absolute anchor row 65 of 75,
    // column 105 of 210, anchored bottom centre; one row of 32 columns; window and pen style 1
    0x98,
    0x18,
    65,
    105,
    0x70,
    31,
    0x09,
    0x92,
    0x00,
    0x00, // SPL: row 0, column 0
    ...Buffer.from(c.text, 'latin1'),
    0x89,
    0x01, // DSW: window 0 shown
  ]);
  const hide = dtvccPacket(1, [0x8a, 0x01]); // HDW: window 0 hidden
  const frames = new Map<number, number[]>();
  const spread = (packet: number[], first: number) => {
    for (let i = 0, n = 0; i < packet.length; i += 2, n++) {
      const frame = first + Math.floor(n / DTVCC_PER_FRAME);
      frames.set(frame, [...(frames.get(frame) ?? []), i === 0 ? 0xff : 0xfe, packet[i], packet[i + 1] ?? 0]);
    }
  };
  spread(show, DTVCC_FIRST_FRAME);
  spread(hide, c.eraseAtFrame);
  return frames;
}

/**
 * The SEI NAL unit carrying one frame's cc_data: field 1's pair (or padding), and on field 2 a
 * second triplet with its pair (or padding); with 708, a field 2 triplet always and then the
 * frame's DTVCC triplets, padded to the same count every frame.
 */
function captionSei(pair: [number, number] | undefined, field: 1 | 2, dtvcc?: number[]): Buffer {
  const data = (p: [number, number] | undefined) => (p ? [parity(p[0]), parity(p[1])] : [0x80, 0x80]);
  let cc = field === 1 ? [0xfc, ...data(pair)] : [0xfc, 0x80, 0x80, 0xfd, ...data(pair)];
  if (dtvcc) {
    if (field === 1) cc.push(0xfd, 0x80, 0x80);
    cc = [...cc, ...dtvcc];
    while (cc.length < 3 * (2 + DTVCC_PER_FRAME)) cc.push(0xfa, 0x00, 0x00); // cc_valid 0: DTVCC padding
  }
  const payload = [0xb5, 0x00, 0x31, ...Buffer.from('GA94'), 0x03, 0x40 | (cc.length / 3), 0xff, ...cc, 0xff];
  return Buffer.from([0x06, ...escape([4, payload.length, ...payload, 0x80])]);
}

/**
 * `annexB` (an H.264 elementary stream, one slice per picture, no B-frames) with the caption in it,
 * on CC1 (field 1) or CC3 (field 2), and with `cea708` a 708 caption on service 1 beside it.
 */
export function withCaption(
  annexB: Buffer,
  text: string,
  eraseAtFrame: number,
  field: 1 | 2 = 1,
  cea708?: Cea708Caption,
): Buffer {
  const starts: number[] = [];
  for (let i = annexB.indexOf(Buffer.from([0, 0, 1])); i !== -1; i = annexB.indexOf(Buffer.from([0, 0, 1]), i + 3))
    starts.push(i);
  const frames = script(text, eraseAtFrame, field);
  const dtvcc = cea708 ? dtvccScript(cea708) : undefined;
  const out: Buffer[] = [];
  let frame = 0;
  const startCode = Buffer.from([0, 0, 0, 1]);
  starts.forEach((s, k) => {
    let nal = annexB.subarray(s + 3, k + 1 < starts.length ? starts[k + 1] : annexB.length);
    while (nal.length > 0 && nal[nal.length - 1] === 0) nal = nal.subarray(0, nal.length - 1);
    const type = nal[0] & 0x1f;
    if (type === 1 || type === 5) {
      out.push(startCode, captionSei(frames.get(frame), field, dtvcc ? (dtvcc.get(frame) ?? []) : undefined));
      frame += 1;
    }
    out.push(startCode, nal);
  });
  return Buffer.concat(out);
}
