import { describe, expect, it } from 'vitest';
import { hdrStaticMetadata } from '../../../packager/hdr-metadata.js';

const mdcv = {
  side_data_type: 'Mastering display metadata',
  red_x: '34000/50000',
  red_y: '16000/50000',
  green_x: '13250/50000',
  green_y: '34500/50000',
  blue_x: '7500/50000',
  blue_y: '3000/50000',
  white_point_x: '15635/50000',
  white_point_y: '16450/50000',
  min_luminance: '50/10000',
  max_luminance: '4000/1',
};
const clli = { side_data_type: 'Content light level metadata', max_content: 1000, max_average: 400 };

describe('hdrStaticMetadata', () => {
  it("ffprobe's side data as x265's master-display (0.00002 and 0.0001 cd/m² units, G B R WP L order) and max-cll", () => {
    expect(hdrStaticMetadata([{ side_data_type: 'Display Matrix', rotation: 0 }, mdcv, clli])).toEqual({
      masterDisplay: 'G(13250,34500)B(7500,3000)R(34000,16000)WP(15635,16450)L(40000000,50)',
      maxCll: '1000,400',
    });
  });
  it('either alone, and none from nothing', () => {
    expect(hdrStaticMetadata([clli])).toEqual({ maxCll: '1000,400' });
    expect(hdrStaticMetadata([mdcv]).maxCll).toBeUndefined();
    expect(hdrStaticMetadata([])).toEqual({});
  });
  it('drops malformed entries rather than pass nonsense to the encoder', () => {
    expect(hdrStaticMetadata([{ ...mdcv, red_x: 'n/a' }])).toEqual({});
    expect(hdrStaticMetadata([{ ...mdcv, max_luminance: '0/1' }])).toEqual({});
    expect(hdrStaticMetadata([{ ...mdcv, blue_y: '3/1' }])).toEqual({});
    expect(hdrStaticMetadata([{ ...clli, max_average: undefined }])).toEqual({});
  });
});
