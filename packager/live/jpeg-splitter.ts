/**
 * Cuts a byte stream of concatenated baseline JPEG images (ffmpeg's `-f mjpeg` output) into
 * whole images, whatever the chunking. An image is SOI, marker segments read by their lengths
 * (so table bytes that happen to read FF D9 are not mistaken for its end), then after SOS the
 * entropy-coded data, in which FF is always followed by 00 (stuffing) or a restart marker; the
 * first other marker there is EOI.
 */
export class JpegSplitter {
  private buf: Buffer = Buffer.alloc(0);

  /** Adds bytes; returns the images they completed, in order. */
  push(chunk: Buffer): Buffer[] {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    const images: Buffer[] = [];
    for (;;) {
      const end = imageEnd(this.buf);
      if (end === undefined) break;
      images.push(this.buf.subarray(0, end));
      this.buf = this.buf.subarray(end);
    }
    return images;
  }
}

/** Bytes of the first whole image at the start of `b`, or undefined while it is incomplete. */
function imageEnd(b: Buffer): number | undefined {
  if (b.length < 2) return undefined;
  if (b[0] !== 0xff || b[1] !== 0xd8) throw new Error('not a JPEG stream: no SOI where an image should start');
  let i = 2;
  // marker segments up to and including SOS
  for (;;) {
    if (i + 4 > b.length) return undefined;
    if (b[i] !== 0xff) throw new Error(`not a JPEG stream: no marker at byte ${i}`);
    const marker = b[i + 1];
    if (marker === 0xff) {
      i++; // fill byte
      continue;
    }
    const length = b.readUInt16BE(i + 2);
    i += 2 + length;
    if (marker === 0xda) break;
  }
  // entropy-coded data: the first FF not followed by 00 or RST0–7 starts the next marker (EOI)
  for (; i + 1 < b.length; i++) {
    if (b[i] !== 0xff) continue;
    const next = b[i + 1];
    if (next === 0x00 || (next >= 0xd0 && next <= 0xd7) || next === 0xff) continue;
    if (next === 0xd9) return i + 2;
    throw new Error(`not a baseline JPEG stream: marker ${next.toString(16)} inside the scan`);
  }
  return undefined;
}
