// Minimal typings for the manifest parsers we use (they ship none). Shapes are loose on purpose:
// callers narrow what they read.
declare module 'm3u8-parser' {
  export class Parser {
    manifest: Record<string, any>;
    push(chunk: string): void;
    end(): void;
    addParser(opts: unknown): void;
    addTagMapper(opts: unknown): void;
  }
}

declare module 'mpd-parser' {
  export function parse(
    manifest: string,
    options?: { manifestUri?: string; NOW?: number; clientOffset?: number; [k: string]: unknown },
  ): Record<string, any>;
  export function parseUTCTiming(manifest: string): Record<string, any>;
  export function toPlaylists(...args: unknown[]): unknown;
  /** The MPD's XML document (xmldom), for inheritAttributes. */
  export function stringToMpdXml(manifest: string): unknown;
  /** Every Representation with the attributes it inherits (attributes, segmentInfo), per Period. */
  export function inheritAttributes(mpd: unknown, options?: { manifestUri?: string; NOW?: number }): unknown;
  export const VERSION: string;
}
