/**
 * The load tester's reading of the edge's CMCD counters (bench/loadtest/edge-metrics.ts): deltas
 * over the run, summed over object types; 0 before the first count of an edge that declares them;
 * null from a target that does not count CMCD.
 */
import { describe, expect, it } from 'vitest';
import { edgeCounters, edgeDelta } from '../../bench/loadtest/edge-metrics.js';

const declared = [
  '# HELP edge_cmcd_requests_total Requests whose CMCD named a session',
  '# TYPE edge_cmcd_requests_total counter',
  '# HELP edge_cmcd_buffer_starvation_total Requests whose CMCD said the player rebuffered',
  '# TYPE edge_cmcd_buffer_starvation_total counter',
];

function scrape(lines: string[]): string {
  return ['edge_hits_total 10', ...declared, ...lines, ''].join('\n');
}

describe('the edge CMCD section of a load-test report', () => {
  it('gives requests and starvation signals over the run, summed over object types', () => {
    const before = edgeCounters(scrape([]));
    const after = edgeCounters(
      scrape([
        'edge_cmcd_requests_total{ot="v"} 40',
        'edge_cmcd_requests_total{ot="m"} 12',
        'edge_cmcd_buffer_starvation_total{ot="v"} 2',
        'edge_cmcd_buffer_starvation_total{ot="a"} 1',
      ]),
    );
    expect(edgeDelta(before, after)?.cmcd).toEqual({ requests: 52, starvations: 3 });
    const later = edgeCounters(
      scrape([
        'edge_cmcd_requests_total{ot="v"} 50',
        'edge_cmcd_requests_total{ot="m"} 12',
        'edge_cmcd_buffer_starvation_total{ot="v"} 2',
        'edge_cmcd_buffer_starvation_total{ot="a"} 1',
      ]),
    );
    expect(edgeDelta(after, later)?.cmcd).toEqual({ requests: 10, starvations: 0 });
  });

  it('is null from an edge that does not count CMCD', () => {
    expect(edgeDelta(null, edgeCounters('edge_hits_total 5\n'))?.cmcd).toBeNull();
  });
});
