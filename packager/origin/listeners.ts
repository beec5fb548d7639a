/**
 * Where the origin accepts connections. Without TLS: fastify's own node:http server. With TLS
 * (`--tls-cert`/`--tls-key`): one HTTPS port speaking HTTP/2 and HTTP/1.1 (ALPN; limits in
 * src/tls/secure-server-options.ts), its certificate following its files, and optionally a
 * plain-HTTP port beside it (`--http-port`, e.g. for loopback and the tiers behind the edge)
 * serving the same routes through the same fastify handler.
 */
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import type { Http2SecureServer } from 'node:http2';
import type { FastifyServerOptions } from 'fastify';
import type { ReloadingTls } from '../../src/tls/reloading-tls.js';
import { closeHttp2Sessions, createSecureHttpServer, type SecureHandler } from '../../src/tls/secure-http-server.js';
import { answerConnect } from '../../src/http/request-framing.js';

type Handler = SecureHandler;

export class OriginListeners {
  private handler?: Handler;
  private secure?: Http2SecureServer;
  private plain?: HttpServer;

  constructor(
    private readonly tls: ReloadingTls | undefined,
    private readonly onHandshakeFailure: (code: string) => void,
  ) {}

  /** fastify options that make its server the TLS one (none without TLS). */
  fastifyOptions(): Pick<FastifyServerOptions, 'serverFactory'> {
    const tls = this.tls;
    if (!tls) return {};
    const serverFactory = (handler: Handler): Http2SecureServer => {
      this.handler = handler;
      this.secure = createSecureHttpServer(tls, handler, { onHandshakeFailure: this.onHandshakeFailure });
      return this.secure;
    };
    return { serverFactory: serverFactory as unknown as FastifyServerOptions['serverFactory'] };
  }

  /** The base URL fastify reports, with the scheme this listener really speaks. */
  baseUrl(fastifyUrl: string): string {
    return this.tls ? fastifyUrl.replace(/^http:/, 'https:') : fastifyUrl;
  }

  get secureServer(): Http2SecureServer | undefined {
    return this.secure;
  }

  /** Plain HTTP/1.1 beside the TLS port (only with TLS: without it the main port is plain). */
  async listenPlain(port: number, host: string): Promise<string> {
    if (!this.handler) throw new Error('listenPlain needs the TLS listener (--tls-cert/--tls-key)');
    const server = createHttpServer(this.handler as unknown as Parameters<typeof createHttpServer>[0]);
    server.keepAliveTimeout = 72_000;
    answerConnect(server);
    this.plain = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ port, host, backlog: 4096 }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const a = server.address();
    const p = typeof a === 'object' && a ? a.port : port;
    return `http://${host.includes(':') ? `[${host}]` : host}:${p}`;
  }

  /** Before fastify closes its server: GOAWAY to HTTP/2 sessions, close the plain port. */
  async close(): Promise<void> {
    if (this.secure) closeHttp2Sessions(this.secure);
    const plain = this.plain;
    this.plain = undefined;
    if (plain) {
      await new Promise<void>((resolve) => {
        plain.close(() => resolve());
        plain.closeIdleConnections();
      });
    }
  }
}
