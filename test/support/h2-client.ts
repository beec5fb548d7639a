/**
 * A small HTTP/2 client on node:http2 for tests: one session, many concurrent streams, the whole
 * response body collected per request.
 */
import {
  connect,
  type ClientHttp2Session,
  type IncomingHttpHeaders,
  type SecureClientSessionOptions,
} from 'node:http2';

export interface H2Response {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** Opens a session to `origin` (https://host:port) trusting `ca` (PEM). */
export async function h2Session(
  origin: string,
  ca?: Buffer,
  opts: SecureClientSessionOptions = {},
): Promise<ClientHttp2Session> {
  const session = connect(origin, { ...(ca ? { ca } : {}), ...opts });
  await new Promise<void>((resolve, reject) => {
    session.once('connect', () => resolve());
    session.once('error', reject);
  });
  session.on('error', () => undefined);
  return session;
}

/** GET `path` on `session`; resolves with the whole response (rejects on a reset stream). */
export function h2Get(
  session: ClientHttp2Session,
  path: string,
  headers: Record<string, string> = {},
): Promise<H2Response> {
  return new Promise((resolve, reject) => {
    const req = session.request({ ':method': 'GET', ':path': path, ...headers });
    let head: IncomingHttpHeaders | undefined;
    const chunks: Buffer[] = [];
    req.on('response', (h) => (head = h));
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (!head) return reject(new Error(`no response headers for ${path}`));
      resolve({ status: Number(head[':status']), headers: head, body: Buffer.concat(chunks) });
    });
    req.on('error', reject);
    req.end();
  });
}
