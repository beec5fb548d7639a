import type { Command } from 'commander';

/** Registers the `sign` command(s). */
export function registerSignCommand(_program: Command): void {
  // filled in by this area's implementation
}
