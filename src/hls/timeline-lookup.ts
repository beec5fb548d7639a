import { StreamedgeError } from '../errors.js';
import type { Presentation, RenditionTimeline } from '../media/presentation.js';

/** The timeline of `renditionId`, or a typed error naming the renditions that exist. */
export function findTimeline(p: Presentation, renditionId: string): RenditionTimeline {
  const t = p.timelines.find((tl) => tl.rendition.id === renditionId);
  if (!t) {
    const known = p.timelines.map((tl) => tl.rendition.id).join(', ') || '(none)';
    throw new StreamedgeError(
      'UNKNOWN_RENDITION',
      `Presentation "${p.id}" has no rendition "${renditionId}" (renditions: ${known})`,
    );
  }
  return t;
}
