import type { Command } from 'commander';

/** Registers the `loadtest` command(s). */
export function registerLoadtestCommand(_program: Command): void {
  // filled in by this area's implementation
}
