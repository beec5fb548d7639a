/**
 * An edge-worker stand-in for store-service.test.ts: a ReadOnlyStore on <storeDir> plus a StoreClient
 * on <socket>. One command per stdin line, one answer line on stdout:
 *   "fill <key> <url> <n>" -> n local waiters read the fill -> "filled <n> <len> <crc32c> <stored>"
 *     (all n must agree, else "differ ..."); "started" is printed first, when the head arrived
 *   "get <key>" -> "hit <len> <crc32c>" | "miss"    (the worker's own store view: RAM tier, lmdb, regions)
 *   "purge <prefix>" -> "purged <count>"
 *   "regions" -> "regions <open region handles>"
 * usage: node bin/run-ts.js test/integration/cluster/worker-child.ts <socket> <storeDir>
 */
import { createInterface } from 'node:readline';
import { StoreClient } from '../../../edge/cluster/store-client.js';
import { crc32c } from '../../../edge/store/crc32c.js';
import { ReadOnlyStore } from '../../../edge/store/index.js';

const [sockPath, dir] = process.argv.slice(2);
const local = ReadOnlyStore.open({ dir });
const client = await StoreClient.connect(sockPath, local);
const out = (s: string): void => {
  process.stdout.write(s + '\n');
};
out('ready');

async function fill(key: string, url: string, n: number): Promise<void> {
  const waiters = Array.from({ length: n }, async () => {
    const f = client.fill(key, url);
    await f.head;
    const parts: Buffer[] = [];
    for await (const c of f.body()) parts.push(c);
    const body = Buffer.concat(parts);
    return `${body.length} ${crc32c(body)} ${await f.done}`;
  });
  void client.fill(key, url).head.then(() => out('started'));
  const got = await Promise.all(waiters);
  out(new Set(got).size === 1 ? `filled ${n} ${got[0]}` : `differ ${got.join(',')}`);
}

for await (const line of createInterface({ input: process.stdin })) {
  const [cmd, a, b, c] = line.split(' ');
  if (cmd === 'fill') {
    void fill(a, b, Number(c)).catch((e: unknown) => out(`failed ${String(e)}`));
  } else if (cmd === 'get') {
    const g = await local.get(a);
    if (!g) out('miss');
    else {
      const parts: Buffer[] = [];
      for await (const ch of g.body) parts.push(ch as Buffer);
      const body = Buffer.concat(parts);
      out(`hit ${body.length} ${crc32c(body)}`);
    }
  } else if (cmd === 'regions') {
    out(`regions ${local.stats().openRegions}`);
  } else if (cmd === 'purge') {
    out(`purged ${await client.purgePrefix(a, 'hard')}`);
  }
}
