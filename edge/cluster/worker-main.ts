/**
 * One HTTP worker of a multi-worker edge (a node:cluster worker started by supervisor.ts): the
 * edge in worker mode (read-only store, fills through the store process), listening on the port
 * the cluster primary shares. `drain` (or SIGTERM): stop accepting, finish what is in flight, exit.
 */
import { runEdge } from '../edge-cli.js';
import { type SupervisorMessage, readRole } from './process-role.js';

const role = readRole();
const edge = await runEdge(role.options, {
  index: role.index ?? 0,
  socketPath: role.socketPath,
  ...(role.ticketKeys !== undefined ? { ticketKeys: Buffer.from(role.ticketKeys, 'hex') } : {}),
  requestRollingRestart: () => process.send?.({ type: 'rolling-restart' }),
});
process.send?.({ type: 'ready', url: edge.url, ...(edge.plainUrl !== undefined ? { plainUrl: edge.plainUrl } : {}) });

let draining = false;
function drain(): void {
  if (draining) return;
  draining = true;
  edge.logger.info({}, 'edge worker draining');
  void edge.drain().finally(() => process.exit(0));
}
process.on('message', (m: SupervisorMessage) => {
  if (m.type === 'drain') drain();
  else if (m.type === 'ticket-keys' && edge.tls) {
    edge.tls.setTicketKeys(Buffer.from(m.hex, 'hex'));
    edge.logger.info({}, 'TLS session ticket keys rotated');
  }
});
process.once('SIGTERM', drain);
