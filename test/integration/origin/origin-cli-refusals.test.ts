/**
 * `streamedge origin` refuses at start-up, with one line and exit 1, what could never work: an
 * unreadable --live-ladder and a --live file source that does not exist (both used to start an
 * origin whose channel restarted for ever, its message naming --ladder), and a --root that is a
 * file (it used to start and answer 404 to everything, its health "ok"), and a --utc-timing
 * that is no URL. And `ad-break` names an origin it cannot reach.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type AddressInfo } from 'node:net';
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

  it('a --utc-timing that is neither an absolute http(s) URL nor a path', async () => {
    for (const bad of ['time', 'ftp://clock.example/time', '//clock.example/time']) {
      const r = await runCli(['origin', '--root', dir, '--port', '0', '--utc-timing', bad]);
      expect(r.code, bad).toBe(1);
      expect(r.stderr).toContain(`--utc-timing ${bad}: use an absolute http(s) URL or a path that starts with /`);
    }
  }, 60_000);

  it('ad-break names an origin it cannot reach, and why (it said only "unexpected error: fetch failed")', async () => {
    const closed = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const { port } = s.address() as AddressInfo;
        s.close(() => resolve(port));
      });
    });
    const cred = join(dir, 'cred');
    writeFileSync(cred, 'a-credential-of-enough-length\n');
    const origin = `http://127.0.0.1:${closed}`;
    const r = await runCli(['ad-break', origin, 'news', '--duration', '10', '--cue-credential-file', cred]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`cannot reach the origin at ${origin}: ECONNREFUSED`);
  }, 60_000);
});
