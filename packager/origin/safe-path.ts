/**
 * Maps a request path under a root folder to a file, refusing anything that could escape it.
 * Each path segment is percent-decoded on its own (so `%2f` can never create a separator) and
 * must then be a plain name: no `.`/`..`, no leading dot (hidden folders such as `.versions` and
 * `.live` are internal), no slash, backslash, NUL or control characters. Finally the real path
 * (symlinks followed: a published asset is a symlink into `<root>/.versions/`) must lie inside
 * the real root.
 */
import { realpathSync } from 'node:fs';
import { realpath } from 'node:fs/promises';
import { sep } from 'node:path';

export const MAX_PATH_LENGTH = 1024;
const MAX_SEGMENTS = 16;
const NAME = /^[A-Za-z0-9_][A-Za-z0-9._~@+=-]*$/;

export type PathCheck = { ok: true; segments: string[] } | { ok: false; status: 400 | 404; reason: string };

/** Splits and validates a raw (still percent-encoded) relative path such as `asset/720p/seg-1.m4s`. */
export function checkRelativePath(raw: string): PathCheck {
  if (raw.length > MAX_PATH_LENGTH) return { ok: false, status: 400, reason: 'path too long' };
  if (raw.includes('\\')) return { ok: false, status: 400, reason: 'backslash in path' };
  const parts = raw.split('/');
  if (parts.length > MAX_SEGMENTS) return { ok: false, status: 400, reason: 'too many path segments' };
  const segments: string[] = [];
  for (const part of parts) {
    let name: string;
    try {
      name = decodeURIComponent(part);
    } catch {
      return { ok: false, status: 400, reason: 'malformed percent-encoding' };
    }
    if (name === '') return { ok: false, status: 404, reason: 'empty path segment' };
    if (/[\u0000-\u001f\u007f/\\]/.test(name)) return { ok: false, status: 400, reason: 'forbidden character in path' };
    if (name === '.' || name === '..') return { ok: false, status: 400, reason: 'dot segment in path' };
    if (!NAME.test(name)) return { ok: false, status: 404, reason: 'not a servable name' };
    segments.push(name);
  }
  return { ok: true, segments };
}

/** Real path of root, resolved once per origin (root itself may sit behind a symlink, e.g. /tmp). */
export async function realRoot(root: string): Promise<string> {
  return realpath(root);
}

/**
 * Resolves validated segments under realRootPath, following symlinks, and confirms the result is
 * still inside the root. Returns undefined when the file does not exist or escapes. Synchronous
 * (libc's realpath, a few system calls on cached metadata): the thread pool's round trip cost
 * several times more (bench/NOTES.md, "Origin request path").
 */
export function resolveInsideRoot(realRootPath: string, segments: string[]): string | undefined {
  const joined = realRootPath + sep + segments.join(sep);
  let real: string;
  try {
    real = realpathSync.native(joined);
  } catch {
    return undefined;
  }
  if (!real.startsWith(realRootPath + sep)) return undefined;
  return real;
}

/** The raw path after a prefix, without the query string (still percent-encoded). */
export function rawPathAfter(url: string, prefix: string): string | undefined {
  const q = url.indexOf('?');
  const path = q >= 0 ? url.slice(0, q) : url;
  return path.startsWith(prefix) ? path.slice(prefix.length) : undefined;
}
