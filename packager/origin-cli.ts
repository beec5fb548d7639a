import type { Command } from 'commander';

/** Registers the `origin (origin server + live)` command(s). */
export function registerOriginCommand(_program: Command): void {
  // filled in by this area's implementation
}
