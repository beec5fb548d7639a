import { StreamedgeError } from '../../src/errors.js';
import { MAX_KEY_BYTES } from './record-format.js';

/**
 * Keys the store can hold. lmdb refuses keys over ~1978 bytes (and a tag row is "<tag>\0<key>"),
 * so the store checks every key, prefix and tag before any database call: an over-long key is a
 * typed error (`STORE_KEY_TOO_LONG`, the edge answers 414), never an lmdb exception.
 */
export class StoreKeyError extends StreamedgeError {
  constructor(
    code: 'STORE_KEY_TOO_LONG' | 'STORE_KEY_INVALID',
    message: string,
    readonly bytes: number,
  ) {
    super(code, message);
    this.name = 'StoreKeyError';
  }
}

/** Why `key` cannot be stored, or undefined if it can. */
export function storeKeyProblem(key: string): string | undefined {
  if (typeof key !== 'string' || key.length === 0) return 'empty';
  if (key.includes('\u0000')) return 'contains NUL';
  const n = Buffer.byteLength(key);
  if (n > MAX_KEY_BYTES) return `${n} bytes, longer than ${MAX_KEY_BYTES}`;
  return undefined;
}

/** Throws StoreKeyError unless `key` (or a key prefix, or a tag with `max` = MAX_TAG_BYTES) fits the index. */
export function assertStoreKey(key: string, what = 'key', max = MAX_KEY_BYTES): void {
  if (typeof key !== 'string' || key.includes('\u0000')) {
    throw new StoreKeyError('STORE_KEY_INVALID', `store ${what} must be a string without NUL`, 0);
  }
  const n = Buffer.byteLength(key);
  if (n > max) {
    throw new StoreKeyError('STORE_KEY_TOO_LONG', `store ${what} is ${n} bytes; the limit is ${max}`, n);
  }
}
