/**
 * The demo's VOD sample: a test-signal source from media-fixtures, packaged once into
 * `<media>/sample` (2 s segments, 0.5 s parts). `npm start` packages the 60 s one, with thumbnails
 * for the seek bar's previews and two ad cues; the ABR bench's `--long-sample` the 180 s one into its own folder
 * (no thumbnails: Shaka would fetch their playlist at start-up, which the bench's engines would
 * not all do alike), which the demo then serves as it is.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FIXTURES } from '../media-fixtures/generate.js';
import { runCli, runNode } from './child-service.js';

const REPO = resolve(fileURLToPath(import.meta.url), '..', '..');

/** Packages the fixture into `<media>/sample` unless a sample is there already; false if it was. */
export async function packageDemoSample(
  media: string,
  logs: string,
  fixture: 'demo' | 'demoLong',
  say: (m: string) => void,
): Promise<boolean> {
  if (existsSync(join(media, 'sample', 'master.m3u8'))) return false;
  mkdirSync(logs, { recursive: true });
  const spec = FIXTURES[fixture];
  say(`generating the sample source (${spec.about} test signal)…`);
  await runNode('fixtures', ['bin/run-ts.js', 'media-fixtures/generate.ts', fixture], {
    cwd: REPO,
    logFile: join(logs, 'fixtures.log'),
    waitForUrl: false,
    timeoutMs: 300_000,
  });
  say('packaging it into a CMAF ladder…');
  const src = join(REPO, 'media-fixtures', '.cache', spec.file);
  // the demo's sample shows off seek-bar previews and ad cues (a splice point at 20 s, a 4 s break
  // at 40 s: the page's `ad break` cell counts down to them)
  const extras = fixture === 'demo' ? ['--thumbnails', '--ad-cues', '20,40+4'] : [];
  const args = ['package', src, '--out', media, '--id', 'sample', '--segment', '2', '--part', '0.5', ...extras];
  await runCli('package', args, {
    cwd: REPO,
    logFile: join(logs, 'package.log'),
    waitForUrl: false,
    timeoutMs: 600_000,
  });
  return true;
}
