/**
 * Encrypting (and, for checks, decrypting) one sample in place under Common Encryption
 * (ISO/IEC 23001-7 §9–10):
 *  - 'cenc': AES-128-CTR; the counter block is the sample's 8-byte IV followed by a 64-bit block
 *    counter from 0; the protected ranges of a sample form one keystream.
 *  - 'cbcs': AES-128-CBC with the constant IV restarted at every subsample, over a pattern of
 *    `crypt` encrypted 16-byte blocks then `skip` clear ones (1:9 for video); 0:0 encrypts every
 *    whole block (audio). A trailing partial block stays clear.
 * Without subsamples the whole sample is one protected range.
 */
import { createCipheriv, createDecipheriv } from 'node:crypto';
import type { Subsample, TrackEncryption } from './protection-boxes.js';

const BLOCK = 16;

/** The [start, end) byte ranges of a sample that are protected. */
function protectedRanges(size: number, subsamples: readonly Subsample[] | undefined): [number, number][] {
  if (!subsamples || subsamples.length === 0) return [[0, size]];
  const out: [number, number][] = [];
  let pos = 0;
  for (const s of subsamples) {
    pos += s.clear;
    if (s.protected > 0) out.push([pos, pos + s.protected]);
    pos += s.protected;
  }
  return out;
}

/** The blocks of one cbcs range that the pattern encrypts, as offsets. */
function patternBlocks(start: number, end: number, crypt: number, skip: number): number[] {
  const blocks: number[] = [];
  const whole = start + Math.floor((end - start) / BLOCK) * BLOCK;
  if (crypt === 0 && skip === 0) {
    for (let p = start; p < whole; p += BLOCK) blocks.push(p);
    return blocks;
  }
  for (let p = start; p < whole; p += (crypt + skip) * BLOCK) {
    for (let i = 0; i < crypt && p + i * BLOCK < whole; i++) blocks.push(p + i * BLOCK);
  }
  return blocks;
}

function transform(
  sample: Buffer,
  key: Buffer,
  t: TrackEncryption,
  iv: Buffer,
  subsamples: readonly Subsample[] | undefined,
  encrypt: boolean,
): void {
  const ranges = protectedRanges(sample.length, subsamples);
  if (t.scheme === 'cenc') {
    const counter = Buffer.alloc(BLOCK);
    iv.copy(counter, 0, 0, Math.min(iv.length, BLOCK));
    const c = encrypt ? createCipheriv('aes-128-ctr', key, counter) : createDecipheriv('aes-128-ctr', key, counter);
    for (const [a, b] of ranges) c.update(sample.subarray(a, b)).copy(sample, a);
    return;
  }
  const civ = iv.length === BLOCK ? iv : Buffer.concat([iv, Buffer.alloc(BLOCK - iv.length)]);
  for (const [a, b] of ranges) {
    const blocks = patternBlocks(a, b, t.cryptByteBlock, t.skipByteBlock);
    if (blocks.length === 0) continue;
    // gather the pattern's blocks, run CBC over them in one call (chaining skips the clear ones), scatter back
    const gathered = Buffer.allocUnsafe(blocks.length * BLOCK);
    blocks.forEach((p, i) => sample.copy(gathered, i * BLOCK, p, p + BLOCK));
    const c = encrypt ? createCipheriv('aes-128-cbc', key, civ) : createDecipheriv('aes-128-cbc', key, civ);
    c.setAutoPadding(false);
    const out = c.update(gathered);
    blocks.forEach((p, i) => out.copy(sample, p, i * BLOCK, (i + 1) * BLOCK));
  }
}

/** Encrypts `sample` in place. `iv`: the sample's IV (cenc) or the track's constant IV (cbcs). */
export function encryptSample(
  sample: Buffer,
  key: Buffer,
  t: TrackEncryption,
  iv: Buffer,
  subsamples?: readonly Subsample[],
): void {
  transform(sample, key, t, iv, subsamples, true);
}

/** The inverse of encryptSample, in place. */
export function decryptSample(
  sample: Buffer,
  key: Buffer,
  t: TrackEncryption,
  iv: Buffer,
  subsamples?: readonly Subsample[],
): void {
  transform(sample, key, t, iv, subsamples, false);
}
