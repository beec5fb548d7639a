/**
 * The runtime's floor for bench/loadtest-bench.ts's plain-HLS viewers (`hls-node`): a node:cluster
 * of N plain node:http workers that hold the origin's objects in memory and answer each request
 * with `writeHead` + `end(buffer)`. No cache logic beyond what a live channel needs to be playable:
 * each worker fetches an object it does not hold once (concurrent requests for it wait on that one
 * fetch), keeps a 200 answer's bytes and its Content-Type / Cache-Control, playlists (.m3u8) for
 * 1 s (as the nginx baseline's `proxy_cache_valid 200 1s`) and everything else for the run. No
 * Cache-Status, Age, request ID, metrics, log, store or limits: what it costs per request is what
 * node:http itself costs on these viewers, so the edge's CPU per request over this one is the part
 * that is ours.
 *
 *   node bin/run-ts.js bench/node-floor-cache.ts --port <p> --workers <n> --origin <url> [--sched none|rr]
 *
 * `--sched` sets cluster.schedulingPolicy: none (the default, as the edge's: the workers accept
 * on the shared socket themselves) or rr (node's default on Linux: the primary accepts and hands
 * each connection to a worker; also when NODE_CLUSTER_SCHED_POLICY=rr, as the edge).
 * Prints `ready` on stdout once every worker listens. The bench reads its CPU time from /proc.
 */
import cluster from 'node:cluster';
import { createServer, type IncomingMessage, type OutgoingHttpHeaders, type ServerResponse } from 'node:http';
import { Agent, request } from 'undici';
import { clusterArgs, runClusterPrimary } from './bench-cluster.js';

const args = process.argv.slice(2);
const { opt, port, workers } = clusterArgs(args);
const origin = opt('origin') ?? '';
/** The edge's rule (edge/cluster/supervisor.ts): SCHED_NONE unless NODE_CLUSTER_SCHED_POLICY=rr. */
const sched = opt('sched') ?? (process.env.NODE_CLUSTER_SCHED_POLICY === 'rr' ? 'rr' : 'none');
/** How long a playlist is held (the nginx baseline's proxy_cache_valid for .m3u8). */
const PLAYLIST_MS = 1000;

interface Held {
  status: number;
  headers: OutgoingHttpHeaders;
  body: Buffer;
  until: number;
}

function startWorker(): void {
  const held = new Map<string, Held>();
  const filling = new Map<string, Promise<Held>>();
  const agent = new Agent({ connections: 64 });

  async function fill(url: string): Promise<Held> {
    const r = await request(origin + url, { dispatcher: agent });
    const body = Buffer.from(await r.body.arrayBuffer());
    const headers: OutgoingHttpHeaders = { 'content-length': body.length };
    for (const name of ['content-type', 'cache-control']) {
      const v = r.headers[name];
      if (v !== undefined) headers[name] = v;
    }
    const until = r.statusCode !== 200 ? 0 : url.includes('.m3u8') ? Date.now() + PLAYLIST_MS : Infinity;
    const h: Held = { status: r.statusCode, headers, body, until };
    if (until > 0) held.set(url, h);
    return h;
  }

  const send = (res: ServerResponse, h: Held) => {
    res.writeHead(h.status, h.headers);
    res.end(h.body);
  };

  createServer({ keepAliveTimeout: 5_000 }, (req: IncomingMessage, res: ServerResponse) => {
    const url = req.url ?? '/';
    const h = held.get(url);
    if (h !== undefined && Date.now() < h.until) return send(res, h);
    let p = filling.get(url);
    if (p === undefined) {
      p = fill(url).finally(() => filling.delete(url));
      filling.set(url, p);
    }
    p.then(
      (got) => send(res, got),
      (e: unknown) => {
        res.writeHead(502, { 'content-type': 'text/plain' });
        res.end(`origin: ${e instanceof Error ? e.message : String(e)}\n`);
      },
    );
  }).listen({ port, host: '127.0.0.1', backlog: 4096 });
}

if (cluster.isPrimary) {
  if (!origin || !Number.isInteger(port) || port <= 0) {
    process.stderr.write('usage: node-floor-cache.ts --port <p> --workers <n> --origin <url> [--sched none|rr]\n');
    process.exit(2);
  }
  runClusterPrimary(import.meta.filename, args, workers, sched === 'none' ? cluster.SCHED_NONE : cluster.SCHED_RR);
} else {
  startWorker();
}
