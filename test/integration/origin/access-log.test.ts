/**
 * The origin's access log (packager/origin/access-log.ts): one line per request, written when its
 * answer is complete, with the request (URL tokens redacted), its status and response time;
 * fastify's "incoming request" line is gone. A blocking playlist reload the origin holds (its
 * reply hijacked, answered by the held list) has its one line when that answer is complete. Real
 * origin on loopback, a fake encoder feeding its live channel.
 */
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Origin } from '../../../packager/origin/server.js';
import { LineSink } from '../../support/line-sink.js';
import { FakeEncoder, originWithFakeChannel, until } from '../../unit/origin/fake-encoder.js';

interface Line {
  msg: string;
  req?: { method: string; url: string; remoteAddress: string };
  res?: { statusCode: number };
  responseTime?: number;
}

describe("the origin's access log", () => {
  const enc = new FakeEncoder();
  const log = new LineSink();
  let dir = '';
  let origin: Origin;
  let url = '';

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'se-access-log-'));
    mkdirSync(join(dir, 'movie'));
    writeFileSync(join(dir, 'movie', 'master.m3u8'), '#EXTM3U\n');
    ({ origin, url } = await originWithFakeChannel(enc, { root: dir, logger: { level: 'info', stream: log } }));
  });

  afterAll(async () => {
    await origin.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const lines = (): Line[] => log.lines.map((l) => JSON.parse(l) as Line);
  const of = (path: string) => lines().filter((l) => l.req?.url === path);

  it('one line per answered request: the request, its status and response time, tokens redacted', async () => {
    for (const path of [
      '/vod/movie/master.m3u8',
      '/vod/movie/missing.m3u8?token=secret-value',
      '/live/ch/v/index.m3u8',
    ]) {
      const res = await request(`${url}${path}`);
      await res.body.dump();
    }
    await until(() => of('/live/ch/v/index.m3u8').length === 1);
    const served = of('/vod/movie/master.m3u8');
    expect(served).toHaveLength(1);
    expect(served[0]).toMatchObject({ msg: 'request completed', req: { method: 'GET' }, res: { statusCode: 200 } });
    expect(served[0].req!.remoteAddress).toBe('127.0.0.1');
    expect(typeof served[0].responseTime).toBe('number');
    const missing = of('/vod/movie/missing.m3u8?token=redacted');
    expect(missing).toHaveLength(1);
    expect(missing[0].res!.statusCode).toBe(404);
    expect(log.lines.some((l) => l.includes('secret-value'))).toBe(false);
    expect(of('/live/ch/v/index.m3u8')[0].res!.statusCode).toBe(200);
    expect(lines().filter((l) => l.msg === 'incoming request')).toEqual([]);
  });

  it('a held blocking reload has its one line when its answer is complete, the hold in its response time', async () => {
    const path = '/live/ch/v/index.m3u8?_HLS_msn=2&_HLS_part=0';
    const answered = request(`${url}${path}`);
    // held until the part exists (it is counted as held before it is produced)
    await until(async () =>
      (await (await request(`${url}/metrics`)).body.text()).includes(
        'streamedge_origin_requests_held{kind="playlist"} 1',
      ),
    );
    expect(of(path)).toEqual([]);
    enc.part(2, 0);
    const res = await answered;
    expect(res.statusCode).toBe(200);
    expect(await res.body.text()).toContain('seg-2');
    await until(() => of(path).length === 1);
    expect(of(path)[0]).toMatchObject({ msg: 'request completed', req: { method: 'GET' }, res: { statusCode: 200 } });
    expect(of(path)[0].responseTime).toBeGreaterThan(0);
    // the next request's line comes after: the held one has no second line
    await (await request(`${url}/vod/movie/master.m3u8`)).body.dump();
    await until(() => of('/vod/movie/master.m3u8').length === 2);
    expect(of(path)).toHaveLength(1);
  });
});
