/** `/time`: the origin's clock as ISO 8601 with milliseconds (DASH UTCTiming urn:mpeg:dash:utc:http-iso:2014). */
import type { FastifyInstance } from 'fastify';

export function registerTimeRoute(app: FastifyInstance): void {
  app.route({
    method: ['GET', 'HEAD'],
    url: '/time',
    handler: async (_req, reply) => {
      reply.header('cache-control', 'no-store');
      reply.header('content-type', 'text/plain; charset=utf-8');
      return reply.send(new Date().toISOString());
    },
  });
}
