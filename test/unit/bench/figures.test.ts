import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadResults, withFigures } from '../../../bench/figures.js';
import { direction, ratiosOf, renderFigures, runSizeOf } from '../../../bench/figures-table.js';
import { MACHINE_KEYS } from '../../../bench/machine-info.js';

const ROOT = resolve(import.meta.dirname, '../../..');

describe('README figures table', () => {
  it('is exactly what bench/results/*.json generate (run `npm run figures` after a bench)', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    expect(withFigures(readme, loadResults())).toBe(readme);
  });

  it('every result carries the same machine block', () => {
    const results = loadResults();
    expect(results.length).toBeGreaterThan(5);
    for (const { file, json } of results) {
      expect(Object.keys(json.machine as object).sort(), file).toEqual([...MACHINE_KEYS].sort());
    }
  });
});

describe('figures table rules', () => {
  const result = {
    machine: { cpus: 2, loadAverageBefore: [3.2, 1, 1], loadAverageAfter: [4.5, 1, 1] },
    workload: { connections: 64, durationSeconds: 8 },
    ratioEdgeToNginx: { requestsPerSecond: 0.4, latencyP99: 0.8, upstreamRequests: 1 },
    runs: [{ name: 'small', ratios: { bytesPerSecond: 1.3 } }],
    notARatio: { requestsPerSecond: 99 },
    live: { ours: { rebufferRatio: 0.2 } },
  };

  it('lists every ratio, unflattering first, and nothing that is not a ratio', () => {
    const rows = ratiosOf(result);
    expect(rows.map((r) => [r.path, r.verdict])).toEqual([
      ['ratioEdgeToNginx.requestsPerSecond', 'worse'],
      ['ratioEdgeToNginx.upstreamRequests', 'even'],
      ['ratioEdgeToNginx.latencyP99', 'better'],
      ['runs[small].ratios.bytesPerSecond', 'better'],
    ]);
  });

  it('reads direction from the name', () => {
    expect(direction('requestsPerSecond')).toBe('higher');
    expect(direction('llLatencyP50')).toBe('lower');
    expect(direction('perRequestOriginCpuUs')).toBeUndefined();
  });

  it('shows the run size and the load average of each result', () => {
    expect(runSizeOf(result)).toBe('connections 64, durationSeconds 8');
    const table = renderFigures([{ file: 'x.json', json: result }]);
    expect(table).toContain(
      '| `x.json` | ratioEdgeToNginx.requestsPerSecond | 0.4 | worse | connections 64, durationSeconds 8 | 3.2 → 4.5 on 2 cores |',
    );
  });
});
