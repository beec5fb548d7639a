/**
 * `node bin/run-ts.js player-demo/leash.ts <command> [args…]`: runs a program that cannot watch its
 * parent itself (nats-server) on the demo's leash. Its output passes through; a SIGTERM or SIGINT
 * to this process, or its parent gone (src/cli/stop-with-parent.ts: the demo killed outright), stops
 * the program (SIGTERM, SIGKILL after 5 s); this process exits with the program's code.
 */
import { spawn } from 'node:child_process';
import { stopWithParent } from '../src/cli/stop-with-parent.js';

const [command, ...args] = process.argv.slice(2);
if (!command) {
  process.stderr.write('usage: leash <command> [args…]\n');
  process.exit(2);
}
const child = spawn(command, args, { stdio: 'inherit' });
let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  child.kill('SIGTERM');
  setTimeout(() => child.kill('SIGKILL'), 5000).unref();
};
stopWithParent(stop);
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
child.on('error', (e) => {
  process.stderr.write(`${command}: ${e.message}\n`);
  process.exit(127);
});
child.on('exit', (code, signal) => process.exit(code ?? (signal === 'SIGTERM' ? 0 : 1)));
