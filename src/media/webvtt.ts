/**
 * WebVTT (W3C WebVTT: The Web Video Text Tracks Format) for subtitle tracks: a strict parser
 * whose errors name the file and line, an SRT → WebVTT converter, and the HLS segmentation of a
 * cue list (RFC 8216bis 3.1.4: each segment a WebVTT file with X-TIMESTAMP-MAP; a cue spanning a
 * boundary is repeated in every segment it overlaps).
 */
import { StreamedgeError } from '../errors.js';

export interface Cue {
  id?: string;
  /** Seconds. */
  start: number;
  end: number;
  /** Cue settings as written (e.g. "line:0 align:start"), or empty. */
  settings: string;
  /** Payload lines joined with "\n". */
  text: string;
}

export interface WebVtt {
  /** Header blocks kept verbatim (STYLE, REGION): they apply to every segment. */
  headerBlocks: string[];
  cues: Cue[];
}

const TIMESTAMP = /^(?:(\d{2,}):)?([0-5]\d):([0-5]\d)\.(\d{3})$/;

function bad(source: string, line: number, what: string): StreamedgeError {
  return new StreamedgeError('BAD_SUBTITLES', `${source}:${line}: ${what}`);
}

function parseTimestamp(text: string): number | undefined {
  const m = TIMESTAMP.exec(text);
  if (!m) return undefined;
  return Number(m[1] ?? 0) * 3600 + Number(m[2]) * 60 + Number(m[3]) + Number(m[4]) / 1000;
}

export function formatTimestamp(sec: number): string {
  const ms = Math.round(sec * 1000);
  const h = Math.floor(ms / 3_600_000);
  const m = Math.floor((ms % 3_600_000) / 60_000);
  const s = Math.floor((ms % 60_000) / 1000);
  const pad = (n: number, w = 2): string => String(n).padStart(w, '0');
  return `${pad(h)}:${pad(m)}:${pad(s)}.${pad(ms % 1000, 3)}`;
}

/** Parses a WebVTT file strictly: any malformed block is an error naming `source` and the line. */
export function parseWebVtt(text: string, source: string): WebVtt {
  const lines = text.replace(/^\uFEFF/, '').split(/\r\n|\r|\n/);
  if (!/^WEBVTT(?:[ \t].*)?$/.test(lines[0] ?? '')) {
    throw bad(source, 1, 'not a WebVTT file (the first line must be "WEBVTT")');
  }
  let i = 1;
  while (i < lines.length && lines[i] !== '') i++; // header lines
  const out: WebVtt = { headerBlocks: [], cues: [] };
  let lastStart = 0;
  while (i < lines.length) {
    while (i < lines.length && lines[i] === '') i++;
    if (i >= lines.length) break;
    const blockStart = i;
    const block: string[] = [];
    while (i < lines.length && lines[i] !== '') block.push(lines[i++]);
    const first = block[0];
    if (/^NOTE(?:[ \t]|$)/.test(first)) continue;
    if (/^(?:STYLE|REGION)[ \t]*$/.test(first)) {
      if (out.cues.length > 0) throw bad(source, blockStart + 1, `${first.trim()} block after the first cue`);
      out.headerBlocks.push(block.join('\n'));
      continue;
    }
    let k = 0;
    let id: string | undefined;
    if (!first.includes('-->')) {
      id = first;
      k = 1;
    }
    const timing = block[k];
    if (timing === undefined || !timing.includes('-->')) {
      throw bad(source, blockStart + 1 + k, 'a cue needs a timing line "hh:mm:ss.ttt --> hh:mm:ss.ttt"');
    }
    const m = /^(\S+)[ \t]+-->[ \t]+(\S+)(?:[ \t]+(.*))?$/.exec(timing);
    const start = m ? parseTimestamp(m[1]) : undefined;
    const end = m ? parseTimestamp(m[2]) : undefined;
    if (start === undefined || end === undefined) {
      throw bad(source, blockStart + 1 + k, `malformed cue timing "${timing}"`);
    }
    if (end <= start) throw bad(source, blockStart + 1 + k, `cue ends (${m![2]}) before it starts (${m![1]})`);
    if (start < lastStart) throw bad(source, blockStart + 1 + k, `cue starts (${m![1]}) before the previous cue`);
    lastStart = start;
    const payload = block.slice(k + 1);
    const arrow = payload.findIndex((l) => l.includes('-->'));
    if (arrow >= 0) {
      throw bad(source, blockStart + 2 + k + arrow, 'cue text contains "-->" (a missing blank line between cues?)');
    }
    out.cues.push({
      ...(id !== undefined ? { id } : {}),
      start,
      end,
      settings: m![3]?.trim() ?? '',
      text: payload.join('\n'),
    });
  }
  return out;
}

/** Converts SubRip (.srt) to WebVTT text: numbered blocks, "hh:mm:ss,mmm --> hh:mm:ss,mmm". */
export function srtToWebVtt(text: string, source: string): string {
  const lines = text.replace(/^\uFEFF/, '').split(/\r\n|\r|\n/);
  const out = ['WEBVTT', ''];
  let i = 0;
  while (i < lines.length) {
    while (i < lines.length && lines[i].trim() === '') i++;
    if (i >= lines.length) break;
    const blockStart = i;
    if (/^\d+$/.test(lines[i].trim())) i++;
    const timing = /^(\d{1,2}):(\d{2}):(\d{2})[,.](\d{3})\s+-->\s+(\d{1,2}):(\d{2}):(\d{2})[,.](\d{3})\s*$/.exec(
      lines[i] ?? '',
    );
    if (!timing) throw bad(source, i + 1, `malformed SRT timing "${lines[i] ?? ''}" (block at line ${blockStart + 1})`);
    const t = (h: string, m: string, s: string, ms: string): string => `${h.padStart(2, '0')}:${m}:${s}.${ms}`;
    out.push(`${t(timing[1], timing[2], timing[3], timing[4])} --> ${t(timing[5], timing[6], timing[7], timing[8])}`);
    i++;
    while (i < lines.length && lines[i].trim() !== '') {
      // ASS override tags ({\an8}) mean nothing in WebVTT; "-->" cannot appear in a payload.
      out.push(lines[i].replace(/\{\\[^}]*\}/g, '').replaceAll('-->', '→'));
      i++;
    }
    out.push('');
  }
  return out.join('\n');
}

/** One cue as WebVTT text. */
function cueText(c: Cue): string {
  const timing = `${formatTimestamp(c.start)} --> ${formatTimestamp(c.end)}${c.settings ? ` ${c.settings}` : ''}`;
  return `${c.id !== undefined ? `${c.id}\n` : ''}${timing}\n${c.text}\n`;
}

/** The whole track as one WebVTT file (DASH sidecar). */
export function writeWebVtt(vtt: WebVtt): string {
  return ['WEBVTT', '', ...vtt.headerBlocks.map((b) => `${b}\n`), ...vtt.cues.map(cueText)].join('\n');
}

/**
 * HLS WebVTT segments on the media's segment boundaries (seconds). X-TIMESTAMP-MAP maps cue time
 * 0 to MPEG-TS time `mpegtsOffset` (90 kHz units of the media timeline where cue time 0 lies).
 */
export function segmentWebVtt(vtt: WebVtt, boundaries: number[], mpegtsOffset = 0): string[] {
  const segments: string[] = [];
  for (let s = 0; s + 1 < boundaries.length; s++) {
    const from = boundaries[s];
    const to = boundaries[s + 1];
    const cues = vtt.cues.filter((c) => c.start < to && c.end > from);
    segments.push(
      [
        'WEBVTT',
        `X-TIMESTAMP-MAP=MPEGTS:${mpegtsOffset},LOCAL:00:00:00.000`,
        '',
        ...vtt.headerBlocks.map((b) => `${b}\n`),
        ...cues.map(cueText),
      ].join('\n'),
    );
  }
  return segments;
}
