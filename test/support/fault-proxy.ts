/**
 * A loopback HTTP proxy in front of an edge that breaks chosen requests the way networks and
 * servers do: a body cut off midway (the Content-Length promises more), a connection closed with
 * no answer, or a 5xx. Every other request, and every header, passes through unchanged. It keeps
 * a count of the requests per path and a list of the faults it injected, so a test can hold the
 * player's account (its retries) against what really happened on the wire. Every answer closes
 * its connection, so each request is on a fresh one.
 */
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type Fault = 'cut-body' | 'no-answer' | { status: number };

export interface FaultRule {
  /** Which request paths the rule applies to. */
  path: RegExp;
  fault: Fault;
  /** How many requests of each matching path get the fault (the first ones); Infinity: all of them. */
  times: number;
}

export interface FaultProxy {
  url: string;
  /** The rules in force, read at each request: a test may add one while the player runs. */
  rules: FaultRule[];
  /** Requests seen, per path (query left off). */
  requests: Map<string, number>;
  /** Every request's path, in the order they came. */
  log: string[];
  /** The faults injected, in order. */
  injected: { path: string; fault: string }[];
  close(): Promise<void>;
}

const faultName = (f: Fault) => (typeof f === 'string' ? f : `status ${f.status}`);

export async function startFaultProxy(upstream: string, rules: FaultRule[]): Promise<FaultProxy> {
  const up = new URL(upstream);
  const requests = new Map<string, number>();
  const log: string[] = [];
  const injected: FaultProxy['injected'] = [];

  const pass = (req: IncomingMessage, res: ServerResponse, fault?: 'cut-body') => {
    const headers = { ...req.headers, host: up.host };
    const out = request({ host: up.hostname, port: up.port, path: req.url, method: req.method, headers }, (answer) => {
      if (!fault) {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
        return;
      }
      const chunks: Buffer[] = [];
      answer.on('data', (c: Buffer) => chunks.push(c));
      answer.on('end', () => {
        const body = Buffer.concat(chunks);
        res.writeHead(answer.statusCode ?? 502, { ...answer.headers, 'content-length': String(body.length) });
        res.write(body.subarray(0, Math.floor(body.length / 2)), () => res.socket?.destroy());
      });
    });
    out.on('error', () => res.socket?.destroy());
    req.pipe(out);
  };

  const server: Server = createServer((req, res) => {
    // one request per connection: a browser tries a request again by itself when a connection
    // it reused closes with no answer, which would hide a fault from the player under test
    res.shouldKeepAlive = false;
    const path = (req.url ?? '/').replace(/\?.*$/, '');
    const seen = (requests.get(path) ?? 0) + 1;
    requests.set(path, seen);
    log.push(path);
    const rule = rules.find((r) => r.path.test(path) && seen <= r.times);
    if (!rule) return pass(req, res);
    injected.push({ path, fault: faultName(rule.fault) });
    if (rule.fault === 'no-answer') return void req.socket.destroy();
    if (rule.fault === 'cut-body') return pass(req, res, 'cut-body');
    res.writeHead(rule.fault.status, {
      'content-type': 'text/plain',
      // the page reads the status across origins only with this
      'access-control-allow-origin': '*',
    });
    res.end(`injected ${rule.fault.status}\n`);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    rules,
    requests,
    log,
    injected,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
