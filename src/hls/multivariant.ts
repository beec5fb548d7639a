import type { Presentation, Rendition, RenditionTimeline } from '../media/presentation.js';
import { audioCodecFamily, isMultichannel, paths } from '../media/presentation.js';
import { attributeList, quoted } from './attribute-list.js';
import { hasIFrames, iframeBandwidth } from './iframe-playlist.js';
import { imageStreamInf } from './image-playlist.js';
import { keyAttributes } from './key-tags.js';
import { withQuery, type UriOptions } from './uri-options.js';
import { languageName } from '../media/language-tag.js';

export interface MultivariantOptions extends UriOptions {
  /** Advertise I-frame playlists (EXT-X-I-FRAME-STREAM-INF) for VOD video renditions that have key frame indexes. Default true. */
  iframePlaylists?: boolean;
  /**
   * Relative path put in front of every playlist URI, e.g. "v3/" for a VOD entry point that names
   * one published version's immutable URL space. Default none.
   */
  pathPrefix?: string;
}

const AUDIO_GROUP = 'audio';
const SUBTITLE_GROUP = 'subs';
/** A subtitle track that is closed captions (Apple's HLS authoring spec, the SDH characteristics). */
const CAPTION_CHARACTERISTICS =
  'public.accessibility.transcribes-spoken-dialog,public.accessibility.describes-music-and-sound';
const CAPTION_GROUP = 'cc';

/**
 * The multivariant playlist (`master.m3u8`, RFC 8216bis 4.4.6, Apple HLS authoring spec):
 * one EXT-X-STREAM-INF per video rendition, all sharing one alternate audio group (one
 * EXT-X-MEDIA per audio rendition: a language each, exactly one DEFAULT=YES, all AUTOSELECT=YES
 * with distinct LANGUAGE/NAME, CHANNELS on each). Multichannel renditions (the 5.1 twins) form a
 * group of their own ("audio-6ch", with the stereo rendition of any language that has no twin;
 * one group per codec when the twins come in several, "audio-6ch-ec-3", "audio-6ch-aac": a
 * group is what a client switches within, and it cannot switch codecs), and every video variant
 * is listed again for each, after the
 * stereo ones (where clients start), with that group's bandwidth and codecs; audio-only
 * presentations get one variant per audio rendition instead. Variants keep the order of
 * `p.timelines` (the first one is where clients start).
 *
 * EXT-X-VERSION: 4 is written when EXT-X-MEDIA or I-frame streams are present (RFC 8216bis
 * section 8 allows it so old clients do not half-play), 5 with EXT-X-SESSION-KEY (its KEYFORMAT
 * needs it), else 1.
 */
export function writeMultivariantPlaylist(p: Presentation, opts: MultivariantOptions = {}): string {
  const videos = p.timelines.filter((t) => t.rendition.kind === 'video');
  const audios = p.timelines.filter((t) => t.rendition.kind === 'audio');
  const iframeStreams = p.type === 'vod' && opts.iframePlaylists !== false ? videos.filter((t) => hasIFrames(t)) : [];
  const audioGroup = videos.length > 0 && audios.length > 0;

  // 5: KEYFORMAT and KEYFORMATVERSIONS (RFC 8216bis §8)
  const version = p.protection ? 5 : audioGroup || iframeStreams.length > 0 || (p.subtitles?.length ?? 0) > 0 ? 4 : 1;
  const lines = ['#EXTM3U', `#EXT-X-VERSION:${version}`, '#EXT-X-INDEPENDENT-SEGMENTS'];
  if (p.protection) lines.push(`#EXT-X-SESSION-KEY:${keyAttributes(p.protection, opts.pathPrefix ?? '', opts)}`);

  // stereo (and mono) renditions in the group "audio", each multichannel layout in its own
  // ("audio-6ch"): a variant names one group, so each video variant is listed once per group
  const groups = audioGroups(audios);
  if (audioGroup) {
    for (const [groupId, members] of groups) {
      const names = audioNames(members.map((t) => t.rendition));
      const defaultIndex = Math.max(
        0,
        members.findIndex((t) => t.rendition.default === true),
      );
      members.forEach((t, i) => {
        const r = t.rendition;
        lines.push(
          '#EXT-X-MEDIA:' +
            attributeList([
              ['TYPE', 'AUDIO'],
              ['GROUP-ID', quoted(groupId)],
              ['NAME', quoted(names[i])],
              ['LANGUAGE', r.language ? quoted(r.language) : undefined],
              ['DEFAULT', i === defaultIndex ? 'YES' : 'NO'],
              ['AUTOSELECT', 'YES'],
              ['CHANNELS', r.channels ? quoted(String(r.channels)) : undefined],
              ['URI', quoted(withQuery(`${opts.pathPrefix ?? ''}${paths.mediaPlaylist(r.id)}`, opts))],
            ]),
        );
      });
    }
  }

  // CEA-608 inside the video: one group, a rendition per channel (RFC 8216bis 4.4.6.1)
  const captions = videos.length > 0 ? (p.closedCaptions ?? []) : [];
  for (const c of captions) {
    lines.push(
      '#EXT-X-MEDIA:' +
        attributeList([
          ['TYPE', 'CLOSED-CAPTIONS'],
          ['GROUP-ID', quoted(CAPTION_GROUP)],
          ['NAME', quoted(c.name)],
          ['LANGUAGE', c.language ? quoted(c.language) : undefined],
          ['DEFAULT', 'NO'],
          ['AUTOSELECT', 'YES'],
          ['INSTREAM-ID', quoted(c.instreamId)],
        ]),
    );
  }

  const subtitles = videos.length > 0 ? (p.subtitles ?? []) : [];
  for (const s of subtitles) {
    lines.push(
      '#EXT-X-MEDIA:' +
        attributeList([
          ['TYPE', 'SUBTITLES'],
          ['GROUP-ID', quoted(SUBTITLE_GROUP)],
          ['NAME', quoted(s.name)],
          ['LANGUAGE', quoted(s.language)],
          ['DEFAULT', s.default ? 'YES' : 'NO'],
          ['AUTOSELECT', s.autoselect || s.default ? 'YES' : 'NO'],
          ['FORCED', s.forced ? 'YES' : 'NO'],
          ['CHARACTERISTICS', s.captions ? quoted(CAPTION_CHARACTERISTICS) : undefined],
          ['URI', quoted(withQuery(`${opts.pathPrefix ?? ''}${paths.mediaPlaylist(s.id)}`, opts))],
        ]),
    );
  }

  if (videos.length > 0) {
    for (const [groupId, members] of audioGroup ? groups : new Map([[AUDIO_GROUP, audios]])) {
      // Peak of the variant = peak of the worst playable combination (video + heaviest audio of its group).
      const audioPeak = Math.max(0, ...members.map((t) => t.rendition.bandwidth));
      const audioAverage = Math.max(0, ...members.map((t) => t.rendition.averageBandwidth));
      const audioCodecs = unique(members.map((t) => t.rendition.codecs));
      for (const t of videos) {
        const r = t.rendition;
        lines.push(
          '#EXT-X-STREAM-INF:' +
            attributeList([
              ['BANDWIDTH', Math.ceil(r.bandwidth + audioPeak)],
              ['AVERAGE-BANDWIDTH', Math.ceil(r.averageBandwidth + audioAverage)],
              ['CODECS', quoted([r.codecs, ...audioCodecs].join(','))],
              ['RESOLUTION', resolution(r)],
              ['FRAME-RATE', r.frameRate ? (r.frameRate[0] / r.frameRate[1]).toFixed(3) : undefined],
              ['VIDEO-RANGE', r.videoRange ?? 'SDR'],
              ['AUDIO', audioGroup ? quoted(groupId) : undefined],
              ['SUBTITLES', subtitles.length > 0 ? quoted(SUBTITLE_GROUP) : undefined],
              ['CLOSED-CAPTIONS', captions.length > 0 ? quoted(CAPTION_GROUP) : 'NONE'],
            ]),
          withQuery(`${opts.pathPrefix ?? ''}${paths.mediaPlaylist(r.id)}`, opts),
        );
      }
    }
  } else {
    for (const t of audios) {
      const r = t.rendition;
      lines.push(
        '#EXT-X-STREAM-INF:' +
          attributeList([
            ['BANDWIDTH', Math.ceil(r.bandwidth)],
            ['AVERAGE-BANDWIDTH', Math.ceil(r.averageBandwidth)],
            ['CODECS', quoted(r.codecs)],
          ]),
        withQuery(`${opts.pathPrefix ?? ''}${paths.mediaPlaylist(r.id)}`, opts),
      );
    }
  }

  for (const t of iframeStreams) lines.push(iframeStreamInf(t, opts));
  if (p.thumbnails && videos.length > 0) lines.push(imageStreamInf(p.thumbnails, opts.pathPrefix ?? '', opts));
  return lines.join('\n') + '\n';
}

function iframeStreamInf(t: RenditionTimeline, opts: MultivariantOptions): string {
  const r = t.rendition;
  const bw = iframeBandwidth(t);
  return (
    '#EXT-X-I-FRAME-STREAM-INF:' +
    attributeList([
      ['BANDWIDTH', bw.peak],
      ['AVERAGE-BANDWIDTH', bw.average],
      ['CODECS', quoted(r.codecs)],
      ['RESOLUTION', resolution(r)],
      ['VIDEO-RANGE', r.videoRange ?? 'SDR'],
      ['URI', quoted(withQuery(`${opts.pathPrefix ?? ''}${paths.iframePlaylist(r.id)}`, opts))],
    ])
  );
}

function resolution(r: Rendition): string | undefined {
  return r.width && r.height ? `${r.width}x${r.height}` : undefined;
}

/**
 * Audio renditions by group: "audio" (up to 2 channels, in the order given) first, then one group
 * per multichannel layout ("audio-6ch"), or per layout and codec when one layout comes in several
 * codecs ("audio-6ch-ec-3", "audio-6ch-aac", in the order the twins are listed). A multichannel
 * group offers every language of the stereo group, in its order: its twin where there is one (same
 * LANGUAGE and NAME, as renditions of one source are named alike, whatever the codec), else the
 * stereo rendition itself, so a client on that group can still pick any language.
 */
function audioGroups(audios: RenditionTimeline[]): Map<string, RenditionTimeline[]> {
  const stereo = audios.filter((t) => !isMultichannel(t.rendition));
  const groups = new Map<string, RenditionTimeline[]>([[AUDIO_GROUP, stereo]]);
  const same = (a: Rendition, b: Rendition) => a.language === b.language && a.name === b.name;
  const multichannel = audios.filter((t) => isMultichannel(t.rendition));
  const layouts = [...new Set(multichannel.map((t) => t.rendition.channels!))];
  for (const n of layouts.sort((a, b) => a - b)) {
    const layout = multichannel.filter((t) => t.rendition.channels === n);
    const codecs = [...new Set(layout.map((t) => audioCodecFamily(t.rendition)))];
    for (const codec of codecs) {
      const twins = layout.filter((t) => audioCodecFamily(t.rendition) === codec);
      const members = stereo.map((s) => twins.find((t) => same(t.rendition, s.rendition)) ?? s);
      for (const t of twins) if (!members.includes(t)) members.push(t);
      groups.set(codecs.length > 1 ? `${AUDIO_GROUP}-${n}ch-${codec}` : `${AUDIO_GROUP}-${n}ch`, members);
    }
  }
  if (stereo.length === 0) groups.delete(AUDIO_GROUP);
  return groups;
}

function unique(values: string[]): string[] {
  return [...new Set(values)];
}

/** NAME values: the rendition's name, else the language's English name ("English"), else the rendition id; unique within the group. */
function audioNames(renditions: Rendition[]): string[] {
  const used = new Set<string>();
  return renditions.map((r) => {
    let name = r.name || (r.language && languageName(r.language)) || r.id;
    if (used.has(name)) name = `${name} (${r.id})`;
    used.add(name);
    return name;
  });
}
