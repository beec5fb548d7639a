/**
 * Bundles page-probe.ts into one classic script for Playwright's addInitScript (built here with
 * esbuild rather than serialising a function, so no transpiler helper leaks into the page).
 */
import { build } from 'esbuild';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));

export async function buildProbeScript(): Promise<string> {
  const out = await build({
    entryPoints: [join(HERE, 'page-probe.ts')],
    bundle: true,
    write: false,
    format: 'iife',
    platform: 'browser',
    target: ['chrome110'],
    logLevel: 'error',
  });
  return out.outputFiles[0].text;
}
