/**
 * A VOD thumbnail track as a WebVTT index: the form web players without image-stream support
 * read (Video.js and Plyr plugins, JW Player, Vidstack, Bitmovin): one cue per picture, its
 * time span, and as payload the sheet's URL with a media fragment naming the cell
 * (`tile-1.jpg#xywh=240,0,240,136`, W3C Media Fragments URI 1.0 §4.2.1). URLs are relative to
 * the index, which lives beside the sheets.
 */
import { thumbnailSheetName, type Presentation } from './presentation.js';
import { writeWebVtt, type Cue } from './webvtt.js';
import { withQuery, type UriOptions } from '../hls/uri-options.js';

export const THUMBNAIL_INDEX = 'thumbnails.vtt';

export function writeThumbnailVtt(p: Presentation, opts: UriOptions = {}): string {
  const t = p.thumbnails;
  if (!t || p.type !== 'vod') throw new Error(`${p.id}: a thumbnail index is written for VOD thumbnails only`);
  const duration = p.duration ?? 0;
  const perSheet = t.columns * t.rows;
  const cues: Cue[] = [];
  for (let k = 0; k * t.intervalSec < duration - 1e-6; k++) {
    const sheet = Math.floor(k / perSheet) + 1;
    const cell = k % perSheet;
    const x = (cell % t.columns) * t.width;
    const y = Math.floor(cell / t.columns) * t.height;
    cues.push({
      start: k * t.intervalSec,
      end: Math.min((k + 1) * t.intervalSec, duration),
      settings: '',
      text: `${withQuery(thumbnailSheetName(sheet), opts)}#xywh=${x},${y},${t.width},${t.height}`,
    });
  }
  return writeWebVtt({ headerBlocks: [], cues });
}
