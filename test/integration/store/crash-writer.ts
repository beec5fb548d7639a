/**
 * Writer child for the crash-safety test: opens the store, then does sustained concurrent puts
 * (buffered and streamed), overwrites, deletes and tag purges until killed (or until its byte
 * budget is used up). Every body is derived from key + generation (see bodyFor), the generation is
 * stored in the `x-gen` header, so a checker can verify any object it finds.
 *
 * usage: node bin/run-ts.js test/integration/store/crash-writer.ts <dir> <seed> <round>
 * stdout: "opening", "ready <objects>", "bad <key> <why>" (a read-back in this life failed),
 *   "ack <key> <gen> <purges-before-start>", "del <key>", "purge <tag> <mode>", "done"
 */
import { LogStore } from '../../../edge/store/index.js';
import { CRASH_STORE_OPTIONS, crashBody, crashMeta } from './crash-harness.js';

const [dir, seedText, roundText] = process.argv.slice(2);
if (!dir) {
  process.stderr.write('usage: crash-writer.ts <dir> <seed> <round>\n');
  process.exit(2);
}
let seed = Number(seedText) >>> 0 || 1;
const round = Number(roundText) || 0;
function rand(n: number): number {
  seed ^= seed << 13;
  seed >>>= 0;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  seed >>>= 0;
  return seed % n;
}
const out = (line: string): void => {
  process.stdout.write(line + '\n');
};

out('opening');
const store = await LogStore.open({ dir, ...CRASH_STORE_OPTIONS });
out(`ready ${store.stats().objects}`);

const SIZES = [0, 1024, 5000, 40_000, 100_000];
const BUDGET = 1_500_000;
let written = 0;
let seq = 0;
let purges = 0;
const busy = new Set<string>();
/** Keys acknowledged in this life and not deleted or hard-purged since: they must read back right now. */
const mine = new Map<string, number>();

async function readBack(key: string, gen: number): Promise<void> {
  const g = await store.get(key);
  if (!g) return out(`bad ${key} missing (acked gen ${gen})`);
  const got = Number(g.meta.headers['x-gen']);
  const parts: Buffer[] = [];
  try {
    for await (const c of g.body) parts.push(c as Buffer);
  } catch (e) {
    return out(`bad ${key} read failed ${String(e).replaceAll(' ', '_')}`);
  }
  if (got < gen || !Buffer.concat(parts).equals(crashBody(key, got, g.size)))
    out(`bad ${key} wrong bytes (gen ${got}, acked ${gen})`);
}

async function* slowChunks(buf: Buffer): AsyncGenerator<Buffer> {
  for (let i = 0; i < buf.length; i += 4096) {
    yield buf.subarray(i, i + 4096);
    await new Promise((r) => setImmediate(r)); // leave the record half-written across event-loop turns
  }
}

async function worker(): Promise<void> {
  while (written < BUDGET) {
    const idx = rand(200);
    const key = `/crash/k${idx}`;
    if (busy.has(key)) continue;
    busy.add(key);
    try {
      const op = rand(100);
      if (op < 5) {
        out(`del ${key}`);
        mine.delete(key);
        await store.delete(key);
      } else if (op < 15 && mine.size > 0) {
        const keys = [...mine.keys()];
        const k = keys[rand(keys.length)];
        if (!busy.has(k)) {
          busy.add(k);
          try {
            await readBack(k, mine.get(k)!);
          } finally {
            busy.delete(k);
          }
        }
      } else if (op < 7) {
        const tag = `g${rand(5)}`;
        const mode = rand(2) === 0 ? 'soft' : 'hard';
        out(`purge ${tag} ${mode}`);
        purges++;
        if (mode === 'hard')
          for (const k of [...mine.keys()])
            if (`g${Number(k.slice(k.lastIndexOf('k') + 1)) % 5}` === tag) mine.delete(k);
        await store.purgeTag(tag, mode);
      } else {
        const gen = round * 100_000 + ++seq;
        const size = SIZES[rand(SIZES.length)];
        const body = crashBody(key, gen, size);
        const streamed = size >= 40_000 && rand(2) === 0;
        const startEpoch = purges; // purges issued from now on may remove this put even if it is acked
        const ok = streamed
          ? await store.put(key, crashMeta(key, gen), slowChunks(body), size)
          : await store.put(key, crashMeta(key, gen), body);
        written += size + 200;
        if (ok) {
          out(`ack ${key} ${gen} ${startEpoch}`);
          if (purges === startEpoch) mine.set(key, gen);
          else mine.delete(key);
        }
      }
    } finally {
      busy.delete(key);
    }
  }
}

await Promise.all([worker(), worker(), worker(), worker(), worker(), worker()]);
out('done');
