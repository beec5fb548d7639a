import type { Command } from 'commander';

/** Every area's `register(program)` is listed here (one line per area). */
export function registerCommands(_program: Command): void {
  // areas add themselves here, e.g. registerPackagerCommands(program)
}
