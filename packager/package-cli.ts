import type { Command } from 'commander';

/** Registers the `package (VOD packager)` command(s). */
export function registerPackageCommand(_program: Command): void {
  // filled in by this area's implementation
}
