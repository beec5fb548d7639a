/**
 * bench/loadtest/hpack.ts against an independent HPACK implementation, Node's own (nghttp2). A raw
 * HTTP/2 connection (prior knowledge, cleartext, a real socket on loopback) sends GETs whose header
 * blocks encodeGetRequest made to a node:http2 server, which records what it decoded and answers
 * with fields chosen per request. The response header blocks nghttp2 encoded (Huffman-coded
 * strings of every octet value, dynamic-table entries and their eviction, CONTINUATION frames)
 * are decoded by HpackDecoder and compared with what the server set.
 */
import { connect, type Socket } from 'node:net';
import { createServer, type Http2Server, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeGetRequest, HpackDecoder, huffmanDecode, type ResponseFields } from '../../../bench/loadtest/hpack.js';

/** A deterministic PRNG (mulberry32), so a failure names a reproducible request. */
function prng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Octets nghttp2 sends in a field value: all but NUL, CR and LF (the value is framed by "v"s, so space and tab count too). */
const OCTETS = [...Array(256).keys()].filter((c) => c !== 0 && c !== 10 && c !== 13);
const STATUSES = [200, 204, 206, 304, 404, 500, 503, 299];

/** The response fields request `i` gets (the server sets them; the test expects them back). */
function fieldsFor(i: number): OutgoingHttpHeaders {
  const rnd = prng(i + 1);
  const status = STATUSES[i % STATUSES.length];
  let value = '';
  if (i < OCTETS.length) {
    // one octet among "0"s (5-bit codes), so that even a 30-bit code makes the Huffman form the
    // shorter one, which nghttp2 then sends: every octet's code is decoded once
    value = `${'0'.repeat(12)}${String.fromCharCode(OCTETS[i])}${'0'.repeat(12)}`;
  } else {
    const len = Math.floor(rnd() * 120);
    for (let k = 0; k < len; k++) value += String.fromCharCode(OCTETS[Math.floor(rnd() * OCTETS.length)]);
  }
  const h: OutgoingHttpHeaders = {
    ':status': status,
    'x-rand': `v${value}v`,
    // the same field every time: nghttp2 indexes it and refers to the entry after
    'x-repeat': 'the same value each time',
    // a few values that come and go: entries added, referred to and evicted
    'cache-status': `streamedge; hit; ttl=${i % 7}`,
    'content-type': i % 2 ? 'video/iso.segment' : 'application/vnd.apple.mpegurl',
  };
  if (status !== 204 && status !== 304) h['content-length'] = '0';
  if (i % 97 === 5) h['x-big'] = 'b'.repeat(40_000); // larger than a frame: CONTINUATION
  return h;
}

let server: Http2Server;
let port: number;
const seenRequests: IncomingHttpHeaders[] = [];

beforeAll(async () => {
  server = createServer({ maxHeaderListPairs: 256, maxSendHeaderBlockLength: 100_000 } as never);
  server.on('stream', (stream, headers) => {
    seenRequests.push(headers);
    const i = Number(/^\/r\/(\d+)/.exec(String(headers[':path']))?.[1]);
    stream.respond(fieldsFor(i), { endStream: true });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

/** A raw h2c connection: sends header blocks, collects each stream's response header block. */
class RawH2 {
  private buf = Buffer.alloc(0);
  private parts: Buffer[] = [];
  private waiting = new Map<number, (block: Buffer) => void>();
  constructor(readonly socket: Socket) {
    const settings = Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]);
    const wu = Buffer.from([0, 0, 4, 8, 0, 0, 0, 0, 0, 0x3f, 0xff, 0, 0]);
    socket.write(Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), settings, wu]));
    socket.on('data', (d: Buffer) => this.onData(d));
  }
  get(id: number, block: Buffer): Promise<Buffer> {
    const f = Buffer.alloc(9 + block.length);
    f.writeUIntBE(block.length, 0, 3);
    f[3] = 1;
    f[4] = 0x5;
    f.writeUInt32BE(id, 5);
    block.copy(f, 9);
    this.socket.write(f);
    return new Promise((resolve) => this.waiting.set(id, resolve));
  }
  private onData(d: Buffer): void {
    this.buf = Buffer.concat([this.buf, d]);
    while (this.buf.length >= 9) {
      const len = this.buf.readUIntBE(0, 3);
      if (this.buf.length < 9 + len) return;
      const type = this.buf[3];
      const flags = this.buf[4];
      const id = this.buf.readUInt32BE(5) & 0x7fffffff;
      const payload = this.buf.subarray(9, 9 + len);
      this.buf = this.buf.subarray(9 + len);
      if (type === 4 && !(flags & 1)) this.socket.write(Buffer.from([0, 0, 0, 4, 1, 0, 0, 0, 0]));
      if (type === 1 || type === 9) {
        // no padding or priority from nghttp2 here (asserted: the flags say so)
        expect(flags & 0x28).toBe(0);
        this.parts.push(Buffer.from(payload));
        if (flags & 0x4) {
          const block = Buffer.concat(this.parts);
          this.parts = [];
          this.waiting.get(id)?.(block);
        }
      }
    }
  }
}

describe('HPACK against nghttp2', () => {
  it('decodes 400 responses nghttp2 encoded (every octet value, table entries and evictions, CONTINUATION)', async () => {
    const socket = connect(port, '127.0.0.1');
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    const raw = new RawH2(socket);
    const decoder = new HpackDecoder();
    const out: ResponseFields = { status: NaN, contentLength: undefined, cmsd: undefined };
    let continuations = 0;
    let maxTable = 0;
    try {
      for (let i = 0; i < 400; i++) {
        const block = await raw.get(
          2 * i + 1,
          encodeGetRequest(`/r/${i}?x=%20y`, 'test.example:8443', { 'CMCD-Request': `bl=${i}` }),
        );
        if (block.length > 16_384) continuations++;
        const got: Record<string, string> = {};
        decoder.decode(block, out, (name, value) => {
          got[name] = value;
        });
        maxTable = Math.max(maxTable, decoder.tableLength);
        const want = fieldsFor(i);
        expect(out.status, `request ${i}`).toBe(want[':status']);
        expect(out.contentLength, `request ${i}`).toBe(want['content-length']);
        const { date, ...rest } = got;
        expect(date).toMatch(/GMT$/);
        expect(rest, `request ${i}`).toEqual(Object.fromEntries(Object.entries(want).map(([k, v]) => [k, String(v)])));
      }
    } finally {
      socket.destroy();
    }
    expect(continuations).toBeGreaterThanOrEqual(4);
    expect(maxTable).toBeGreaterThan(3);
    // what nghttp2 decoded of our request blocks
    expect(seenRequests).toHaveLength(400);
    expect(seenRequests[7][':method']).toBe('GET');
    expect(seenRequests[7][':scheme']).toBe('https');
    expect(seenRequests[7][':path']).toBe('/r/7?x=%20y');
    expect(seenRequests[7][':authority']).toBe('test.example:8443');
    expect(seenRequests[7]['cmcd-request']).toBe('bl=7');
  });

  it('refuses malformed Huffman strings and indices past the table', () => {
    // 0xff 0xff: 16 one-bits of padding (more than 7)
    expect(() => huffmanDecode(Buffer.from([0xff, 0xff]), 0, 2)).toThrow(/padding|EOS|longer/);
    // padding of zeros: "0" is 00000, so 0x00 is "0" and three 0 bits (not the start of EOS)
    expect(() => huffmanDecode(Buffer.from([0x00]), 0, 1)).toThrow(/padding/);
    // 0x07 (00000 111): "0" then 3 one-bits of padding
    expect(huffmanDecode(Buffer.from([0x07]), 0, 1)).toBe('0');
    const d = new HpackDecoder();
    const out: ResponseFields = { status: NaN, contentLength: undefined, cmsd: undefined };
    expect(() => d.decode(Buffer.from([0xbe]), out)).toThrow(/past the table/); // index 62, empty table
    expect(() => d.decode(Buffer.from([0x80]), out)).toThrow(/index 0/);
    expect(() => d.decode(Buffer.from([0x3f, 0xe2, 0x1f]), out)).toThrow(/table size/); // 4097 > 4096
    expect(() => d.decode(Buffer.from([0x88, 0x20]), out)).toThrow(/after a field/);
  });
});
