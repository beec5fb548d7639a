/**
 * The ulimit -n check of a load test (bench/loadtest/fd-budget.ts): the arithmetic and its one-line
 * message, the connections a viewer may open, and whether a port listens in this process (read
 * from /proc against a real socket).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkFdBudget, FD_RESERVE, fdsNeeded, listensInProcess, readFdLimit } from '../../bench/loadtest/fd-budget.js';
import { connectionsPerViewer } from '../../bench/loadtest/viewer.js';

describe('connectionsPerViewer', () => {
  it('is 2 for plain HLS, 4 for LL-HLS over HTTP/1.1, 1 over HTTP/2', () => {
    expect(connectionsPerViewer({ url: 'http://127.0.0.1:1/a.m3u8', lowLatency: false })).toBe(2);
    expect(connectionsPerViewer({ url: 'http://127.0.0.1:1/a.m3u8' })).toBe(4);
    expect(connectionsPerViewer({ url: 'https://127.0.0.1:1/a.m3u8', http2: true })).toBe(1);
    // --http2 only applies to https: plain http stays HTTP/1.1
    expect(connectionsPerViewer({ url: 'http://127.0.0.1:1/a.m3u8', http2: true, lowLatency: false })).toBe(2);
  });
});

describe('checkFdBudget', () => {
  const base = { viewers: 10_000, connectionsPerViewer: 2, serverInProcess: false, open: 30 };

  it('passes a run that fits', () => {
    expect(() => checkFdBudget({ ...base, viewers: 9_000, limit: 20_000 })).not.toThrow();
    expect(fdsNeeded({ ...base, viewers: 9_000 })).toBe(30 + FD_RESERVE + 18_000);
  });

  it('fails a run that does not fit with one line naming the numbers and both fixes', () => {
    let err: Error | undefined;
    try {
      checkFdBudget({ ...base, limit: 20_000 });
    } catch (e) {
      err = e as Error;
    }
    expect(err).toMatchObject({ code: 'FD_LIMIT' });
    const need = 20_000 + 30 + FD_RESERVE;
    const fit = Math.floor((20_000 - 30 - FD_RESERVE) / 2);
    expect(err!.message).toBe(
      `10000 viewers × 2 connections + 30 open + ${FD_RESERVE} spare = ${need} file descriptors, but ulimit -n is 20000: raise it (ulimit -n ${need}) or lower --viewers to ${fit}`,
    );
    expect(err!.message).not.toContain('\n');
    // the advice holds: the suggested viewer count fits
    expect(() => checkFdBudget({ ...base, viewers: fit, limit: 20_000 })).not.toThrow();
  });

  it('counts both ends of each connection when the server listens in this process', () => {
    expect(() => checkFdBudget({ ...base, viewers: 6_000, serverInProcess: true, limit: 20_000 })).toThrow(
      /6000 viewers × 2 connections \(× 2: the target listens in this process.*lower --viewers to 4976$/,
    );
    expect(() => checkFdBudget({ ...base, viewers: 6_000, limit: 20_000 })).not.toThrow();
  });
});

describe('listensInProcess and readFdLimit (Linux /proc)', () => {
  let server: Server;
  let port: number;
  beforeAll(async () => {
    server = createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('finds a socket this process listens on, and not a port that is closed', async () => {
    expect(listensInProcess(port)).toBe(true);
    const other = createServer();
    await new Promise<void>((r) => other.listen(0, '127.0.0.1', r));
    const freed = (other.address() as AddressInfo).port;
    await new Promise<void>((r) => other.close(() => r()));
    expect(listensInProcess(freed)).toBe(false);
  });

  it('reads the soft open-files limit', () => {
    const limit = readFdLimit();
    expect(limit === Number.POSITIVE_INFINITY || (Number.isInteger(limit) && limit! > 0)).toBe(true);
  });
});
