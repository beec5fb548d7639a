/**
 * Two real origins running the same live channel `ch`, primary (A) and backup (B), and an edge
 * with both as its upstreams: the failover suites. A alone holds a VOD file (`ONLY_A`), so a path
 * outside the channel tells which upstream answered it.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createEdge, type Edge } from '../../../edge/server.js';
import { startLiveOrigin, writeTinyLadder, type LiveOrigin } from './live-helpers.js';
import { get } from '../edge/helpers.js';

/** The VOD playlist only origin A has, at `/vod/only-a/master.m3u8`. */
export const ONLY_A = '#EXTM3U\n#EXT-X-VERSION:7\n';

/** Origins A and B under `dir` (`a/`, `b/`), each with channel `ch` on its `source` (2 s segments, the tiny ladder). */
export async function startOriginPair(dir: string, sources: { a: string; b: string }): Promise<LiveOrigin[]> {
  const origins: LiveOrigin[] = [];
  for (const name of ['a', 'b'] as const) {
    const root = join(dir, name);
    mkdirSync(root);
    if (name === 'a') {
      mkdirSync(join(root, 'only-a'));
      writeFileSync(join(root, 'only-a', 'master.m3u8'), ONLY_A);
    }
    origins.push(
      await startLiveOrigin(root, [
        {
          id: 'ch',
          source: sources[name],
          segmentDuration: 2,
          partDuration: 0.5,
          dvrWindow: 30,
          ladder: writeTinyLadder(root),
        },
      ]),
    );
  }
  return origins;
}

/** A silent edge with A as primary and B as backup, no trial back to A within a minute; its URL. */
export async function edgeOverPair(
  origins: LiveOrigin[],
  dir: string,
  name: string,
): Promise<{ edge: Edge; url: string }> {
  const edge = createEdge({
    upstream: `${origins[0].base},${origins[1].base}`,
    name,
    logLevel: 'silent',
    upstreamRetryMs: 60_000,
    store: { dir: join(dir, 'store'), capacityBytes: 64 * 1024 * 1024, ramBytes: 16 * 1024 * 1024 },
  });
  return { edge, url: await edge.listen(0, '127.0.0.1') };
}

/** The edge's upstreams as its public health report shows them. */
export async function publicUpstreams(edgeUrl: string): Promise<unknown> {
  return (JSON.parse((await get(`${edgeUrl}/_edge/health`)).body.toString()) as { upstreams: unknown }).upstreams;
}

/** Failovers the edge counted for `reason`. */
export async function failovers(edge: Edge, reason: string): Promise<number> {
  const v = await edge.metrics.upstreamFailovers.get();
  return v.values.filter((x) => x.labels.reason === reason).reduce((a, x) => a + x.value, 0);
}
