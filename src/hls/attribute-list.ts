import { StreamedgeError } from '../errors.js';

/**
 * HLS attribute lists (RFC 8216bis 4.2): `NAME=value,NAME="quoted",...`.
 * Plain strings are written as-is (enumerated-string, decimal-integer, resolution, ...);
 * wrap a value in `quoted()` to write a quoted-string. Undefined values are left out.
 */
export class QuotedString {
  constructor(readonly value: string) {}
}

export function quoted(value: string): QuotedString {
  return new QuotedString(value);
}

export type AttributeValue = string | number | QuotedString | undefined;

export function attributeList(attrs: ReadonlyArray<readonly [string, AttributeValue]>): string {
  const out: string[] = [];
  for (const [name, value] of attrs) {
    if (value === undefined) continue;
    if (value instanceof QuotedString) {
      if (/["\r\n]/.test(value.value)) {
        throw new StreamedgeError(
          'HLS_INVALID_ATTRIBUTE',
          `HLS attribute ${name} cannot contain a double quote or a line break: ${JSON.stringify(value.value)}`,
        );
      }
      out.push(`${name}="${value.value}"`);
    } else if (typeof value === 'number') {
      if (!Number.isFinite(value)) {
        throw new StreamedgeError(
          'HLS_INVALID_ATTRIBUTE',
          `HLS attribute ${name} must be a finite number, got ${value}`,
        );
      }
      out.push(`${name}=${value}`);
    } else {
      out.push(`${name}=${value}`);
    }
  }
  return out.join(',');
}

/**
 * A decimal-floating-point value with at most `decimals` decimals and no trailing zeros
 * ("1.5", "12", "0.512"). Rounds half away from zero at the last decimal.
 */
export function decimal(value: number, decimals = 3): string {
  return String(Number(value.toFixed(decimals)));
}
