/**
 * The instant stub as several processes (bench/loadtest-stub-process.ts --processes 2, node:cluster):
 * one port, connections spread over both processes, and one channel: a blocking reload answered by
 * either process lists the same parts, so viewers on different processes see the same stream.
 * Real processes and sockets on loopback.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { request } from 'node:http';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STUB } from '../../../bench/loadtest/stub-live-server.js';

const root = resolve(import.meta.dirname, '../../..');

/** One GET on a fresh connection (no keep-alive), so the primary hands each to the next process. */
function get(url: string): Promise<{ status: number; body: string }> {
  return new Promise((ok, fail) => {
    const req = request(url, { agent: false, headers: { connection: 'close' } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => ok({ status: res.statusCode ?? 0, body }));
    });
    req.setTimeout(10_000, () => req.destroy(new Error('timeout')));
    req.on('error', fail);
    req.end();
  });
}

describe('loadtest stub over several processes', () => {
  let child: ChildProcess;
  let url: string;
  let exited: Promise<number | null>;
  beforeAll(async () => {
    child = spawn(
      process.execPath,
      [resolve(root, 'bin/run-ts.js'), resolve(root, 'bench/loadtest-stub-process.ts'), '--processes', '2'],
      { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    exited = new Promise((r) => child.once('exit', (code) => r(code)));
    const line = await new Promise<string>((ok, fail) => {
      child.once('exit', (code) => fail(new Error(`stub exited (${code})`)));
      createInterface({ input: child.stdout! }).once('line', ok);
    });
    const info = JSON.parse(line) as { url: string; processes: number };
    expect(info.processes).toBe(2);
    url = info.url;
  }, 30_000);
  afterAll(async () => {
    child.kill('SIGTERM');
    await exited;
  });

  it('spreads connections over both processes, which serve one channel', async () => {
    const base = url.replace(/master\.m3u8$/, '');
    const statsUrl = url.replace(/live\/master\.m3u8$/, 'stats');
    const pids = new Set<number>();
    for (let i = 0; i < 6; i++) pids.add((JSON.parse((await get(statsUrl)).body) as { pid: number }).pid);
    expect(pids.size).toBe(2);
    expect(pids.has(child.pid!)).toBe(false); // the primary hands connections over, it serves none

    // the next part, asked of both processes at once (blocking reload): the same playlist from each
    const now = (await get(`${base}v/index.m3u8`)).body;
    const hint = /PRELOAD-HINT:TYPE=PART,URI="p(\d+)\.(\d+)\.m4s"/.exec(now);
    expect(hint).not.toBeNull();
    const reload = `${base}v/index.m3u8?_HLS_msn=${hint![1]}&_HLS_part=${hint![2]}`;
    const answers = await Promise.all([get(reload), get(reload), get(reload), get(reload)]);
    for (const a of answers) expect(a.status).toBe(200);
    // each lists the asked-for part; an answer sent a part later (a loaded machine) may list one more,
    // but where two answers list the same segment they date it alike: one channel, one clock
    const dated = new Map<string, string>();
    for (const a of answers) {
      expect(a.body).toContain(`URI="p${hint![1]}.${hint![2]}.m4s"`);
      let pdt = '';
      for (const line of a.body.split('\n')) {
        if (line.startsWith('#EXT-X-PROGRAM-DATE-TIME:')) pdt = line.slice(25);
        const msn = /^s(\d+)\.m4s$/.exec(line)?.[1];
        if (msn === undefined) continue;
        expect(dated.get(msn) ?? pdt).toBe(pdt);
        dated.set(msn, pdt);
      }
    }
    expect(dated.size).toBeGreaterThan(0);
    // and the part itself, from either process: the rendition's bytes per part
    const part = await get(`${base}v/p${hint![1]}.${hint![2]}.m4s`);
    expect(part.status).toBe(200);
    expect(part.body.length).toBe(Math.round((STUB.renditions[0].bandwidth / 8) * (STUB.partMs / 1000)));
  }, 30_000);
});
