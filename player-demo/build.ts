/**
 * Bundles the demo page (app/main.ts with our player, hls.js, dash.js; Shaka is copied beside it) with esbuild into
 * player-demo/dist/, next to the static page files. Every file is replaced whole (temporary file +
 * rename): builds run in several processes at once (a demo starting while a test's page server
 * serves the page), and none may serve another's half-written bundle.
 */
import { build } from 'esbuild';
import { mkdirSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { copyFileAtomic, writeFileAtomic } from '../src/atomic-file.js';
import { SHAKA_SCRIPT } from './app/shaka-engine.js';

export const PLAYER_DIR = dirname(fileURLToPath(import.meta.url));
export const DIST_DIR = join(PLAYER_DIR, 'dist');
const SHAKA_BUILD = fileURLToPath(import.meta.resolve('shaka-player/dist/shaka-player.compiled.js'));

export async function buildPlayer(): Promise<string> {
  mkdirSync(DIST_DIR, { recursive: true });
  const bundle = await build({
    entryPoints: [join(PLAYER_DIR, 'app', 'main.ts')],
    outfile: join(DIST_DIR, 'app.js'),
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: ['chrome110'],
    sourcemap: true,
    minify: true,
    legalComments: 'linked',
    logLevel: 'error',
    write: false,
  });
  for (const f of bundle.outputFiles) writeFileAtomic(f.path, f.contents);
  for (const f of readdirSync(join(PLAYER_DIR, 'page'))) copyFileAtomic(join(PLAYER_DIR, 'page', f), join(DIST_DIR, f));
  // Shaka Player's compiled build, served beside the page (the page loads it on first use; no CDN)
  mkdirSync(join(DIST_DIR, 'vendor'), { recursive: true });
  copyFileAtomic(SHAKA_BUILD, join(DIST_DIR, SHAKA_SCRIPT));
  return DIST_DIR;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const t0 = Date.now();
  await buildPlayer();
  process.stdout.write(`player bundle written to ${DIST_DIR} (${Date.now() - t0} ms)\n`);
}
