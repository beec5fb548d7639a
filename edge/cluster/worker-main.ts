/**
 * One HTTP worker of a multi-worker edge (a node:cluster worker started by supervisor.ts): the
 * edge in worker mode (read-only store, fills through the store process), listening on the port
 * the cluster primary shares. `drain` (or SIGTERM): stop accepting, finish what is in flight, exit.
 * The supervisor's messages are heard from the first moment: a drain that arrives while the worker
 * is still starting (a respawn the supervisor stops) exits as soon as it is up, without serving.
 */
import type { runEdge as RunEdge } from '../edge-cli.js';
import { type SupervisorMessage, failStart, readRole } from './process-role.js';

type RunningEdge = Awaited<ReturnType<typeof RunEdge>>;

const role = readRole();
/** The edge, once runEdge resolved. */
const up: { edge?: RunningEdge } = {};
let draining = false;
/** Ticket keys rotated while starting (applied once up). */
let ticketKeysHex = role.ticketKeys;
/** A CMSD cap another worker took while this one was starting (applied once up; null: none). */
let cmsdCapWhileStarting: { kbps: number | null } | undefined;

function drain(): void {
  if (draining) return;
  draining = true;
  const { edge } = up;
  if (!edge) return; // still starting: drained (nothing in flight yet) as soon as runEdge resolves
  edge.logger.info({}, 'edge worker draining');
  void edge.drain().finally(() => process.exit(0));
}
process.on('message', (m: SupervisorMessage) => {
  if (m.type === 'drain') drain();
  else if (m.type === 'ticket-keys') {
    ticketKeysHex = m.hex;
    if (up.edge?.tls) {
      up.edge.tls.setTicketKeys(Buffer.from(m.hex, 'hex'));
      up.edge.logger.info({}, 'TLS session ticket keys rotated');
    }
  } else if (m.type === 'cmsd-cap') {
    if (up.edge) up.edge.setCmsdMaxBitrate(m.kbps ?? undefined);
    else cmsdCapWhileStarting = { kbps: m.kbps };
  }
});
process.once('SIGTERM', drain);

// the edge loaded after the handlers above: a drain sent while its modules load is not lost
const { runEdge } = await import('../edge-cli.js');
const started = await runEdge(role.options, {
  index: role.index ?? 0,
  socketPath: role.socketPath,
  ...(ticketKeysHex !== undefined ? { ticketKeys: Buffer.from(ticketKeysHex, 'hex') } : {}),
  requestRollingRestart: () => process.send?.({ type: 'rolling-restart' }),
  shareCmsdCap: (kbps) => process.send?.({ type: 'cmsd-cap', kbps: kbps ?? null }),
}).catch(failStart);
up.edge = started;
if (draining) {
  started.logger.info({}, 'edge worker asked to drain while starting: exiting');
  void started.close().finally(() => process.exit(0));
} else {
  if (ticketKeysHex !== role.ticketKeys && ticketKeysHex !== undefined && started.tls) {
    started.tls.setTicketKeys(Buffer.from(ticketKeysHex, 'hex'));
  }
  if (cmsdCapWhileStarting) started.setCmsdMaxBitrate(cmsdCapWhileStarting.kbps ?? undefined);
  process.send?.({
    type: 'ready',
    url: started.url,
    ...(started.plainUrl !== undefined ? { plainUrl: started.plainUrl } : {}),
  });
}
