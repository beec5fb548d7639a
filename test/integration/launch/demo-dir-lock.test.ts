/**
 * `streamedge demo` in a directory where a demo is already running is refused at once, before it
 * touches the running one's files: it used to rewrite the running demo's admin token (and so break
 * the commands that demo printed) and fail only when its own shield found the store taken.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../packager/cli-run.js';

const dir = mkdtempSync(join(tmpdir(), 'se-demo-lock-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('streamedge demo --dir of a running demo', () => {
  it('exits 1 naming the running demo, having written nothing', async () => {
    // a live holder: this test process
    writeFileSync(join(dir, 'demo.lock'), `${process.pid} ${hostname()} held-by-the-test\n`);
    const r = await runCli([
      'demo',
      '--dir',
      dir,
      '--port',
      '0',
      '--edge-port',
      '0',
      '--shield-port',
      '0',
      '--origin-port',
      '0',
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`a demo is already running in ${dir} (pid ${process.pid} on ${hostname()})`);
    expect(existsSync(join(dir, 'admin-token'))).toBe(false);
    expect(readdirSync(dir).filter((f) => f !== 'logs')).toEqual(['demo.lock']);
  }, 60_000);
});
