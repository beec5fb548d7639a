import type { Command } from 'commander';

type Register = (program: Command) => void;

/**
 * Every area's commands, and how to load the file that registers them. A run loads only the area
 * its command names (a `package` run never loads the edge); help and unknown commands load all,
 * in this order.
 */
const AREAS: { commands: string[]; load: () => Promise<Register[]> }[] = [
  { commands: ['package'], load: async () => [(await import('../packager/package-cli.js')).registerPackageCommand] },
  {
    commands: ['origin', 'ad-break'],
    load: async () => {
      const m = await import('../packager/origin/cli.js');
      return [m.registerOriginCommand, m.registerAdBreakCommand];
    },
  },
  { commands: ['edge', 'purge'], load: async () => [(await import('../edge/edge-cli.js')).registerEdgeCommands] },
  { commands: ['keys'], load: async () => [(await import('../edge/fleet/fleet-cli.js')).registerKeysCommands] },
  { commands: ['sign'], load: async () => [(await import('../src/cli/sign-command.js')).registerSignCommand] },
  {
    commands: ['content-key'],
    load: async () => [(await import('../src/cli/content-key-command.js')).registerContentKeyCommand],
  },
  {
    commands: ['loadtest', 'loadtest-agent'],
    load: async () => {
      const m = await import('../bench/loadtest-cli.js');
      return [m.registerLoadtestCommand, m.registerLoadtestAgentCommand];
    },
  },
  { commands: ['demo'], load: async () => [(await import('../player-demo/demo-cli.js')).registerDemoCommand] },
];

/** Registers the commands `args` (the arguments after the script) can reach. */
export async function registerCommands(program: Command, args: readonly string[]): Promise<void> {
  const named = AREAS.find((a) => a.commands.includes(args[0] ?? ''));
  for (const area of named ? [named] : AREAS) for (const register of await area.load()) register(program);
}
