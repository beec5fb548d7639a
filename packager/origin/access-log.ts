/**
 * The origin's access log: one line per request, written when its answer is complete (method,
 * URL with tokens redacted, host, client address, status, response time), as nginx's access log
 * is. fastify logs two lines a request by default ("incoming request", then "request completed");
 * the first repeats what the second can say, and each line is a JSON serialisation and a write.
 * A request a held list answers later (a blocking playlist reload, a part not produced yet: the
 * route hijacks its reply) has its line when that answer is complete, its response time the
 * hold. Errors keep fastify's own lines.
 */
import { LogController, type FastifyReply, type FastifyRequest } from 'fastify';

export class AccessLog extends LogController {
  override incomingRequest(): void {
    // the request's fields go on its completion line
  }

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    if (this.isLogDisabled(request)) return;
    if (error) {
      reply.log.error({ req: request, res: reply, err: error, responseTime: reply.elapsedTime }, 'request errored');
      return;
    }
    reply.log.info({ req: request, res: reply, responseTime: reply.elapsedTime }, 'request completed');
  }
}
