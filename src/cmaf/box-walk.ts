/**
 * Walking ISO-BMFF boxes in a Uint8Array, browser-safe (no Buffer): the player and the caption
 * reader use it on media as it arrives. Nothing throws: a box that runs past its parent ends the
 * walk (media still arriving, or damaged), and the caller sees fewer boxes.
 */

/** The four-character type at `at`. */
export function boxType(b: Uint8Array, at: number): string {
  return String.fromCharCode(b[at], b[at + 1], b[at + 2], b[at + 3]);
}

/** The boxes in [start, end): type, payload start, end. */
export function* childBoxes(b: Uint8Array, start: number, end: number): Generator<[string, number, number]> {
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  let at = start;
  while (at + 8 <= end) {
    let size = view.getUint32(at);
    let header = 8;
    if (size === 1) {
      if (at + 16 > end) return;
      size = Number(view.getBigUint64(at + 8));
      header = 16;
    } else if (size === 0) size = end - at;
    if (size < header || at + size > end) return;
    yield [boxType(b, at + 4), at + header, at + size];
    at += size;
  }
}

/** The payload range of the first `type` box in [start, end). */
export function childBox(b: Uint8Array, start: number, end: number, type: string): [number, number] | undefined {
  for (const [t, s, e] of childBoxes(b, start, end)) if (t === type) return [s, e];
  return undefined;
}

/** The payload range of the box at `path` (each the first of its type in its parent), from the top of `b`. */
export function boxAt(b: Uint8Array, path: readonly string[]): [number, number] | undefined {
  let range: [number, number] | undefined = [0, b.byteLength];
  for (const type of path) {
    range = childBox(b, range[0], range[1], type);
    if (!range) return undefined;
  }
  return range;
}
