/**
 * `streamedge edge` flags into edge options: the store sizes hold with or without --store (a
 * single-process edge without --store used to get a fixed 1 GiB and no check of the sizes), and
 * --max-upstream is a whole number ≥ 1 (0, a negative or a typo stalled every cache miss).
 */
import { describe, expect, it } from 'vitest';
import { edgeOptionsFromCli, type EdgeCliOptions } from '../../../edge/edge-cli.js';

const defaults: EdgeCliOptions = {
  upstream: 'http://127.0.0.1:1',
  port: '0',
  host: '127.0.0.1',
  storeSize: '10GB',
  ramSize: '256MiB',
  name: 'streamedge',
  negativeTtl: '5s',
  logLevel: 'silent',
  maxUpstream: '256',
  headersTimeout: '10s',
  bodyTimeout: '30s',
};

describe('edge CLI options', () => {
  it('--store-size and --ram-size size a temporary store too (no --store)', () => {
    const o = edgeOptionsFromCli({ ...defaults, storeSize: '200MB', ramSize: '16MiB' });
    expect(o.store).toEqual({ capacityBytes: 200_000_000, ramBytes: 16 * 1024 ** 2 });
    const named = edgeOptionsFromCli({ ...defaults, store: '/var/cache/se', storeSize: '200MB' });
    expect(named.store).toMatchObject({ dir: '/var/cache/se', capacityBytes: 200_000_000 });
    expect(() => edgeOptionsFromCli({ ...defaults, storeSize: '10XB' })).toThrow(/not a size: "10XB"/);
  });

  it('--max-upstream must be a whole number of at least 1', () => {
    expect(edgeOptionsFromCli({ ...defaults, maxUpstream: '64' }).maxUpstreamConcurrent).toBe(64);
    for (const bad of ['abc', '0', '-3', '1k', '2.5', ''])
      expect(() => edgeOptionsFromCli({ ...defaults, maxUpstream: bad }), bad).toThrow(
        /--max-upstream .*expected a whole number ≥ 1/,
      );
  });
});
