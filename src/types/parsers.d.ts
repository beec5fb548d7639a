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
  export const VERSION: string;
}
