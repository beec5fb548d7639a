/**
 * HDR10 static metadata (SMPTE ST 2086 mastering display colour volume, CTA-861.3 content light
 * level), from ffprobe's side data of a source's stream or first frame, as libx265's
 * `master-display` and `max-cll` parameters, so HDR HEVC renditions carry the source's in their
 * SEI messages: what an HDR10 display tone-maps with.
 */

/** ffprobe's side data entry, as JSON (rationals as "n/d" strings, light levels as numbers). */
export type ProbeSideData = Record<string, string | number | undefined>;

export interface HdrStaticMetadata {
  /** x265 `master-display`: G(x,y)B(x,y)R(x,y)WP(x,y)L(max,min), chromaticities in 0.00002, luminance in 0.0001 cd/m². */
  masterDisplay?: string;
  /** x265 `max-cll`: "MaxCLL,MaxFALL" in cd/m². */
  maxCll?: string;
}

function rational(v: string | number | undefined): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) ? v : undefined;
  if (typeof v !== 'string') return undefined;
  const [n, d = '1'] = v.split('/');
  const x = Number(n) / Number(d);
  return Number.isFinite(x) ? x : undefined;
}

/** The metadata in `sideData` (the stream's and the first frame's entries, in any order); none when absent or malformed. */
export function hdrStaticMetadata(sideData: readonly ProbeSideData[]): HdrStaticMetadata {
  const out: HdrStaticMetadata = {};
  const mdcv = sideData.find((d) => d.side_data_type === 'Mastering display metadata');
  if (mdcv) {
    const chroma = (k: string): number | undefined => {
      const x = rational(mdcv[k]);
      return x === undefined || x < 0 || x > 1.31 ? undefined : Math.round(x * 50_000);
    };
    const points = ['green', 'blue', 'red', 'white_point'].map((c) => [chroma(`${c}_x`), chroma(`${c}_y`)]);
    const max = rational(mdcv.max_luminance);
    const min = rational(mdcv.min_luminance);
    if (points.flat().every((p) => p !== undefined) && max !== undefined && min !== undefined && max > 0) {
      const [g, b, r, wp] = points;
      out.masterDisplay =
        `G(${g[0]},${g[1]})B(${b[0]},${b[1]})R(${r[0]},${r[1]})WP(${wp[0]},${wp[1]})` +
        `L(${Math.round(max * 10_000)},${Math.round(min * 10_000)})`;
    }
  }
  const clli = sideData.find((d) => d.side_data_type === 'Content light level metadata');
  const maxCll = rational(clli?.max_content);
  const maxFall = rational(clli?.max_average);
  if (maxCll !== undefined && maxFall !== undefined && maxCll >= 0 && maxFall >= 0) {
    out.maxCll = `${Math.round(maxCll)},${Math.round(maxFall)}`;
  }
  return out;
}
