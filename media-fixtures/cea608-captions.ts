/**
 * CEA-608 closed captions carried in H.264 (ATSC A/53 Part 4: `GA94` user data in an SEI
 * `user_data_registered_itu_t_t35` message before each picture), written into an Annex B stream
 * for the `captioned` fixture: ffmpeg has no 608 encoder, and broadcast sources carry captions
 * this way. One caption, pop-on, channel CC1 (field 1): `text` shown from frame 7, erased at frame
 * `eraseAtFrame`; every other picture carries padding.
 */

/** A 608 byte with odd parity in bit 7. */
function parity(b: number): number {
  const v = b & 0x7f;
  let ones = 0;
  for (let x = v; x; x >>= 1) ones += x & 1;
  return ones % 2 === 0 ? v | 0x80 : v;
}

/** The byte pairs for each frame of the caption (control codes sent twice, as encoders do). */
function script(text: string, eraseAtFrame: number): Map<number, [number, number]> {
  const pairs: [number, number][] = [
    [0x14, 0x20], // RCL: resume caption loading (pop-on)
    [0x14, 0x20],
    [0x14, 0x70], // PAC: row 15, white
    [0x14, 0x70],
  ];
  for (let i = 0; i < text.length; i += 2)
    pairs.push([text.charCodeAt(i), i + 1 < text.length ? text.charCodeAt(i + 1) : 0]);
  pairs.push([0x14, 0x2f], [0x14, 0x2f]); // EOC: end of caption, shown now
  const frames = new Map<number, [number, number]>(pairs.map((p, i) => [i, p]));
  frames.set(eraseAtFrame, [0x14, 0x2c]); // EDM: erase displayed memory
  frames.set(eraseAtFrame + 1, [0x14, 0x2c]);
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

/** The SEI NAL unit carrying one frame's cc_data (a pair, or padding). */
function captionSei(pair: [number, number] | undefined): Buffer {
  const cc = pair ? [0xfc, parity(pair[0]), parity(pair[1])] : [0xfc, 0x80, 0x80];
  const payload = [0xb5, 0x00, 0x31, ...Buffer.from('GA94'), 0x03, 0x40 | 1, 0xff, ...cc, 0xff];
  return Buffer.from([0x06, ...escape([4, payload.length, ...payload, 0x80])]);
}

/** `annexB` (an H.264 elementary stream, one slice per picture, no B-frames) with the caption in it. */
export function withCaption(annexB: Buffer, text: string, eraseAtFrame: number): Buffer {
  const starts: number[] = [];
  for (let i = annexB.indexOf(Buffer.from([0, 0, 1])); i !== -1; i = annexB.indexOf(Buffer.from([0, 0, 1]), i + 3))
    starts.push(i);
  const frames = script(text, eraseAtFrame);
  const out: Buffer[] = [];
  let frame = 0;
  const startCode = Buffer.from([0, 0, 0, 1]);
  starts.forEach((s, k) => {
    let nal = annexB.subarray(s + 3, k + 1 < starts.length ? starts[k + 1] : annexB.length);
    while (nal.length > 0 && nal[nal.length - 1] === 0) nal = nal.subarray(0, nal.length - 1);
    const type = nal[0] & 0x1f;
    if (type === 1 || type === 5) out.push(startCode, captionSei(frames.get(frame++)));
    out.push(startCode, nal);
  });
  return Buffer.concat(out);
}
