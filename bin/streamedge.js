#!/usr/bin/env node
// Launcher: runs the TypeScript CLI (from a cached bundle of it, else through tsx: bin/ts-launch.js).
import { importTs } from './ts-launch.js';

await importTs(new URL('./cli.ts', import.meta.url));
