/**
 * DASH FrameRateType ("30", "30000/1001", ISO/IEC 23009-1 5.3.12.2): a reduced fraction,
 * written as an integer when the denominator is 1.
 */
export function dashFrameRate(rate: readonly [number, number]): string {
  let [num, den] = rate;
  if (!Number.isInteger(num) || !Number.isInteger(den)) {
    // e.g. [29.97, 1]: keep three decimals of precision as an integer fraction
    num = Math.round((num / den) * 1000);
    den = 1000;
  }
  const g = gcd(num, den);
  num /= g;
  den /= g;
  return den === 1 ? String(num) : `${num}/${den}`;
}

/** An aspect ratio "w:h" reduced to lowest terms. */
export function ratio(w: number, h: number): string {
  const g = gcd(w, h);
  return `${w / g}:${h / g}`;
}

export function gcd(a: number, b: number): number {
  a = Math.abs(Math.round(a));
  b = Math.abs(Math.round(b));
  while (b) [a, b] = [b, a % b];
  return a || 1;
}
