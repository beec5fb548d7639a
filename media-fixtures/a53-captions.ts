/**
 * CEA-608 closed captions carried in H.264 (ATSC A/53 Part 4: `GA94` user data in an SEI
 * `user_data_registered_itu_t_t35` message before each picture), written into an Annex B stream
 * for the `captioned` fixtures: ffmpeg has no 608 encoder, and broadcast sources carry captions
 * this way. One caption, pop-on, on CC1 (field 1) or CC3 (field 2): `text` shown from frame 7,
 * erased at frame `eraseAtFrame`; every other picture carries padding.
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

/**
 * The SEI NAL unit carrying one frame's cc_data: field 1's pair (or padding), and on field 2 a
 * second triplet with its pair (or padding).
 */
function captionSei(pair: [number, number] | undefined, field: 1 | 2): Buffer {
  const data = (p: [number, number] | undefined) => (p ? [parity(p[0]), parity(p[1])] : [0x80, 0x80]);
  const cc = field === 1 ? [0xfc, ...data(pair)] : [0xfc, 0x80, 0x80, 0xfd, ...data(pair)];
  const payload = [0xb5, 0x00, 0x31, ...Buffer.from('GA94'), 0x03, 0x40 | (cc.length / 3), 0xff, ...cc, 0xff];
  return Buffer.from([0x06, ...escape([4, payload.length, ...payload, 0x80])]);
}

/** `annexB` (an H.264 elementary stream, one slice per picture, no B-frames) with the caption in it, on CC1 (field 1) or CC3 (field 2). */
export function withCaption(annexB: Buffer, text: string, eraseAtFrame: number, field: 1 | 2 = 1): Buffer {
  const starts: number[] = [];
  for (let i = annexB.indexOf(Buffer.from([0, 0, 1])); i !== -1; i = annexB.indexOf(Buffer.from([0, 0, 1]), i + 3))
    starts.push(i);
  const frames = script(text, eraseAtFrame, field);
  const out: Buffer[] = [];
  let frame = 0;
  const startCode = Buffer.from([0, 0, 0, 1]);
  starts.forEach((s, k) => {
    let nal = annexB.subarray(s + 3, k + 1 < starts.length ? starts[k + 1] : annexB.length);
    while (nal.length > 0 && nal[nal.length - 1] === 0) nal = nal.subarray(0, nal.length - 1);
    const type = nal[0] & 0x1f;
    if (type === 1 || type === 5) out.push(startCode, captionSei(frames.get(frame++), field));
    out.push(startCode, nal);
  });
  return Buffer.concat(out);
}
