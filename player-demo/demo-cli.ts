import type { Command } from 'commander';

/** Registers the `demo (npm start)` command(s). */
export function registerDemoCommand(_program: Command): void {
  // filled in by this area's implementation
}
