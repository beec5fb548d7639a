/**
 * m3u8-parser and mpd-parser ship without type declarations: load them through require and
 * type the little we read, so no ambient module declaration is needed.
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/* eslint-disable @typescript-eslint/no-explicit-any */
export type ParsedM3u8 = Record<string, any>;

export function parseM3u8(text: string): ParsedM3u8 {
  const { Parser } = require('m3u8-parser') as {
    Parser: new () => { push(s: string): void; end(): void; manifest: ParsedM3u8 };
  };
  const parser = new Parser();
  parser.push(text);
  parser.end();
  return parser.manifest;
}

export function parseMpd(text: string, options: { manifestUri?: string; NOW?: number } = {}): Record<string, any> {
  const { parse } = require('mpd-parser') as { parse: (s: string, o: object) => Record<string, any> };
  return parse(text, { manifestUri: 'https://origin.test/vod/asset1/manifest.mpd', ...options });
}
