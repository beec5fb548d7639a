/**
 * `streamedge content-key new --file keys.json`: adds a fresh random content key (a 128-bit AES
 * key and its key id) to a key file, creating it (mode 0600) if it does not exist, and prints the
 * new key id. The file is what `package --content-keys` and `origin --content-keys` read
 * (src/cenc/content-keys.ts). Written whole to a temporary file and renamed over the old one, so
 * a failure never leaves half a key file.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { writeFileAtomic } from '../atomic-file.js';
import type { Command } from 'commander';
import { parseContentKeys } from '../cenc/content-keys.js';
import { StreamedgeError } from '../errors.js';

/** Adds a new key to `file` (created when missing); returns its key id (32 hex). */
export function addContentKey(file: string): string {
  const existing = existsSync(file) ? parseContentKeys(readFileSync(file, 'utf8'), file) : [];
  let kid: string;
  do kid = randomBytes(16).toString('hex');
  while (existing.some((k) => k.kid === kid));
  const keys = [
    ...existing.map((k) => ({ kid: k.kid, key: k.key.toString('hex') })),
    { kid, key: randomBytes(16).toString('hex') },
  ];
  try {
    writeFileAtomic(file, JSON.stringify({ keys }, null, 2) + '\n', { mode: 0o600 });
  } catch (e) {
    throw new StreamedgeError('CANNOT_WRITE', `cannot write the content key file ${file}: ${(e as Error).message}`);
  }
  return kid;
}

export function registerContentKeyCommand(program: Command): void {
  program
    .command('content-key')
    .description('content keys for --encrypt (package) and --content-keys (origin)')
    .command('new')
    .description('add a random key to a key file (created, mode 0600, if missing) and print its key id')
    .requiredOption('--file <keys.json>', 'the key file')
    .action((o: { file: string }) => {
      process.stdout.write(`${addContentKey(o.file)}\n`);
    });
}
