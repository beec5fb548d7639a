import { StreamedgeError } from '../errors.js';

const DURATION_UNITS: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400 };

/**
 * "500ms", "2s", "1.5m", "2h", or a bare number of seconds → seconds. `flag` names the option in
 * the error (`--segment abc: not a duration …`).
 */
export function parseDuration(text: string, flag?: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/i.exec(text);
  if (!m)
    throw new StreamedgeError(
      'BAD_OPTION',
      `${flag === undefined ? '' : `${flag} `}not a duration: "${text}" (use e.g. 500ms, 2s, 1m, 2h)`,
    );
  return Number(m[1]) * DURATION_UNITS[(m[2] ?? 's').toLowerCase()];
}

const SIZE_UNITS: Record<string, number> = {
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  tb: 1e12,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
  tib: 1024 ** 4,
};

/** "1048576", "64MiB", "10GB" → bytes. */
export function parseBytes(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?i?b)?\s*$/i.exec(text);
  if (!m) throw new StreamedgeError('BAD_OPTION', `not a size: "${text}" (use e.g. 64MiB, 10GB)`);
  return Math.round(Number(m[1]) * SIZE_UNITS[(m[2] ?? 'b').toLowerCase()]);
}

/**
 * A bit rate in kbit/s: "3000", "800k", "3M" → kbit/s (rounded; 1 to 10⁹). `what` names the
 * option or field in the error, e.g. "--cmsd-max-bitrate".
 */
export function parseKbps(text: string, what: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kKmM])?\s*$/.exec(text);
  const kbps = m ? Number(m[1]) * (m[2] === undefined ? 1 : m[2].toLowerCase() === 'm' ? 1000 : 1) : Number.NaN;
  if (!Number.isFinite(kbps) || kbps < 1 || kbps > 1e9) {
    throw new StreamedgeError('BAD_OPTION', `${what} ${text}: expected kbit/s, e.g. 3000, 800k or 3M`);
  }
  return Math.round(kbps);
}

export function parsePort(text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new StreamedgeError('BAD_OPTION', `not a TCP port: "${text}"`);
  return n;
}

/** The one clear line a failed command prints on stderr (the caller decides how to exit). */
export function formatCliError(e: unknown): string {
  if (e instanceof StreamedgeError) return `streamedge: ${e.message}${e.detail ? ` (${e.detail})` : ''}\n`;
  const msg = e instanceof Error ? e.message : String(e);
  return `streamedge: unexpected error: ${msg}\n`;
}
