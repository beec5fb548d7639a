import type { Command } from 'commander';
import { registerPackageCommand } from '../packager/package-cli.js';
import { registerAdBreakCommand, registerOriginCommand } from '../packager/origin/cli.js';
import { registerEdgeCommands } from '../edge/edge-cli.js';
import { registerKeysCommands } from '../edge/fleet/fleet-cli.js';
import { registerSignCommand } from '../src/cli/sign-command.js';
import { registerContentKeyCommand } from '../src/cli/content-key-command.js';
import { registerLoadtestAgentCommand, registerLoadtestCommand } from '../bench/loadtest-cli.js';
import { registerDemoCommand } from '../player-demo/demo-cli.js';

/** Every area registers its own commands; one line per area file. */
export function registerCommands(program: Command): void {
  registerPackageCommand(program);
  registerOriginCommand(program);
  registerAdBreakCommand(program);
  registerEdgeCommands(program);
  registerKeysCommands(program);
  registerSignCommand(program);
  registerContentKeyCommand(program);
  registerLoadtestCommand(program);
  registerLoadtestAgentCommand(program);
  registerDemoCommand(program);
}
