/** The StreamedgeError('BAD_MEDIA') `fn` throws (the test fails when it throws nothing or another). */
import { expect } from 'vitest';
import { StreamedgeError } from '../../../src/errors.js';

export function badMedia(fn: () => unknown): StreamedgeError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(StreamedgeError);
    expect((e as StreamedgeError).code).toBe('BAD_MEDIA');
    return e as StreamedgeError;
  }
  throw new Error('expected a BAD_MEDIA error, nothing was thrown');
}
