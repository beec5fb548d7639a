/**
 * Child for the log destination test: writes numbered lines through src/logging/log-destination.ts on
 * its standard output, then
 * - `exit`: calls process.exit(0) in the same turn (the lines are still pending);
 * - `gone`: waits for a byte on stdin (the parent has closed the pipe's read end by then), writes
 *   again, and reports on stderr how many lines were dropped, then exits normally.
 *
 * usage: node bin/run-ts.js test/integration/logging/log-destination-child.ts exit|gone <lines>
 */
import { stdoutLog } from '../../../src/logging/log-destination.js';

const [mode, countText] = process.argv.slice(2);
const count = Number(countText);
const log = stdoutLog();
const line = (i: number): string => `{"n":${i},"msg":"line ${i} ${'x'.repeat(100)}"}\n`;

if (mode === 'exit') {
  for (let i = 0; i < count; i++) log.write(line(i));
  process.exit(0);
} else {
  process.stdin.once('data', () => {
    for (let i = 0; i < count; i++) log.write(line(i));
    log.flush();
    process.stderr.write(`dropped ${log.dropped}\n`);
    process.stdin.destroy();
  });
}
