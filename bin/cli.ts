/**
 * The CLI composition root. Each area registers its own commands; this file only wires them,
 * so src/ never imports packager/ or edge/ (they meet only over HTTP).
 */
import { Command } from 'commander';
import { formatCliError } from '../src/cli/options.js';
import { stopWithParent } from '../src/cli/stop-with-parent.js';
import { registerCommands } from './commands.js';

// a service the demo started stops with it, even when the demo is killed outright
stopWithParent();

const program = new Command();
program
  .name('streamedge')
  .description('Video streaming origin packager and segment CDN')
  .showHelpAfterError()
  .exitOverride((err) => {
    // commander already printed its message; keep its exit code (0 for --help/--version)
    process.exit(err.exitCode);
  });

await registerCommands(program, process.argv.slice(2));

try {
  await program.parseAsync(process.argv);
} catch (e) {
  process.stderr.write(formatCliError(e));
  process.exit(1);
}
