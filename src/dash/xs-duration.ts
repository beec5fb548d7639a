/**
 * An xs:duration for MPD attributes ("PT1H2M3.5S", "PT0S"), rounded to the millisecond.
 */
export function xsDuration(seconds: number): string {
  const totalMs = Math.max(0, Math.round(seconds * 1000));
  const h = Math.floor(totalMs / 3_600_000);
  const m = Math.floor((totalMs % 3_600_000) / 60_000);
  const ms = totalMs % 60_000;
  let out = 'PT';
  if (h > 0) out += `${h}H`;
  if (m > 0) out += `${m}M`;
  if (ms > 0 || (h === 0 && m === 0)) out += `${ms / 1000}S`;
  return out;
}
