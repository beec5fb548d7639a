/**
 * The instant stub's HTTP/1.1 front end: a plain `net` server that reads request heads and writes
 * the channel's prepared response buffers (bench/loadtest/stub-channel.ts), one socket write per
 * response. node:http made the stub cost about as much CPU per request as the load tester it
 * measures (an IncomingMessage, a ServerResponse, header objects and validation per request), and
 * on a 2-core box the two saturated it together; this does per request what a GET needs: find the
 * end of the head, take the target, match the route.
 *
 * GET only (anything else: 405 and close; a request with a body cannot be framed here). Keep-alive
 * unless the request says `Connection: close` or is HTTP/1.0 (RFC 9112 9.3). Pipelined requests
 * are answered in order: while a request is held (blocking reload, hinted part), the ones after
 * it on that connection wait.
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { StubAnswer, StubChannel, StubWaiter } from './stub-channel.js';

/** A request head longer than this without its end is refused (431) and the connection closed. */
const MAX_HEAD = 16 * 1024;
const CLOSE = /\r\nconnection:[ \t]*close/i;
const CMCD_HEADER = /\r\n(cmcd-(?:object|request|session|status)):[ \t]*([^\r]*)/gi;
const CMCD_ORDER = ['cmcd-object', 'cmcd-request', 'cmcd-session', 'cmcd-status'];

function plainResponse(status: number, reason: string): Buffer {
  return Buffer.from(
    `HTTP/1.1 ${status} ${reason}\r\ncontent-length: 0\r\nconnection: close\r\ndate: ${new Date().toUTCString()}\r\n\r\n`,
    'latin1',
  );
}

/** The CMCD-* headers of a request head, joined as node:http's stub joined them (object, request, session, status), or undefined. */
function cmcdHeaders(head: string): string | undefined {
  if (!/\r\ncmcd-/i.test(head)) return undefined;
  const found = new Map<string, string>();
  for (const m of head.matchAll(CMCD_HEADER)) found.set(m[1].toLowerCase(), m[2].trim());
  if (!found.has('cmcd-session')) return undefined;
  return CMCD_ORDER.map((k) => found.get(k))
    .filter(Boolean)
    .join(',');
}

class Connection implements StubWaiter {
  /** Bytes received and not yet parsed (latin1: one char per byte). */
  private pending = '';
  /** A request of this connection is held: the ones after it wait. */
  private held = false;
  private closeAfter = false;

  constructor(
    private readonly socket: Socket,
    private readonly channel: StubChannel,
  ) {}

  onData(chunk: Buffer): void {
    this.pending = this.pending.length === 0 ? chunk.toString('latin1') : this.pending + chunk.toString('latin1');
    this.pump();
  }

  private pump(): void {
    while (!this.held && !this.socket.destroyed && this.pending.length > 0) {
      const end = this.pending.indexOf('\r\n\r\n');
      if (end === -1) {
        if (this.pending.length > MAX_HEAD) this.refuse(431, 'Request Header Fields Too Large');
        return;
      }
      const head = this.pending.slice(0, end);
      this.pending = end + 4 === this.pending.length ? '' : this.pending.slice(end + 4);
      this.request(head);
    }
  }

  private request(head: string): void {
    const sp1 = head.indexOf(' ');
    const sp2 = sp1 === -1 ? -1 : head.indexOf(' ', sp1 + 1);
    if (sp1 <= 0 || sp2 === -1) return this.refuse(400, 'Bad Request');
    if (head.slice(0, sp1) !== 'GET') return this.refuse(405, 'Method Not Allowed');
    const eol = head.indexOf('\r\n');
    const version = head.slice(sp2 + 1, eol === -1 ? undefined : eol);
    this.closeAfter = version !== 'HTTP/1.1' || CLOSE.test(head);
    const target = head.slice(sp1 + 1, sp2);
    const q = target.indexOf('?');
    const path = q === -1 ? target : target.slice(0, q);
    const query = q === -1 ? null : target.slice(q + 1);
    const answer = this.channel.request(path, query, cmcdHeaders(head), this);
    if (answer) this.deliver(answer);
    else this.held = true;
  }

  deliver(a: StubAnswer): void {
    this.held = false;
    if (this.socket.destroyed) return;
    this.socket.write(a.wire(Date.now()));
    if (this.closeAfter) {
      this.socket.end();
      this.pending = '';
      return;
    }
    if (this.pending.length > 0) this.pump();
  }

  gone(): boolean {
    return this.socket.destroyed;
  }

  private refuse(status: number, reason: string): void {
    this.pending = '';
    this.socket.end(plainResponse(status, reason));
  }
}

/** An HTTP/1.1 server for `channel` (not listening yet); `sockets` holds its open connections. */
export function createStubH1Server(channel: StubChannel, sockets: Set<Socket>): Server {
  return createServer({ noDelay: true }, (socket) => {
    channel.counts.connections++;
    sockets.add(socket);
    const c = new Connection(socket, channel);
    socket.on('data', (chunk: Buffer) => c.onData(chunk));
    socket.on('error', () => socket.destroy());
    socket.once('close', () => sockets.delete(socket));
  });
}
