/**
 * A live channel whose segment files cannot be written (a full disk, an I/O error: here a file
 * standing where a rendition's folder goes, which fails the writes the same way for root): the
 * window goes on being served from memory, /health says degraded with the error and a count,
 * the metric counts every file, the log says it once (not once per file), and the next file
 * written clears it all. Real HTTP against an origin whose encoder the test drives.
 */
import { mkdtempSync, renameSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import type { Origin } from '../../../packager/origin/server.js';
import { FakeEncoder, originWithFakeChannel, until } from './fake-encoder.js';
import { LineSink } from '../../support/line-sink.js';

interface Health {
  status: string;
  channels: { id: string; state: string; diskWriteError?: { since: string; failures: number; message: string } }[];
}

let dir: string;
let origin: Origin;
let url: string;
const enc = new FakeEncoder();
const log = new LineSink();

async function get(path: string): Promise<{ status: number; body: Buffer }> {
  const res = await request(`${url}${path}`);
  return { status: res.statusCode, body: Buffer.from(await res.body.arrayBuffer()) };
}

async function health(): Promise<Health> {
  return JSON.parse((await get('/health')).body.toString()) as Health;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'se-live-disk-'));
  ({ origin, url } = await originWithFakeChannel(enc, { root: dir, logger: { level: 'info', stream: log } }));
});

afterAll(async () => {
  await origin?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('a live channel that cannot write its segment files', () => {
  it('serves the window from memory, reports it in /health and metrics, logs it once, and clears it once files are written again', async () => {
    const videoDir = join(dir, '.live', 'ch', 'v');
    await until(() => existsSync(join(videoDir, 'seg-1.m4s')), 5000, 'segment 1 on disk');
    expect((await health()).status).toBe('ok');

    // writes into the video rendition's folder now fail
    renameSync(videoDir, `${videoDir}.away`);
    writeFileSync(videoDir, 'not a folder');
    enc.segments(2, 4);
    await until(async () => ((await health()).channels[0].diskWriteError?.failures ?? 0) >= 3, 5000, '3 failures');
    const h = await health();
    expect(h.status).toBe('degraded');
    expect(h.channels[0].state).toBe('running');
    expect(h.channels[0].diskWriteError?.message).toMatch(/EEXIST|ENOTDIR/);
    // the segments that are not on disk are served from memory, whole
    for (const n of [2, 3, 4]) {
      const r = await get(`/live/ch/v/seg-${n}.m4s`);
      expect(r.status).toBe(200);
      expect(r.body.equals(enc.bytesOf('v', n))).toBe(true);
    }
    const metrics = (await get('/metrics')).body.toString();
    const count = Number(/streamedge_live_disk_write_errors_total\{channel="ch"\} (\d+)/.exec(metrics)?.[1]);
    expect(count).toBeGreaterThanOrEqual(3);
    const said = log.lines.filter((l) => l.includes('segment files cannot be written'));
    expect(said).toHaveLength(1);

    // the folder is back: the next segment is written, and the error clears
    rmSync(videoDir);
    renameSync(`${videoDir}.away`, videoDir);
    enc.segments(5, 5);
    await until(async () => (await health()).status === 'ok', 5000, 'health ok again');
    expect(existsSync(join(videoDir, 'seg-5.m4s'))).toBe(true);
    expect((await health()).channels[0].diskWriteError).toBeUndefined();
    expect(log.lines.filter((l) => l.includes('segment files are written again'))).toHaveLength(1);
  });
});
