/**
 * A target that answers something no player could play: an HTML page where the playlist or MPD
 * should be, a VOD playlist with no segments, a 404. Every viewer fails, the report names why
 * (not an unnamed `viewer_exception`, not "errors none" with viewers that "ended"), and the CLI
 * exits 1 saying nothing was measured. Real sockets on loopback.
 */
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runLoadTest } from '../../../bench/loadtest/run.js';
import { nothingMeasured } from '../../../bench/loadtest/report.js';

let server: Server;
let base: string;

beforeAll(async () => {
  server = createServer((req, res) => {
    const path = req.url ?? '/';
    if (path.startsWith('/page.')) {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<!doctype html><title>Sign in</title><p>Please sign in.</p>');
    } else if (path === '/empty.m3u8') {
      res.writeHead(200, { 'content-type': 'application/vnd.apple.mpegurl' });
      res.end('#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:2\n#EXT-X-ENDLIST\n');
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found');
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});

afterAll(async () => {
  await new Promise<void>((r) => server.close(() => r()));
});

describe('a target no viewer can play', () => {
  for (const [path, error] of [
    ['/page.m3u8', 'not_playlist'],
    ['/empty.m3u8', 'empty_playlist'],
    ['/page.mpd', 'not_mpd'],
    ['/gone.m3u8', 'http_404'],
  ] as const) {
    it(`${path}: every viewer fails under "${error}", and the run says nothing was measured`, async () => {
      const report = await runLoadTest({ url: `${base}${path}`, viewers: 3, rampSec: 0, durationSec: 1, workers: 0 });
      expect(report.viewers).toMatchObject({ started: 3, failed: 3 });
      expect(report.errors).toEqual({ [error]: 3 });
      expect(nothingMeasured(report)).toBe(
        `every viewer failed (${error} 3): the target did not play, so nothing was measured`,
      );
    });
  }

  it('the CLI exits 1 with that line (and still prints the report)', async () => {
    const child = spawn(
      process.execPath,
      ['bin/streamedge.js', 'loadtest', `${base}/page.m3u8`, '--viewers', '2', '--ramp', '0s', '--duration', '1s'],
      { cwd: process.cwd(), stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(code).toBe(1);
    expect(stdout).toMatch(/errors +not_playlist 2/);
    expect(stderr).toContain('streamedge: every viewer failed (not_playlist 2)');
  });
});
