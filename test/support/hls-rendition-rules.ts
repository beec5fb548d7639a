/**
 * Checks the rendition (EXT-X-MEDIA) rules of a multivariant playlist, from RFC 8216bis
 * section 4.4.6.1 (EXT-X-MEDIA) and 4.4.6.1.1 (Rendition Groups) and the Apple HLS authoring
 * specification's rules for alternate audio and subtitles. Returns every violation, each named
 * by its rule; an empty list passes. Our reading of the texts, written for the packager's tests:
 *
 *   media.required      TYPE, GROUP-ID and NAME are present; TYPE is AUDIO, VIDEO, SUBTITLES or CLOSED-CAPTIONS
 *   media.uri           SUBTITLES has a URI; CLOSED-CAPTIONS has none (and has INSTREAM-ID)
 *   media.language      LANGUAGE (and ASSOC-LANGUAGE) is a well-formed RFC 5646 tag
 *   media.autoselect    AUTOSELECT is YES when DEFAULT is YES
 *   media.forced        FORCED appears only on SUBTITLES
 *   media.characteristics  CHARACTERISTICS is a comma-separated list of UTIs (e.g. public.accessibility.describes-video)
 *   media.channels      (Apple) every AUDIO rendition carries CHANNELS; CHANNELS appears on AUDIO only
 *   group.default       no group has more than one DEFAULT=YES; (Apple) an AUDIO group has exactly one
 *   group.name          NAME is unique within a group
 *   group.autoselect    AUTOSELECT=YES members of a group differ in LANGUAGE, ASSOC-LANGUAGE, FORCED, CHANNELS or CHARACTERISTICS
 *   group.subtitles-forced  a FORCED=YES subtitle rendition has AUTOSELECT=YES (our reading of Apple's rule: forced
 *                       text is picked by the player to match the audio language, never from the viewer's menu)
 *   variant.groups      every AUDIO/SUBTITLES/VIDEO/CLOSED-CAPTIONS value of EXT-X-STREAM-INF names a group of that TYPE
 *   variant.audio-codec (Apple) a variant that names an AUDIO group lists an audio codec in CODECS
 */
import { parseLanguageTag } from '../../src/media/language-tag.js';

export interface RuleViolation {
  rule: string;
  line: string;
  why: string;
}

type Attrs = Map<string, string>;

/** Attribute list (RFC 8216bis 4.2): quoted strings keep commas; values are returned unquoted. */
function parseAttributes(text: string): Attrs {
  const out = new Map<string, string>();
  const re = /([A-Z0-9-]+)=("[^"]*"|[^,]*)(?:,|$)/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text)) !== null) {
    const v = m[2];
    out.set(m[1], v.startsWith('"') ? v.slice(1, -1) : v);
    if (m[0] === '') break;
  }
  return out;
}

function isLanguageTag(tag: string): boolean {
  try {
    parseLanguageTag(tag, 'LANGUAGE');
    return true;
  } catch {
    return false;
  }
}

const UTI = /^[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+$/;
const TYPES = new Set(['AUDIO', 'VIDEO', 'SUBTITLES', 'CLOSED-CAPTIONS']);

export function checkRenditionRules(multivariant: string): RuleViolation[] {
  const problems: RuleViolation[] = [];
  const lines = multivariant.split(/\r?\n/);
  const media: { line: string; a: Attrs }[] = [];
  const variants: { line: string; a: Attrs }[] = [];
  for (const line of lines) {
    if (line.startsWith('#EXT-X-MEDIA:')) media.push({ line, a: parseAttributes(line.slice(13)) });
    else if (line.startsWith('#EXT-X-STREAM-INF:')) variants.push({ line, a: parseAttributes(line.slice(18)) });
  }
  const fail = (rule: string, line: string, why: string) => problems.push({ rule, line, why });

  for (const { line, a } of media) {
    const type = a.get('TYPE') ?? '';
    if (!TYPES.has(type) || !a.get('GROUP-ID') || !a.get('NAME'))
      fail('media.required', line, 'TYPE (AUDIO|VIDEO|SUBTITLES|CLOSED-CAPTIONS), GROUP-ID and NAME are required');
    if (type === 'SUBTITLES' && !a.get('URI')) fail('media.uri', line, 'a SUBTITLES rendition needs a URI');
    if (type === 'CLOSED-CAPTIONS' && (a.has('URI') || !a.has('INSTREAM-ID')))
      fail('media.uri', line, 'CLOSED-CAPTIONS has INSTREAM-ID and no URI');
    for (const key of ['LANGUAGE', 'ASSOC-LANGUAGE']) {
      const v = a.get(key);
      if (v !== undefined && !isLanguageTag(v)) fail('media.language', line, `${key} "${v}" is not an RFC 5646 tag`);
    }
    if (a.get('DEFAULT') === 'YES' && a.has('AUTOSELECT') && a.get('AUTOSELECT') !== 'YES')
      fail('media.autoselect', line, 'DEFAULT=YES needs AUTOSELECT=YES');
    if (a.has('FORCED') && type !== 'SUBTITLES') fail('media.forced', line, 'FORCED is for SUBTITLES only');
    const ch = a.get('CHARACTERISTICS');
    if (ch !== undefined && !ch.split(',').every((u) => UTI.test(u)))
      fail('media.characteristics', line, `CHARACTERISTICS "${ch}" is not a list of UTIs`);
    if (type === 'AUDIO' && !a.get('CHANNELS')) fail('media.channels', line, 'an AUDIO rendition needs CHANNELS');
    if (type !== 'AUDIO' && a.has('CHANNELS')) fail('media.channels', line, 'CHANNELS is for AUDIO only');
    if (type === 'SUBTITLES' && a.get('FORCED') === 'YES' && a.get('AUTOSELECT') !== 'YES')
      fail('group.subtitles-forced', line, 'a FORCED=YES subtitle rendition needs AUTOSELECT=YES');
  }

  const groups = new Map<string, { line: string; a: Attrs }[]>();
  for (const m of media) {
    const key = `${m.a.get('TYPE')}|${m.a.get('GROUP-ID')}`;
    groups.set(key, [...(groups.get(key) ?? []), m]);
  }
  for (const [key, members] of groups) {
    const [type, id] = key.split('|');
    const defaults = members.filter((m) => m.a.get('DEFAULT') === 'YES').length;
    if (defaults > 1) fail('group.default', members[0].line, `group ${type} "${id}" has ${defaults} DEFAULT=YES`);
    if (type === 'AUDIO' && defaults !== 1)
      fail('group.default', members[0].line, `AUDIO group "${id}" needs exactly one DEFAULT=YES (has ${defaults})`);
    const names = new Set<string>();
    const combos = new Set<string>();
    for (const m of members) {
      const name = m.a.get('NAME') ?? '';
      if (names.has(name)) fail('group.name', m.line, `NAME "${name}" repeats in group "${id}"`);
      names.add(name);
      if (m.a.get('AUTOSELECT') === 'YES') {
        const combo = ['LANGUAGE', 'ASSOC-LANGUAGE', 'FORCED', 'CHANNELS', 'CHARACTERISTICS']
          .map((k) => (m.a.get(k) ?? '').toLowerCase())
          .join('|');
        if (combos.has(combo))
          fail('group.autoselect', m.line, `two AUTOSELECT=YES renditions of group "${id}" are indistinguishable`);
        combos.add(combo);
      }
    }
  }

  for (const { line, a } of variants) {
    for (const type of ['AUDIO', 'VIDEO', 'SUBTITLES', 'CLOSED-CAPTIONS']) {
      const id = a.get(type);
      if (id === undefined || (type === 'CLOSED-CAPTIONS' && id === 'NONE')) continue;
      if (!groups.has(`${type}|${id}`)) fail('variant.groups', line, `${type}="${id}" names no ${type} group`);
    }
    if (
      a.has('AUDIO') &&
      !(a.get('CODECS') ?? '').split(',').some((c) => /^(mp4a|ac-3|ec-3|opus|flac|alac)/.test(c.trim()))
    )
      fail('variant.audio-codec', line, 'a variant with an AUDIO group lists no audio codec in CODECS');
  }
  return problems;
}
