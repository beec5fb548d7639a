/**
 * Which key id a published VOD version is encrypted with: `<version>/.protection.json`
 * (`{"scheme":"cbcs","kid":"<32 hex>"}`), written by the packager beside the version's manifests
 * and never served (a leading dot). The origin reads it to hand a key out only for the assets
 * that use it: a token for one asset does not open another's key.
 */
import { writeFileSync } from 'node:fs';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Protection } from '../src/media/presentation.js';
import { VERSION_NAME } from './publish.js';

export const PROTECTION_RECORD = '.protection.json';

export function writeProtectionRecord(versionRoot: string, p: Protection): void {
  writeFileSync(join(versionRoot, PROTECTION_RECORD), JSON.stringify({ scheme: p.scheme, kid: p.kid }) + '\n');
}

/** The key ids any published version of the asset at `assetDir` is encrypted with (empty if none). */
export async function assetKids(assetDir: string): Promise<Set<string>> {
  const kids = new Set<string>();
  let names: string[];
  try {
    names = await readdir(assetDir);
  } catch {
    return kids;
  }
  for (const name of names.filter((n) => VERSION_NAME.test(n))) {
    try {
      const rec = JSON.parse(await readFile(join(assetDir, name, PROTECTION_RECORD), 'utf8')) as { kid?: unknown };
      if (typeof rec.kid === 'string') kids.add(rec.kid);
    } catch {
      // a clear version, or one being removed
    }
  }
  return kids;
}
