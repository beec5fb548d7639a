/**
 * Subtitle inputs of a VOD package (`--subtitles <lang>=<file.vtt|.srt>`): read, SRT converted,
 * parsed strictly, the language checked as BCP 47, duplicates (same language and name) refused,
 * and no cue may end after the video. All of it runs before encoding: bad input costs one clear
 * line and publishes nothing. A file whose cues end before the video does is normal.
 */
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { StreamedgeError } from '../src/errors.js';
import { languageName, parseLanguageTag } from '../src/media/language-tag.js';
import type { SubtitleTrack } from '../src/media/presentation.js';
import { parseWebVtt, srtToWebVtt, type WebVtt } from '../src/media/webvtt.js';

export interface SubtitleInput {
  language: string;
  file: string;
}

export interface LoadedSubtitles {
  track: SubtitleTrack;
  vtt: WebVtt;
}

/** `<lang>=<file>` as given on the command line. */
export function parseSubtitleOption(text: string): SubtitleInput {
  const eq = text.indexOf('=');
  if (eq <= 0 || eq === text.length - 1) {
    throw new StreamedgeError(
      'BAD_OPTION',
      `--subtitles "${text}": expected <lang>=<file.vtt|.srt>, e.g. en=movie.en.vtt`,
    );
  }
  return { language: text.slice(0, eq), file: text.slice(eq + 1) };
}

/** Loads and checks every subtitle input against the video's duration (seconds). */
export function loadSubtitles(inputs: SubtitleInput[], videoDurationSec: number | undefined): LoadedSubtitles[] {
  const seen = new Set<string>();
  return inputs.map((input): LoadedSubtitles => {
    const language = parseLanguageTag(input.language, `--subtitles ${input.language}=${input.file}`);
    const name = languageName(language) ?? language;
    const key = `${language.toLowerCase()}|${name}`;
    if (seen.has(key)) {
      throw new StreamedgeError(
        'BAD_SUBTITLES',
        `--subtitles: two tracks with language "${language}" and name "${name}"`,
      );
    }
    seen.add(key);
    const ext = extname(input.file).toLowerCase();
    if (ext !== '.vtt' && ext !== '.srt') {
      throw new StreamedgeError(
        'BAD_SUBTITLES',
        `--subtitles ${input.file}: use a .vtt (WebVTT) or .srt (SubRip) file`,
      );
    }
    let text: string;
    try {
      text = readFileSync(input.file, 'utf8');
    } catch (e) {
      throw new StreamedgeError(
        'BAD_SUBTITLES',
        `--subtitles ${input.file}: cannot read (${(e as NodeJS.ErrnoException).code ?? String(e)})`,
      );
    }
    const vtt = parseWebVtt(ext === '.srt' ? srtToWebVtt(text, input.file) : text, input.file);
    const late = videoDurationSec === undefined ? undefined : vtt.cues.find((c) => c.end > videoDurationSec + 0.05);
    if (late) {
      throw new StreamedgeError(
        'BAD_SUBTITLES',
        `${input.file}: a cue ends at ${late.end.toFixed(3)} s, after the video (${videoDurationSec!.toFixed(3)} s)`,
      );
    }
    return {
      track: { id: `subs-${language}`, language, name, default: false, autoselect: true, forced: false },
      vtt,
    };
  });
}
