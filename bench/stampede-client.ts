/**
 * The stampede bench's client: N HTTP/1.1 keep-alive connections on raw sockets, every one opened
 * and warmed first, then one GET each for the same object, all written in one synchronous pass (no
 * request waits for another's turn of the event loop). Per response: when its first body byte
 * arrived and when it completed, its status and body length (Content-Length or chunked framing
 * decoded). It costs a fraction of undici's CPU per byte (no body streams, no per-chunk promises):
 * on a machine whose cores the client shares with the server, a heavier client delays the very
 * first bytes it is there to time.
 */
import { connect, type Socket } from 'node:net';

export interface StampedeTimings {
  /** Epoch ms of each response's first body byte (undefined: none arrived). */
  firstByteAt: (number | undefined)[];
  /** Ms from the requests' write to each response's end (undefined: it did not complete). */
  doneMs: (number | undefined)[];
  status: number[];
  bodyBytes: number[];
  /** Responses by `x-edge-worker` (a multi-worker streamedge edge: how its connections were spread). */
  byWorker: Record<string, number>;
  /** Each response's `x-edge-worker`. */
  worker: (string | undefined)[];
  /** Epoch ms when the requests were written. */
  sentAt: number;
  /** User + system CPU seconds this process spent from the requests' write to the last response. */
  clientCpuSeconds: number;
  /** Warmed connections the server closed (keep-alive timeout) before the requests: opened again. */
  reopenedBeforeSend: number;
  /** Ms the client's one pass writing every request took (the client shares the cores: a starved client sends late). */
  writePassMs: number;
}

/** Reads one HTTP/1.1 response off a socket: head, then a body framed by Content-Length or chunked. */
class ResponseReader {
  status = 0;
  bodyBytes = 0;
  /** The answering worker of a multi-worker streamedge edge (`x-edge-worker`). */
  worker: string | undefined;
  private head: Buffer[] = [];
  private headBytes = 0;
  private inHead = true;
  private length: number | undefined;
  private chunked = false;
  /** chunked: bytes of the current chunk still to come, -1 while reading a size line. */
  private chunkLeft = -1;
  private line = '';
  /** chunked: reading the CRLF after a chunk's data, or the trailer after the last chunk. */
  private afterData = false;
  private trailer = false;
  done = false;

  constructor(
    private readonly onFirstByte: () => void,
    private readonly onDone: () => void,
  ) {}

  push(d: Buffer): void {
    let i = 0;
    if (this.inHead) {
      this.head.push(d);
      this.headBytes += d.length;
      const all = this.head.length === 1 ? d : Buffer.concat(this.head, this.headBytes);
      const end = all.indexOf('\r\n\r\n');
      if (end === -1) return;
      this.parseHead(all.subarray(0, end).toString('latin1'));
      this.inHead = false;
      this.head = [];
      d = all.subarray(end + 4);
      if (this.length === 0) return this.finish();
    }
    if (d.length === 0) return;
    if (!this.chunked) {
      if (this.bodyBytes === 0) this.onFirstByte();
      this.bodyBytes += d.length;
      if (this.length !== undefined && this.bodyBytes >= this.length) this.finish();
      return;
    }
    while (i < d.length && !this.done) {
      if (this.chunkLeft > 0) {
        const n = Math.min(this.chunkLeft, d.length - i);
        if (this.bodyBytes === 0) this.onFirstByte();
        this.bodyBytes += n;
        this.chunkLeft -= n;
        i += n;
        if (this.chunkLeft === 0) this.afterData = true;
        continue;
      }
      // a line: a chunk size, the CRLF after a chunk's data, or a trailer line
      const nl = d.indexOf(10, i);
      if (nl === -1) {
        this.line += d.toString('latin1', i);
        return;
      }
      const line = (this.line + d.toString('latin1', i, nl)).replace(/\r$/, '');
      this.line = '';
      i = nl + 1;
      if (this.afterData) {
        this.afterData = false;
        this.chunkLeft = -1;
      } else if (this.trailer) {
        if (line === '') this.finish();
      } else {
        const size = parseInt(line, 16);
        if (Number.isNaN(size)) throw new Error(`bad chunk size line ${JSON.stringify(line)}`);
        if (size === 0) this.trailer = true;
        else this.chunkLeft = size;
      }
    }
  }

  private parseHead(text: string): void {
    const lines = text.split('\r\n');
    this.status = Number(lines[0].split(' ')[1]);
    for (const l of lines.slice(1)) {
      const c = l.indexOf(':');
      const name = l.slice(0, c).trim().toLowerCase();
      const value = l
        .slice(c + 1)
        .trim()
        .toLowerCase();
      if (name === 'content-length') this.length = Number(value);
      if (name === 'transfer-encoding' && value.includes('chunked')) this.chunked = true;
      if (name === 'x-edge-worker') this.worker = value;
    }
  }

  private finish(): void {
    if (this.done) return;
    this.done = true;
    this.onDone();
  }
}

function open(host: string, port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(port, host, () => resolve(s));
    s.once('error', reject);
  });
}

/** One request on `s`, read through to the end of its response. */
function exchange(s: Socket, request: string, reader: ResponseReader): void {
  const onData = (d: Buffer): void => {
    try {
      reader.push(d);
    } catch (e) {
      s.destroy(e instanceof Error ? e : new Error(String(e)));
    }
    if (reader.done) s.off('data', onData);
  };
  s.on('data', onData);
  s.write(request);
}

/**
 * Opens `n` connections to `base`, warms each with one GET of `warmPath` (so connection set-up is
 * not timed), then GETs `path` on all of them at once. Resolves when every response ended or failed
 * (at most `timeoutMs`). `onSend` runs just before the requests are written.
 */
export async function stampedeRequests(
  base: string,
  path: string,
  warmPath: string,
  n: number,
  onSend?: () => void,
  timeoutMs = 120_000,
): Promise<StampedeTimings> {
  const u = new URL(base);
  const port = Number(u.port);
  const host = u.hostname;
  const req = (p: string) => `GET ${p} HTTP/1.1\r\nhost: ${u.host}\r\n\r\n`;
  const closed = new WeakSet<Socket>();
  const warm = async (): Promise<Socket> => {
    const s = await open(host, port);
    s.once('close', () => closed.add(s));
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      exchange(s, req(warmPath), new ResponseReader(() => undefined, resolve));
    });
    return s;
  };
  const socks: Socket[] = [];
  try {
    socks.push(...(await Promise.all(Array.from({ length: n }, warm))));
    // a connection warmed early may have been closed by the server's keep-alive timeout while the
    // others were opened: open and warm those again, so every request goes out on a live connection
    let reopened = 0;
    for (let pass = 0; pass < 5; pass++) {
      const dead = socks.flatMap((s, i) => (closed.has(s) || s.destroyed || s.readyState !== 'open' ? [i] : []));
      if (dead.length === 0) break;
      reopened += dead.length;
      const fresh = await Promise.all(dead.map(() => warm()));
      dead.forEach((i, k) => (socks[i] = fresh[k]));
    }
    const out: StampedeTimings = {
      firstByteAt: new Array<number | undefined>(n).fill(undefined),
      doneMs: new Array<number | undefined>(n).fill(undefined),
      status: new Array<number>(n).fill(0),
      bodyBytes: new Array<number>(n).fill(0),
      byWorker: {},
      worker: new Array<string | undefined>(n).fill(undefined),
      sentAt: 0,
      clientCpuSeconds: 0,
      reopenedBeforeSend: reopened,
      writePassMs: 0,
    };
    let left = n;
    let finishAll!: () => void;
    const all = new Promise<void>((r) => (finishAll = r));
    const timer = setTimeout(finishAll, timeoutMs);
    const settle = (): void => {
      if (--left === 0) finishAll();
    };
    onSend?.();
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    out.sentAt = Date.now();
    socks.forEach((s, i) => {
      const r = new ResponseReader(
        () => (out.firstByteAt[i] = Date.now()),
        () => {
          out.doneMs[i] = performance.now() - t0;
          out.status[i] = r.status;
          out.bodyBytes[i] = r.bodyBytes;
          out.worker[i] = r.worker;
          if (r.worker !== undefined) out.byWorker[r.worker] = (out.byWorker[r.worker] ?? 0) + 1;
          settle();
        },
      );
      s.removeAllListeners('error');
      s.once('error', () => undefined);
      s.once('close', () => {
        if (!r.done) settle();
      });
      exchange(s, req(path), r);
    });
    out.writePassMs = performance.now() - t0;
    await all;
    clearTimeout(timer);
    const cpu = process.cpuUsage(cpu0);
    out.clientCpuSeconds = (cpu.user + cpu.system) / 1e6;
    return out;
  } finally {
    for (const s of socks) s.destroy();
  }
}
