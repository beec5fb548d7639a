/**
 * Key rotation without downtime: origin and edge read the same JWKS file and re-read it when it
 * is replaced. Old kid only → old + new (overlap: both accepted) → new only (old refused), while
 * a viewer holding the old token and one holding the new token keep playing across the change.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  es256,
  get,
  sign,
  startStack,
  url,
  writeFakeAsset,
  writeJwks,
  type KeyPairFiles,
  type Stack,
} from './signed-helpers.js';

let dir: string;
let jwksFile: string;
let stack: Stack;
let oldKey: KeyPairFiles;
let newKey: KeyPairFiles;
const SEG = '/vod/a/v/seg-1.m4s';

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'se-signed-rot-'));
  const root = join(dir, 'root');
  mkdirSync(root);
  writeFakeAsset(root, 'a');
  oldKey = await es256('2025-01');
  newKey = await es256('2025-02');
  jwksFile = join(dir, 'jwks.json');
  writeJwks(jwksFile, [oldKey]);
  stack = await startStack({ root, jwksFile, storeDir: join(dir, 'store') });
});

afterAll(async () => {
  await stack?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Replaces the JWKS file and resolves once both servers use the new keys (their reload event). */
async function publish(keys: KeyPairFiles[]): Promise<void> {
  const reloaded = Promise.all(
    [stack.originKeys, stack.edgeKeys].map(
      (k) =>
        new Promise<void>((resolve) => {
          const off = k.onReload(() => {
            off();
            resolve();
          });
        }),
    ),
  );
  writeJwks(jwksFile, keys);
  await reloaded;
}

async function status(base: string, token: string): Promise<[number, string]> {
  const r = await get(url(base, SEG, token));
  return [r.status, r.status === 403 ? (JSON.parse(r.text) as { reason: string }).reason : ''];
}

describe('key rotation through a JWKS file', () => {
  it('old kid only, then both during the overlap, then the old one refused; no failed request for a valid token meanwhile', async () => {
    const oldToken = await sign(oldKey, '/vod/a/');
    const bases = [stack.originUrl, stack.edgeUrl];
    for (const b of bases) {
      expect(await status(b, oldToken)).toEqual([200, '']);
    }
    const earlyNew = await sign(newKey, '/vod/a/');
    for (const b of bases) expect(await status(b, earlyNew)).toEqual([403, 'unknown_kid']); // not published yet

    // A viewer with the old token keeps requesting while the new key is published.
    let stop = false;
    const failures: string[] = [];
    let served = 0;
    const viewer = (async () => {
      while (!stop) {
        for (const b of bases) {
          const [s, reason] = await status(b, oldToken);
          if (s !== 200) failures.push(`${b} ${s} ${reason}`);
          else served++;
        }
      }
    })();
    await publish([oldKey, newKey]);
    const newToken = await sign(newKey, '/vod/a/');
    for (const b of bases) {
      expect(await status(b, oldToken)).toEqual([200, '']);
      expect(await status(b, newToken)).toEqual([200, '']);
      expect(await status(b, earlyNew)).toEqual([200, '']); // refused before, fine once published
    }
    stop = true;
    await viewer;
    expect(failures).toEqual([]);
    expect(served).toBeGreaterThan(0);

    // Signers have moved to the new key; the old one is withdrawn.
    const newViewerFailures: string[] = [];
    stop = false;
    const newViewer = (async () => {
      while (!stop) {
        for (const b of bases) {
          const [s, reason] = await status(b, newToken);
          if (s !== 200) newViewerFailures.push(`${b} ${s} ${reason}`);
        }
      }
    })();
    await publish([newKey]);
    for (const b of bases) {
      expect(await status(b, oldToken)).toEqual([403, 'unknown_kid']);
      expect(await status(b, newToken)).toEqual([200, '']);
    }
    stop = true;
    await newViewer;
    expect(newViewerFailures).toEqual([]);
  });

  it('a broken JWKS file keeps the last good keys (fail safe, not open and not down)', async () => {
    const newToken = await sign(newKey, '/vod/a/');
    const { writeFileSync } = await import('node:fs');
    writeFileSync(jwksFile, '{ not json');
    expect(await Promise.all([stack.originKeys, stack.edgeKeys].map((k) => k.reload()))).toEqual([false, false]);
    for (const b of [stack.originUrl, stack.edgeUrl]) expect(await status(b, newToken)).toEqual([200, '']);
    await publish([newKey]); // repaired: the watcher picks it up again
    for (const b of [stack.originUrl, stack.edgeUrl]) expect(await status(b, newToken)).toEqual([200, '']);
  });
});
