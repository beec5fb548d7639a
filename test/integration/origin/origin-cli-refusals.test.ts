/**
 * `streamedge origin` refuses at start-up, with one line and exit 1, what could never work: an
 * unreadable --live-ladder and a --live file source that does not exist (both used to start an
 * origin whose channel restarted for ever, its message naming --ladder), and a --root that is a
 * file (it used to start and answer 404 to everything, its health "ok").
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../packager/cli-run.js';

const dir = mkdtempSync(join(tmpdir(), 'se-origin-refusals-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('streamedge origin refuses at start-up', () => {
  it('an unreadable --live-ladder, a missing --live file and a --root that is a file', async () => {
    const missing = join(dir, 'nonexist');
    const base = ['origin', '--root', dir, '--port', '0'];
    const ladder = await runCli([...base, '--live', 'news=lavfi', '--live-ladder', `${missing}.json`]);
    expect(ladder.code).toBe(1);
    expect(ladder.stderr).toContain(`--live-ladder ${missing}.json: neither a preset`);
    const file = await runCli([...base, '--live', `news=${missing}.mp4`]);
    expect(file.code).toBe(1);
    expect(file.stderr).toContain(`--live "news=${missing}.mp4": no such file ${missing}.mp4`);
    const plain = join(dir, 'plain.txt');
    writeFileSync(plain, 'not a folder');
    const root = await runCli(['origin', '--root', plain, '--port', '0']);
    expect(root.code).toBe(1);
    expect(root.stderr).toContain(`--root ${plain}: a file, not a folder`);
  }, 60_000);
});
