/**
 * The multichannel audio of an HLS multivariant playlist that a stereo-first player can offer as
 * extra tracks: the renditions of the AUDIO groups other than the first variant's (the 5.1
 * twins: `audio-6ch`, or one group per codec, `audio-6ch-ec-3`, `audio-6ch-aac`) that are not
 * already in the first group (a 5.1 group repeats the stereo rendition of a language without a
 * twin). Each comes with its codec, taken from the CODECS of the variants that name its group:
 * the audio codec those variants add to the first group's (the codec of a group that adds none is
 * the first group's own). CHANNELS comes from the EXT-X-MEDIA line itself (the parsed playlist
 * does not keep it).
 */
import { channelLayoutName } from '../../src/media/presentation.js';
import { readAttributeList } from './hls-attribute-list.js';

export interface ExtraAudioRendition {
  uri: string;
  groupId: string;
  name: string;
  language?: string;
  channels?: number;
  /** The rendition's audio codec (a CODECS member), e.g. "mp4a.40.2" or "ec-3". */
  codec: string;
  default: boolean;
}

interface Variant {
  attributes?: { AUDIO?: string; CODECS?: string };
}

/** Video codecs a CODECS attribute can name (the rest is audio). */
const VIDEO = /^(avc[13]|hvc1|hev1|dvh[1e]|av01|vp09|vp08)(\.|$)/;

function audioCodecsOf(variant: Variant): string[] {
  return (variant.attributes?.CODECS ?? '')
    .split(',')
    .map((c) => c.trim())
    .filter((c) => c !== '' && !VIDEO.test(c));
}

export function extraAudioRenditions(text: string, variants: readonly Variant[]): ExtraAudioRendition[] {
  const first = variants[0]?.attributes?.AUDIO;
  if (first === undefined) return [];
  const media = text
    .split(/\r?\n/)
    .filter((l) => l.startsWith('#EXT-X-MEDIA:'))
    .map((l) => readAttributeList(l.slice('#EXT-X-MEDIA:'.length)))
    .filter((a) => a.get('TYPE') === 'AUDIO' && a.has('URI') && a.has('GROUP-ID'));
  const inFirst = new Set(media.filter((a) => a.get('GROUP-ID') === first).map((a) => a.get('URI')));
  const firstCodecs = new Set(variants.filter((v) => v.attributes?.AUDIO === first).flatMap(audioCodecsOf));
  const out: ExtraAudioRendition[] = [];
  for (const a of media) {
    const group = a.get('GROUP-ID')!;
    if (group === first || inFirst.has(a.get('URI'))) continue;
    const codecs = [...new Set(variants.filter((v) => v.attributes?.AUDIO === group).flatMap(audioCodecsOf))];
    if (codecs.length === 0) continue; // a group no variant names
    const added = codecs.filter((c) => !firstCodecs.has(c));
    const channels = Number.parseInt(a.get('CHANNELS') ?? '', 10);
    const language = a.get('LANGUAGE');
    out.push({
      uri: a.get('URI')!,
      groupId: group,
      name: a.get('NAME') ?? a.get('URI')!,
      ...(language ? { language } : {}),
      ...(Number.isFinite(channels) ? { channels } : {}),
      codec: added[0] ?? codecs[0],
      default: a.get('DEFAULT') === 'YES',
    });
  }
  return out;
}

/** A track name for a multichannel rendition, as the MPD's Label has it: "English (5.1)". */
export function multichannelName(name: string, channels: number | undefined): string {
  return channels === undefined || channels <= 2 ? name : `${name} (${channelLayoutName(channels)})`;
}
