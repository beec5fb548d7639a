/**
 * The configuration boxes of Dolby Digital (AC-3, `dac3`) and Dolby Digital Plus (E-AC-3, `dec3`)
 * sample entries (ETSI TS 102 366 Annex F): the channel count and the channel mask DASH signals
 * for them (DASH-IF IOP: scheme `tag:dolby.com,2014:dash:audio_channel_configuration:2011`, four
 * hex digits, bit 15 = L … bit 0 = LFE). The sample entry's own channelcount is always 2 for these
 * codecs; the layout is only here.
 */
import { StreamedgeError } from '../errors.js';

export interface DolbyChannels {
  channels: number;
  /** The 16-bit channel mask (0xF801 for 5.1). */
  mask: number;
}

/** acmod (ATSC A/52 Table 5.8) → [channels, mask]: 1+1, C, L R, L C R, L R S, L C R S, L R Ls Rs, L C R Ls Rs. */
const ACMOD: readonly [number, number][] = [
  [2, 0xa000],
  [1, 0x4000],
  [2, 0xa000],
  [3, 0xe000],
  [3, 0xa100],
  [4, 0xe100],
  [4, 0xb800],
  [5, 0xf800],
];
const LFE = 0x0001;
class Bits {
  private pos = 0;
  constructor(
    private readonly buf: Buffer,
    private readonly box: string,
  ) {}

  read(n: number): number {
    let v = 0;
    for (let i = 0; i < n; i++, this.pos++) {
      const byte = this.pos >> 3;
      if (byte >= this.buf.length)
        throw new StreamedgeError('BAD_BOX', `${this.box} is too short (${this.buf.length} bytes)`);
      v = (v << 1) | ((this.buf[byte] >> (7 - (this.pos & 7))) & 1);
    }
    return v;
  }
}

function layout(acmod: number, lfeon: number): DolbyChannels {
  const [channels, mask] = ACMOD[acmod];
  return { channels: channels + lfeon, mask: mask | (lfeon ? LFE : 0) };
}

/** AC3SpecificBox (`dac3`): fscod, bsid, bsmod, acmod, lfeon, bit_rate_code. */
export function ac3Channels(payload: Buffer): DolbyChannels {
  const b = new Bits(payload, 'dac3');
  b.read(2 + 5 + 3); // fscod, bsid, bsmod
  const acmod = b.read(3);
  return layout(acmod, b.read(1));
}

/**
 * EC3SpecificBox (`dec3`): the first independent substream's layout. Dependent substreams (7.1
 * and beyond) are refused with a clear error: the packager mixes every source down to 5.1, so
 * only a foreign file could carry them, and their channel locations are not read here.
 */
export function ec3Channels(payload: Buffer): DolbyChannels {
  const b = new Bits(payload, 'dec3');
  b.read(13); // data_rate
  b.read(3); // num_ind_sub
  b.read(2 + 5 + 1 + 1 + 3); // fscod, bsid, reserved, asvc, bsmod
  const acmod = b.read(3);
  const out = layout(acmod, b.read(1));
  b.read(3); // reserved
  if (b.read(4) > 0) {
    throw new StreamedgeError(
      'UNSUPPORTED_MEDIA',
      'E-AC-3 with dependent substreams (more than 5.1 channels) is not supported',
    );
  }
  return out;
}

/** The mask as DASH writes it: four uppercase hex digits. */
export function dolbyMaskHex(mask: number): string {
  return mask.toString(16).toUpperCase().padStart(4, '0');
}
