import type { Command } from 'commander';

/** Registers the `edge and purge` command(s). */
export function registerEdgeCommands(_program: Command): void {
  // filled in by this area's implementation
}
