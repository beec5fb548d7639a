/**
 * `/health`: the origin is up; each live channel's state and last error. Degraded when a channel
 * is not running or cannot write its segment files (served from memory meanwhile).
 */
import type { SteeringService } from './content-steering.js';
import type { FastifyInstance } from 'fastify';
import type { LiveChannel } from '../live/live-channel.js';

export function registerHealthRoute(
  app: FastifyInstance,
  channels: Map<string, LiveChannel>,
  startedAt: number,
  steering?: SteeringService,
): void {
  app.route({
    method: ['GET', 'HEAD'],
    url: '/health',
    handler: async (_req, reply) => {
      const list = [...channels.values()].map((c) => c.status());
      const degraded = list.some((c) => c.state !== 'running' || c.diskWriteError !== undefined);
      reply.header('cache-control', 'no-store');
      return reply.send({
        status: degraded ? 'degraded' : 'ok',
        uptimeSec: Math.round((Date.now() - startedAt) / 1000),
        channels: list,
        // what the steering server sees of each CDN (origin/content-steering.ts)
        ...(steering ? { steering: steering.states() } : {}),
      });
    },
  });
}
