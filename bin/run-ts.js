#!/usr/bin/env node
// Runs a TypeScript entry file: node bin/run-ts.js <file.ts> [args...] (see bin/ts-launch.js)
import { resolve } from 'node:path';
import { importTs } from './ts-launch.js';

const [file, ...rest] = process.argv.slice(2);
if (!file) {
  process.stderr.write('usage: run-ts <file.ts> [args...]\n');
  process.exit(2);
}
process.argv = [process.argv[0], resolve(file), ...rest];
await importTs(resolve(file));
