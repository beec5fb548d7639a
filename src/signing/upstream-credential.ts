/**
 * The credential tiers use between themselves: an edge sends it upstream (to a shield, a peer or
 * the origin) in place of a viewer token, which it has already checked and removed.
 */
import { StreamedgeError } from '../errors.js';

export const UPSTREAM_CREDENTIAL_HEADER = 'x-streamedge-upstream-credential';
export const MIN_CREDENTIAL_LENGTH = 16;

/** Validates a configured credential (undefined = none configured). */
export function checkCredential(value: string | undefined, what: string): string | undefined {
  if (value === undefined) return undefined;
  if (value.length < MIN_CREDENTIAL_LENGTH) {
    throw new StreamedgeError(
      'BAD_OPTION',
      `${what} must be at least ${MIN_CREDENTIAL_LENGTH} characters (e.g. \`openssl rand -base64 24\`)`,
    );
  }
  return value;
}
