/**
 * `--captions` (`streamedge package`) and `--live-captions` (`streamedge origin`): which caption
 * services of the source's video the manifests announce (CEA-608 channels CC1–CC4, CEA-708
 * services SERVICE1–SERVICE63), and in which language, when the source cannot say (608 carries
 * neither in a way players read; broadcasters keep it in their schedules):
 *
 *   none                          announce none, even when the video carries some
 *   CC1=en                        CC1, English (its NAME: the language's English name)
 *   CC1=en:English,CC3=es:Español two channels, named
 *   CC1=en,SERVICE1=en            608 and 708 side by side, as ATSC broadcasts carry them
 *   CC1                           the channel alone, no language
 *
 * Without the option, what the video carries is announced, unnamed.
 */
import { StreamedgeError } from '../errors.js';
import { languageName, parseLanguageTag } from '../media/language-tag.js';
import type { ClosedCaptionService } from '../media/presentation.js';

/** The option's services, or 'none'; throws BAD_OPTION (or BAD_LANGUAGE) naming `flag`. */
export function captionServicesOption(text: string, flag: string): ClosedCaptionService[] | 'none' {
  if (text.trim().toLowerCase() === 'none') return 'none';
  const services: ClosedCaptionService[] = [];
  for (const item of text.split(',').map((s) => s.trim())) {
    const m = /^(CC[1-4]|SERVICE(?:[1-9]|[1-5]\d|6[0-3]))(?:=([^:]+)(?::(.+))?)?$/i.exec(item);
    if (!m)
      throw new StreamedgeError(
        'BAD_OPTION',
        `${flag} "${item}": expected none, or CC1–CC4 (CEA-608) or SERVICE1–SERVICE63 (CEA-708) with an optional language and name, e.g. CC1=en:English,CC3=es,SERVICE1=en`,
      );
    const instreamId = m[1].toUpperCase() as ClosedCaptionService['instreamId'];
    if (services.some((s) => s.instreamId === instreamId))
      throw new StreamedgeError('BAD_OPTION', `${flag}: ${instreamId} is given twice`);
    const language = m[2] === undefined ? undefined : parseLanguageTag(m[2].trim(), `${flag} ${instreamId}`);
    const name = m[3]?.trim() || (language && (languageName(language) ?? language)) || instreamId;
    if (name.includes('"'))
      throw new StreamedgeError('BAD_OPTION', `${flag} ${instreamId}: a name may not hold a quote`);
    services.push({ instreamId, name, ...(language ? { language } : {}) });
  }
  return services;
}
