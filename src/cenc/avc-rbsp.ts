/**
 * Bit reader for H.264 NAL unit payloads (ITU-T H.264 §7.2, §7.3.1, §9.1): reads the RBSP
 * (raw byte sequence payload) while removing emulation_prevention_three_byte (the 0x03 of every
 * 0x000003) on the fly, and reports both positions: bits read in the RBSP, and how many bytes of
 * the ORIGINAL (escaped) NAL unit hold them. Subsample maps count original bytes, so a header that
 * spans an emulation-prevention byte must count it. Fields: u(n), ue(v) and se(v) Exp-Golomb codes.
 * Every read past the end of the NAL unit throws StreamedgeError('BAD_MEDIA').
 */
import { StreamedgeError } from '../errors.js';

export class RbspReader {
  /** Index in `data` of the next escaped byte to load. */
  private next: number;
  /** The byte being read, and how many of its bits are still unread. */
  private cur = 0;
  private bitsLeft = 0;
  /** RBSP bytes loaded so far. */
  private loaded = 0;
  /** Consecutive 0x00 RBSP bytes just loaded (two of them make a following 0x03 an emulation-prevention byte). */
  private zeros = 0;
  /** Emulation-prevention bytes skipped so far. */
  private skipped = 0;

  /**
   * Reads data[start, end): the escaped bytes of one NAL unit after its header byte.
   * `what` names the structure in error messages ("SPS", "slice header", …).
   */
  constructor(
    private readonly data: Buffer,
    private readonly start: number,
    private readonly end: number,
    private readonly what: string,
  ) {
    this.next = start;
  }

  /** Bits consumed, counted in the RBSP (emulation-prevention bytes excluded). */
  get bitsRead(): number {
    return this.loaded * 8 - this.bitsLeft;
  }

  /**
   * Escaped bytes from `start` through the byte holding the last bit read: the extent, in the
   * original NAL unit, of everything read so far, rounded up to a whole byte.
   */
  get escapedBytesRead(): number {
    return this.next - this.start;
  }

  /** Emulation-prevention bytes removed among the bytes read so far. */
  get emulationPreventionBytes(): number {
    return this.skipped;
  }

  private fail(detail: string): StreamedgeError {
    return new StreamedgeError('BAD_MEDIA', `${this.what}: ${detail}`);
  }

  private load(): void {
    if (this.next >= this.end) {
      throw this.fail(
        `runs past the end of the NAL unit (${this.end - this.start} payload bytes): truncated or unparsable`,
      );
    }
    let b = this.data[this.next];
    if (this.zeros >= 2 && b === 0x03) {
      this.skipped++;
      this.next++;
      this.zeros = 0;
      if (this.next >= this.end) {
        throw this.fail('runs past the end of its NAL unit (ends on an emulation-prevention byte)');
      }
      b = this.data[this.next];
    }
    this.zeros = b === 0 ? this.zeros + 1 : 0;
    this.next++;
    this.loaded++;
    this.cur = b;
    this.bitsLeft = 8;
  }

  /** One bit. */
  u1(): number {
    if (this.bitsLeft === 0) this.load();
    this.bitsLeft--;
    return (this.cur >> this.bitsLeft) & 1;
  }

  flag(): boolean {
    return this.u1() === 1;
  }

  /** u(n), n in [0, 32]. */
  u(n: number): number {
    let v = 0;
    for (let i = 0; i < n; i++) v = v * 2 + this.u1();
    return v;
  }

  /** ue(v) (§9.1): unsigned Exp-Golomb, up to 2^32 - 2. */
  ue(): number {
    let zeros = 0;
    while (this.u1() === 0) {
      if (++zeros > 31) throw this.fail('an Exp-Golomb code has more than 31 leading zero bits (corrupt bitstream)');
    }
    return 2 ** zeros - 1 + this.u(zeros);
  }

  /** se(v) (§9.1.1): signed Exp-Golomb. */
  se(): number {
    const k = this.ue();
    if (k % 2 === 1) return (k + 1) / 2;
    return k === 0 ? 0 : -k / 2;
  }

  /** ue(v) that must not exceed `max` (a syntax element's range from §7.4). */
  ueMax(max: number, name: string): number {
    const v = this.ue();
    if (v > max) throw this.fail(`${name} is ${v}, above its maximum of ${max}`);
    return v;
  }
}
