/**
 * The one place the tests validate XML: an MPD against the ISO/IEC 23009-1 schema kept in the
 * repository (test/schemas/dash/DASH-MPD.xsd, offline). Uses the xmllint binary (Debian
 * libxml2-utils) when present, else xmllint-wasm from npm, so a plain clone needs neither.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const SCHEMA_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../schemas/dash');
export const MPD_XSD = join(SCHEMA_DIR, 'DASH-MPD.xsd');

export interface MpdValidation {
  valid: boolean;
  errors: string;
  via: 'xmllint' | 'xmllint-wasm';
}

export function hasXmllintBinary(): boolean {
  const r = spawnSync('xmllint', ['--version'], { encoding: 'utf8' });
  return r.status === 0;
}

export async function validateMpd(
  xml: string,
  via: 'auto' | 'xmllint' | 'xmllint-wasm' = 'auto',
): Promise<MpdValidation> {
  const useBinary = via === 'xmllint' || (via === 'auto' && hasXmllintBinary());
  return useBinary ? validateWithBinary(xml) : validateWithWasm(xml);
}

function validateWithBinary(xml: string): MpdValidation {
  const dir = mkdtempSync(join(tmpdir(), 'streamedge-mpd-'));
  try {
    const file = join(dir, 'manifest.mpd');
    writeFileSync(file, xml);
    const r = spawnSync('xmllint', ['--nonet', '--noout', '--schema', MPD_XSD, file], { encoding: 'utf8' });
    return { valid: r.status === 0, errors: r.status === 0 ? '' : r.stderr, via: 'xmllint' };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function validateWithWasm(xml: string): Promise<MpdValidation> {
  const { validateXML } = await import('xmllint-wasm');
  const result = await validateXML({
    xml: { fileName: 'manifest.mpd', contents: xml },
    schema: { fileName: 'DASH-MPD.xsd', contents: readFileSync(MPD_XSD, 'utf8') },
    preload: { fileName: 'xlink.xsd', contents: readFileSync(join(SCHEMA_DIR, 'xlink.xsd'), 'utf8') },
  });
  return {
    valid: result.valid,
    errors: result.errors.map((e) => e.rawMessage).join('\n'),
    via: 'xmllint-wasm',
  };
}
