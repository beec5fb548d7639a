/**
 * Typed errors shared by every part of streamedge. `code` is stable and machine-readable;
 * `message` is one line a user can act on; `detail` (optional) points at more (a log file).
 */
export class StreamedgeError extends Error {
  readonly code: string;
  readonly detail?: string;
  constructor(code: string, message: string, options?: { cause?: unknown; detail?: string }) {
    super(message, options?.cause !== undefined ? { cause: options.cause } : undefined);
    this.name = 'StreamedgeError';
    this.code = code;
    this.detail = options?.detail;
  }
}

export function isStreamedgeError(e: unknown): e is StreamedgeError {
  return e instanceof StreamedgeError;
}

/** Anything caught, as an Error (a thrown non-Error is wrapped, its text kept). */
export function asError(e: unknown): Error {
  return e instanceof Error ? e : new Error(String(e));
}

/** Filesystem error codes that mean the destination cannot take the bytes (full, over quota, read-only). */
const CANNOT_WRITE: Record<string, string> = {
  ENOSPC: 'no space left on the device',
  EDQUOT: 'the disk quota is exhausted',
  EROFS: 'the filesystem is read-only',
};

/**
 * A write that failed because the destination filesystem is full, over quota or read-only, as one
 * line about `where` that a user can act on (`STORAGE_FULL`); undefined for any other error, which
 * the caller rethrows as it was.
 */
export function storageWriteError(e: unknown, where: string, consequence: string): StreamedgeError | undefined {
  const code = (e as { code?: unknown } | null)?.code;
  if (typeof code !== 'string' || !(code in CANNOT_WRITE)) return undefined;
  return new StreamedgeError('STORAGE_FULL', `${CANNOT_WRITE[code]} (${code}) writing ${where}: ${consequence}`, {
    cause: e,
  });
}
