/**
 * Locates ffmpeg and ffprobe. Preference: FFMPEG_PATH / FFPROBE_PATH, then a system binary on
 * PATH (usually newer), then the static builds that `npm ci` brings (@ffmpeg-installer,
 * @ffprobe-installer). Set STREAMEDGE_BUNDLED_FFMPEG=1 to force the npm builds.
 */
import { createRequire } from 'node:module';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

const require = createRequire(import.meta.url);

function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      /* keep looking */
    }
  }
  return undefined;
}

function resolveBinary(envVar: string, name: string, npmPackage: string): string {
  const fromEnv = process.env[envVar];
  if (fromEnv) return fromEnv;
  if (process.env.STREAMEDGE_BUNDLED_FFMPEG !== '1') {
    const system = onPath(name);
    if (system) return system;
  }
  return (require(npmPackage) as { path: string }).path;
}

let ffmpeg: string | undefined;
let ffprobe: string | undefined;

export function ffmpegPath(): string {
  return (ffmpeg ??= resolveBinary('FFMPEG_PATH', 'ffmpeg', '@ffmpeg-installer/ffmpeg'));
}

export function ffprobePath(): string {
  return (ffprobe ??= locateFfprobe());
}

/** Where ffprobe is found now (FFPROBE_PATH, PATH, the npm build), without remembering it. */
export function locateFfprobe(): string {
  return resolveBinary('FFPROBE_PATH', 'ffprobe', '@ffprobe-installer/ffprobe');
}
