/**
 * Which Representations of an MPD are HDR video: those of an AdaptationSet (or the Representation
 * itself) carrying an essential or supplemental property `urn:mpeg:mpegB:cicp:TransferCharacteristics`
 * of 16 (PQ) or 18 (HLG), ISO/IEC 23001-8 code points, as our MPD writer and DVB-DASH signal them.
 * Browser-safe; reads the MPD text (mpd-parser keeps no descriptors).
 */
const SET = /<((?:[\w-]+:)?AdaptationSet)\b[^>]*>([\s\S]*?)<\/\1\s*>/g;
const REPRESENTATION = /<((?:[\w-]+:)?Representation)\b([^>]*?)(?:\/>|>([\s\S]*?)<\/\1\s*>)/g;
const PROPERTY = /<(?:[\w-]+:)?(?:Essential|Supplemental)Property\b[^>]*>/g;

function rangeIn(xml: string): 'PQ' | 'HLG' | undefined {
  for (const [tag] of xml.matchAll(PROPERTY)) {
    if (!/schemeIdUri="urn:mpeg:mpegB:cicp:TransferCharacteristics"/.test(tag)) continue;
    const value = /\bvalue="(\d+)"/.exec(tag)?.[1];
    if (value === '16') return 'PQ';
    if (value === '18') return 'HLG';
  }
  return undefined;
}

/** Representation id → its high dynamic range, for the HDR ones only. */
export function hdrRepresentations(mpd: string): Map<string, 'PQ' | 'HLG'> {
  const out = new Map<string, 'PQ' | 'HLG'>();
  for (const set of mpd.matchAll(SET)) {
    const body = set[2];
    // the set's own properties: its text without its Representations
    const setRange = rangeIn(body.replace(REPRESENTATION, ''));
    for (const rep of body.matchAll(REPRESENTATION)) {
      const id = /\bid="([^"]+)"/.exec(rep[2])?.[1];
      const range = rangeIn(rep[3] ?? '') ?? setRange;
      if (id !== undefined && range) out.set(id, range);
    }
  }
  return out;
}
