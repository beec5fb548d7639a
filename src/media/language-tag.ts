/**
 * BCP 47 language tags (RFC 5646 §2.1): well-formedness of the "langtag" production (language
 * with optional extlang, script, region, variants, extensions, private use) or a private-use tag.
 * Primary subtags of 4 (reserved) or 5-8 letters (none registered) are refused, so "english" is
 * caught; registry validity otherwise (is "qq" a language?) is not checked; case is normalised the RFC 5646 §2.1.1
 * way (language lower, Script title, REGION upper).
 */
import { StreamedgeError } from '../errors.js';

const LANGTAG = new RegExp(
  '^' +
    '(?<language>[a-z]{2,3}(?:-[a-z]{3}){0,3})' +
    '(?:-(?<script>[a-z]{4}))?' +
    '(?:-(?<region>[a-z]{2}|[0-9]{3}))?' +
    '(?:-(?:[a-z0-9]{5,8}|[0-9][a-z0-9]{3}))*' +
    '(?:-[0-9a-wy-z](?:-[a-z0-9]{2,8})+)*' +
    '(?:-x(?:-[a-z0-9]{1,8})+)?' +
    '$',
  'i',
);
const PRIVATE_USE = /^x(?:-[a-z0-9]{1,8})+$/i;

/** The tag in canonical case, or a StreamedgeError BAD_LANGUAGE naming `what`. */
export function parseLanguageTag(tag: string, what: string): string {
  if (PRIVATE_USE.test(tag)) return tag.toLowerCase();
  const m = LANGTAG.exec(tag);
  if (!m) {
    throw new StreamedgeError(
      'BAD_LANGUAGE',
      `${what}: "${tag}" is not a BCP 47 language tag (e.g. en, pt-BR, zh-Hant, es-419)`,
    );
  }
  return tag
    .split('-')
    .map((sub, i) => {
      if (i === 0) return sub.toLowerCase();
      if (sub.length === 4 && /^[a-z]+$/i.test(sub) && sub.toLowerCase() === m.groups?.script?.toLowerCase())
        return sub[0].toUpperCase() + sub.slice(1).toLowerCase();
      if (sub.length === 2 && sub.toLowerCase() === m.groups?.region?.toLowerCase()) return sub.toUpperCase();
      return sub.toLowerCase();
    })
    .join('-');
}

/** The English name of a language tag ("pt-BR" → "Brazilian Portuguese"), or undefined when the runtime knows none. */
export function languageName(tag: string): string | undefined {
  try {
    const name = new Intl.DisplayNames(['en'], { type: 'language' }).of(tag);
    return name && name !== tag ? name : undefined;
  } catch {
    return undefined;
  }
}
