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

/** An xs:duration ("PT1.5S", "PT2M", "P1DT2H") in seconds; undefined when absent or not one. */
export function parseXsDuration(v: string | undefined): number | undefined {
  if (!v) return undefined;
  const m = /^P(?:(\d+(?:\.\d+)?)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?$/.exec(
    v.trim(),
  );
  if (!m) return undefined;
  return Number(m[1] ?? 0) * 86400 + Number(m[2] ?? 0) * 3600 + Number(m[3] ?? 0) * 60 + Number(m[4] ?? 0);
}
