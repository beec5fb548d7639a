/**
 * A read-only store process for multi-process.test.ts: opens ReadOnlyStore on <dir> and answers one
 * command per stdin line on stdout: "get <key>" -> "hit <x-gen> <bytes> <crc32c>" | "miss";
 * "refresh" -> "ok"; "hold <key>" starts reading a streamed object and stops half-way (its read
 * transaction and region handle stay in use) -> "held".
 *
 * usage: node bin/run-ts.js test/integration/store/reader-child.ts <dir>
 */
import { createInterface } from 'node:readline';
import { crc32c } from '../../../edge/store/crc32c.js';
import { ReadOnlyStore } from '../../../edge/store/index.js';

const store = ReadOnlyStore.open({ dir: process.argv[2], ramBytes: 0 });
const out = (s: string): void => {
  process.stdout.write(s + '\n');
};
out('ready');
for await (const line of createInterface({ input: process.stdin })) {
  const [cmd, key] = line.split(' ');
  if (cmd === 'refresh') {
    store.refresh();
    out('ok');
  } else if (cmd === 'get') {
    const g = await store.get(key);
    if (!g) {
      out('miss');
      continue;
    }
    const parts: Buffer[] = [];
    for await (const c of g.body) parts.push(c as Buffer);
    const body = Buffer.concat(parts);
    out(`hit ${g.meta.headers['x-gen']} ${body.length} ${crc32c(body)}`);
  } else if (cmd === 'hold') {
    const g = await store.get(key);
    if (!g) {
      out('miss');
      continue;
    }
    const it = g.body[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
    await it.next();
    out('held');
  }
}
await store.close();
