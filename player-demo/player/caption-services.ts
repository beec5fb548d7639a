/**
 * The closed-caption services a manifest announces, as m3u8-parser and mpd-parser both give them
 * (`mediaGroups['CLOSED-CAPTIONS']`: HLS EXT-X-MEDIA TYPE=CLOSED-CAPTIONS; DASH the
 * `urn:scte:dash:cc:cea-608:2015` Accessibility descriptor, value `CC1`, `CC1=eng` or `eng`, and
 * the `urn:scte:dash:cc:cea-708:2015` one, `1=lang:eng`): CEA-608 channels (INSTREAM-ID CC1–CC4)
 * and CEA-708 services (SERVICE1–SERVICE63).
 */
import type { CaptionServiceId } from '../../src/captions/caption-decoder.js';
import type { CaptionServiceRef } from './source-model.js';

/** One entry of the parsers' CLOSED-CAPTIONS group. */
export interface ParsedCaptionService {
  instreamId?: string;
  language?: string;
  default?: boolean;
}

/** The services of the first CLOSED-CAPTIONS group (the one variants name: we write one). */
export function captionServices(
  groups: Record<string, Record<string, ParsedCaptionService>> | undefined,
): CaptionServiceRef[] {
  const group = Object.values(groups ?? {})[0] ?? {};
  const out: CaptionServiceRef[] = [];
  for (const [name, s] of Object.entries(group)) {
    const m = /^(?:CC[1-4]|SERVICE([1-9]\d?))$/.exec(s.instreamId ?? '');
    if (!m || (m[1] !== undefined && Number(m[1]) > 63)) continue;
    const service = s.instreamId as CaptionServiceId;
    if (out.some((o) => o.service === service)) continue;
    // mpd-parser takes a bare `CC1` value for the language too
    const language = s.language && !/^CC\d$/.test(s.language) ? s.language : 'und';
    out.push({ id: `cc:${service}`, service, language, name, default: Boolean(s.default) });
  }
  return out;
}
