/** Error bodies: small JSON a user can read; never a stack trace. */
import type { FastifyReply } from 'fastify';

export function sendError(reply: FastifyReply, status: number, message: string): FastifyReply {
  reply.header('cache-control', status === 404 ? 'public, max-age=1' : 'no-store');
  reply.header('content-type', 'application/json; charset=utf-8');
  reply.removeHeader('content-length');
  return reply.code(status).send({ error: message });
}
