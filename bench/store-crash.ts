/**
 * The store's crash-safety experiment at full length: 200 lives of a writer child
 * (`node bin/run-ts.js test/integration/store/crash-writer.ts`) SIGKILLed at random points; after
 * each, the store is reopened and every indexed object must read back byte-identical, acknowledged
 * puts of the killed life must be present, and no CRC error may occur.
 *
 *   node bin/run-ts.js bench/store-crash.ts [--rounds 200] [--seed N]
 *
 * Writes bench/results/store-crash.json. Exit code 1 if any problem was found.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WRITER_VIA_RUN_TS, runCrashRounds } from '../test/integration/store/crash-harness.js';
import { finishMachineInfo, startMachineInfo } from './machine-info.js';

const machineStart = startMachineInfo();

const args = process.argv.slice(2);
const opt = (name: string, def: number) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : def;
};
const rounds = opt('--rounds', 200);
const seed = opt('--seed', Date.now() % 1_000_000);
const dir = mkdtempSync(join(tmpdir(), 'store-crash-bench-'));
const started = performance.now();
try {
  const summary = await runCrashRounds(WRITER_VIA_RUN_TS, dir, rounds, seed, (r, objects) => {
    if (r % 10 === 0) process.stdout.write(`round ${r}/${rounds}: ${objects} objects verified\n`);
  });
  const seconds = Math.round((performance.now() - started) / 100) / 10;
  const result = {
    bench: 'edge/store crash safety',
    machine: finishMachineInfo(machineStart),
    date: new Date().toISOString(),
    seed,
    seconds,
    ...summary,
    problems: summary.problems.slice(0, 50),
  };
  const out = join(fileURLToPath(new URL('./results/', import.meta.url)), 'store-crash.json');
  mkdirSync(join(out, '..'), { recursive: true });
  writeFileSync(out, JSON.stringify(result, null, 2) + '\n');
  console.log(
    `${summary.rounds} lives killed (${summary.killedBeforeReady} while opening), ${summary.acked} acknowledged puts, ` +
      `${summary.verifiedObjects} object reads verified, ${summary.problems.length} problems; ${seconds} s; wrote ${out}`,
  );
  for (const p of summary.problems.slice(0, 10)) console.log('  ' + p);
  process.exitCode = summary.problems.length === 0 ? 0 : 1;
} finally {
  rmSync(dir, { recursive: true, force: true });
}
