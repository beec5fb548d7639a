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
