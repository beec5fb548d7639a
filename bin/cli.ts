/**
 * The CLI composition root. Each area registers its own commands; this file only wires them,
 * so src/ never imports packager/ or edge/ (they meet only over HTTP).
 */
import { Command } from 'commander';
import { formatCliError } from '../src/cli/options.js';
import { registerCommands } from './commands.js';

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
