/**
 * The audio languages of a package: every audio stream of the source (with its container
 * language tag) plus `--audio <lang>=<file>` (that file's first audio stream). Each becomes its
 * own audio rendition. Checked before encoding, so bad input costs one line and publishes
 * nothing: a language tag that is not BCP 47, two tracks with the same language and name, an
 * --audio file with no audio stream.
 *
 * Rendition ids: one track keeps the id "audio" (as before); several are "audio-<lang>" (or
 * "audio-<n>" when untagged), made unique with a "-2" suffix. The first track is the default.
 *
 * A track with 5.1 or more channels also gets a 5.1 twin (withSurroundTwins): the same source
 * stream encoded to 6 channels beside the stereo one, id "<id>-5.1" (Apple's HLS authoring spec
 * asks for stereo beside any multichannel audio; players that cannot use 6 channels keep stereo).
 * A ladder that lists several surround codecs gets one twin per codec, "<id>-5.1-<codec>".
 */
import { StreamedgeError } from '../src/errors.js';
import { languageName, parseLanguageTag } from '../src/media/language-tag.js';
import type { SurroundCodec } from './ladder.js';
import { probeAudioFile, type AudioStreamInfo, type SourceInfo } from './probe.js';

export interface AudioInput {
  language: string;
  file: string;
}

export interface AudioTrackPlan {
  /** Rendition id (folder name). */
  id: string;
  /** ffmpeg stream specifier, e.g. "0:a:1" (source) or "1:a:0" (the first --audio file). */
  map: string;
  /** BCP 47, canonical case; absent when the source track is untagged ("und"). */
  language?: string;
  /** HLS NAME / DASH Label, unique per language. */
  name: string;
  default: boolean;
  /** Where it came from, for messages: "source audio 2" or "--audio fr=dub.m4a". */
  origin: string;
  /** The stream's own duration (seconds) when the container says. */
  durationSec?: number;
  /** The source stream's channel count, when known. */
  sourceChannels?: number;
  /** Encoded to this many channels instead of the ladder's (the 5.1 twin: 6). */
  channels?: number;
  /** The 5.1 twin's codec; absent: AAC, as every stereo track. */
  codec?: SurroundCodec;
}

/** Channels of the multichannel twin (5.1: L R C LFE Ls Rs). */
export const SURROUND_CHANNELS = 6;

/** Does a track of `channels` channels get a 5.1 twin (5.1 or more)? */
export function getsSurroundTwin(channels: number | undefined): boolean {
  return (channels ?? 0) >= SURROUND_CHANNELS;
}

/**
 * `tracks` with a 5.1 twin after each track whose source has 6 or more channels (7.1 is mixed down
 * to 5.1), one per surround codec (default AAC alone): the same stream, language and name, id
 * "<id>-5.1" (one codec) or "<id>-5.1-<codec>" (several), default in its own group as its stereo
 * track is in the stereo group.
 */
export function withSurroundTwins(tracks: AudioTrackPlan[], codecs: SurroundCodec[] = ['aac']): AudioTrackPlan[] {
  const ids = new Set(tracks.map((t) => t.id));
  return tracks.flatMap((t) => {
    if (!getsSurroundTwin(t.sourceChannels)) return [t];
    const twins = codecs.map((codec): AudioTrackPlan => {
      const base = codecs.length > 1 ? `${t.id}-5.1-${codec}` : `${t.id}-5.1`;
      let id = base;
      for (let k = 2; ids.has(id); k++) id = `${base}-${k}`;
      ids.add(id);
      const label = codecs.length > 1 ? `5.1 ${codec}` : '5.1';
      return { ...t, id, channels: SURROUND_CHANNELS, codec, origin: `${t.origin} (${label})` };
    });
    return [t, ...twins];
  });
}

/** `<lang>=<file>` as given on the command line. */
export function parseAudioOption(text: string): AudioInput {
  const eq = text.indexOf('=');
  if (eq <= 0 || eq === text.length - 1) {
    throw new StreamedgeError('BAD_OPTION', `--audio "${text}": expected <lang>=<file>, e.g. fr=movie.fr.m4a`);
  }
  return { language: text.slice(0, eq), file: text.slice(eq + 1) };
}

/**
 * A container's language tag as BCP 47: "und" or none is untagged; ISO 639-2 codes ("eng",
 * "fre") become their 2-letter form ("en", "fr"); anything else must be well-formed BCP 47.
 */
export function containerLanguage(tag: string | undefined, what: string): string | undefined {
  if (!tag || tag.toLowerCase() === 'und') return undefined;
  const wellFormed = parseLanguageTag(tag, what);
  try {
    return Intl.getCanonicalLocales(wellFormed)[0] ?? wellFormed;
  } catch {
    return wellFormed;
  }
}

interface Candidate {
  map: string;
  channels?: number;
  language?: string;
  title?: string;
  origin: string;
  durationSec?: number;
}

/** Plans the audio renditions; probes each --audio file (its first audio stream is used). */
export async function planAudioTracks(
  input: string,
  source: SourceInfo,
  extra: AudioInput[],
): Promise<AudioTrackPlan[]> {
  const candidates: Candidate[] = (source.audioTracks ?? []).map((a: AudioStreamInfo) => ({
    map: `0:a:${a.index}`,
    channels: a.channels,
    language: containerLanguage(a.language, `${input}: audio stream ${a.index + 1} language tag`),
    title: a.title,
    origin: `source audio ${a.index + 1}`,
    durationSec: a.durationSec,
  }));
  for (const [i, e] of extra.entries()) {
    const what = `--audio ${e.language}=${e.file}`;
    const language = parseLanguageTag(e.language, what);
    const [first] = await probeAudioFile(e.file, what);
    candidates.push({
      map: `${i + 1}:a:${first.index}`,
      channels: first.channels,
      language,
      origin: what,
      durationSec: first.durationSec,
    });
  }

  const seen = new Map<string, string>();
  const ids = new Set<string>();
  return candidates.map((c, n): AudioTrackPlan => {
    const name = c.title ?? (c.language ? languageName(c.language) : undefined) ?? c.language ?? `Audio ${n + 1}`;
    const key = `${(c.language ?? '').toLowerCase()}|${name}`;
    const clash = seen.get(key);
    if (clash) {
      throw new StreamedgeError(
        'BAD_AUDIO',
        `two audio tracks with language "${c.language ?? 'und'}" and name "${name}" (${clash} and ${c.origin}); give them different languages or titles`,
      );
    }
    seen.set(key, c.origin);
    let id = 'audio';
    if (candidates.length > 1) {
      const base = `audio-${c.language ?? String(n + 1)}`;
      id = base;
      for (let k = 2; ids.has(id); k++) id = `${base}-${k}`;
    }
    ids.add(id);
    const plan: AudioTrackPlan = { id, map: c.map, name, default: n === 0, origin: c.origin };
    if (c.language) plan.language = c.language;
    if (c.durationSec !== undefined) plan.durationSec = c.durationSec;
    if (c.channels !== undefined) plan.sourceChannels = c.channels;
    return plan;
  });
}

/** What happened to a track whose length differs from the video's (> 0.1 s): padded or trimmed. */
export function audioFitNote(track: AudioTrackPlan, videoSec: number | undefined): string | undefined {
  if (track.durationSec === undefined || videoSec === undefined) return undefined;
  const diff = track.durationSec - videoSec;
  if (Math.abs(diff) <= 0.1) return undefined;
  return diff < 0
    ? `${track.id} (${track.origin}) is ${(-diff).toFixed(2)} s shorter than the video: padded with silence`
    : `${track.id} (${track.origin}) is ${diff.toFixed(2)} s longer than the video: trimmed to ${videoSec.toFixed(2)} s`;
}
