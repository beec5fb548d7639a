/**
 * The closed-caption services a manifest announces, as m3u8-parser and mpd-parser both give them
 * (`mediaGroups['CLOSED-CAPTIONS']`: HLS EXT-X-MEDIA TYPE=CLOSED-CAPTIONS; DASH the
 * `urn:scte:dash:cc:cea-608:2015` Accessibility descriptor, value `CC1`, `CC1=eng` or `eng`).
 * CEA-608 channels only (INSTREAM-ID CC1–CC4); 708 services (SERVICEn) are not decoded.
 */
import type { CaptionChannel } from '../../src/captions/cea608.js';
import type { CaptionServiceRef } from './source-model.js';

/** One entry of the parsers' CLOSED-CAPTIONS group. */
export interface ParsedCaptionService {
  instreamId?: string;
  language?: string;
  default?: boolean;
}

/** The 608 services of the first CLOSED-CAPTIONS group (the one variants name: we write one). */
export function captionServices(
  groups: Record<string, Record<string, ParsedCaptionService>> | undefined,
): CaptionServiceRef[] {
  const group = Object.values(groups ?? {})[0] ?? {};
  const out: CaptionServiceRef[] = [];
  for (const [name, s] of Object.entries(group)) {
    const m = /^CC([1-4])$/.exec(s.instreamId ?? '');
    if (!m) continue;
    const channel = Number(m[1]) as CaptionChannel;
    if (out.some((o) => o.channel === channel)) continue;
    // mpd-parser takes a bare `CC1` value for the language too
    const language = s.language && !/^CC\d$/.test(s.language) ? s.language : 'und';
    out.push({ id: `cc:CC${channel}`, channel, language, name, default: Boolean(s.default) });
  }
  return out;
}
