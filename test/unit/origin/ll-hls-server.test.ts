/**
 * The LL-HLS server rules of RFC 8216bis (blocking reload, held parts, delta updates, 400/503),
 * checked over real HTTP against a live channel whose encoder is driven by the test, so each
 * event happens exactly when the test says.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { connect, Socket } from 'node:net';
import { Pool } from 'undici';
import { Parser } from 'm3u8-parser';
import { createOrigin, type Origin } from '../../../packager/origin/server.js';
import type { RunRequest } from '../../../packager/live/live-channel.js';
import { FakeEncoder, until } from './fake-encoder.js';

let dir: string;
let origin: Origin;
let client: Pool;
let originUrl: string;
const enc = new FakeEncoder();

/**
 * What this suite reads from an m3u8-parser manifest of the channel's media playlist. Every
 * playlist it reads the preload segment of has a segment in progress.
 */
interface LlHlsPlaylist {
  mediaSequence: number;
  segments: { uri: string; programDateTime?: number; discontinuity?: boolean }[];
  serverControl: { canBlockReload?: boolean; canSkipUntil?: number; partHoldBack: number };
  partInf: { partTarget: number };
  preloadSegment: { parts: { uri: string }[]; preloadHints: { uri: string }[] };
  renditionReports: unknown[];
}

function parse(text: string): LlHlsPlaylist {
  const p = new Parser();
  p.push(text);
  p.end();
  return p.manifest as LlHlsPlaylist;
}

/** The origin's /health body. */
interface HealthBody {
  channels: { id: string; state: string; restarts: number; lastError?: string }[];
}

async function get(path: string) {
  const res = await client.request({ path, method: 'GET' });
  const body = Buffer.from(await res.body.arrayBuffer());
  return {
    status: res.statusCode,
    headers: res.headers as Record<string, string | undefined>,
    body,
    text: body.toString(),
  };
}

/** One response read off a raw socket: its head's lines and its body (Content-Length framed). */
function readResponse(socket: Socket): Promise<{ lines: string[]; body: Buffer }> {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const lines = buf.subarray(0, end).toString('latin1').split('\r\n');
      const length = Number(/^content-length: *(\d+)$/im.exec(lines.join('\n'))?.[1] ?? NaN);
      if (buf.length < end + 4 + length) return;
      socket.off('data', onData);
      socket.off('error', reject);
      resolve({ lines, body: buf.subarray(end + 4, end + 4 + length) });
    };
    socket.on('data', onData);
    socket.on('error', reject);
  });
}

/** `count` responses read off a raw socket in order (pipelined answers may share a chunk). */
function readResponses(socket: Socket, count: number): Promise<{ lines: string[]; body: Buffer }[]> {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const out: { lines: string[]; body: Buffer }[] = [];
    const onData = (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      for (;;) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const lines = buf.subarray(0, end).toString('latin1').split('\r\n');
        const length = Number(/^content-length: *(\d+)$/im.exec(lines.join('\n'))?.[1] ?? NaN);
        if (buf.length < end + 4 + length) return;
        out.push({ lines, body: buf.subarray(end + 4, end + 4 + length) });
        buf = buf.subarray(end + 4 + length);
        if (out.length === count) {
          socket.off('data', onData);
          socket.off('error', reject);
          resolve(out);
          return;
        }
      }
    };
    socket.on('data', onData);
    socket.on('error', reject);
  });
}

const channel = () => origin.channels.get('ch')!;
/** Requests the origin holds right now (its requests-held gauge), of one kind or all. */
async function held(kind?: 'playlist' | 'part' | 'segment'): Promise<number> {
  const g = await origin.metrics.held.get();
  return g.values.filter((v) => !kind || v.labels.kind === kind).reduce((a, v) => a + v.value, 0);
}
const win = (rid: string) => channel().windows.get(rid)!;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'se-llhls-'));
  origin = await createOrigin({
    root: dir,
    logger: false,
    processMetrics: false,
    live: [
      { id: 'ch', source: 'fake', segmentDuration: 1, partDuration: 0.5, dvrWindow: 120 },
      { id: 'broken', source: '/no/such/source.mp4', segmentDuration: 1, partDuration: 0.5 },
    ],
    channelOptions: { stallTimeoutMs: 60_000, backoffInitialMs: 200 },
    startRun: async (req: RunRequest) => {
      if (req.config.id === 'broken') throw new Error(`cannot open ${req.config.source}: No such file or directory`);
      return enc.start(req);
    },
  });
  originUrl = await origin.listen(0, '127.0.0.1');
  client = new Pool(originUrl, { connections: 32 });
  await enc.runStarted(1);
  enc.init();
  enc.segments(0, 19); // 20 complete segments of 1 s
  enc.part(20, 0); // segment 20 in progress
});

afterAll(async () => {
  await client?.close();
  await origin?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('live playlists', () => {
  it('lists the window, parts near the edge, a preload hint, rendition reports and PDT', async () => {
    const r = await get('/live/ch/v/index.m3u8');
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('application/vnd.apple.mpegurl');
    expect(r.headers['surrogate-key']).toBe('ch');
    expect(r.headers['cache-control']).toBe('public, max-age=0, s-maxage=1');
    // CDN caches may answer from their copy for as long again while one refetch runs (RFC 9213, RFC 5861)
    expect(r.headers['cdn-cache-control']).toBe('max-age=1, stale-while-revalidate=1');
    const m = parse(r.text);
    expect(m.mediaSequence).toBe(0);
    expect(m.segments.length).toBe(20);
    expect(m.segments.every((s) => s.programDateTime !== undefined)).toBe(true);
    expect(m.serverControl).toMatchObject({ canBlockReload: true, canSkipUntil: 6 });
    expect(m.serverControl.partHoldBack).toBeGreaterThanOrEqual(3 * m.partInf.partTarget);
    expect(m.preloadSegment.preloadHints[0].uri).toBe('seg-20.1.m4s');
    expect(m.renditionReports).toEqual([expect.objectContaining({ uri: '../a/index.m3u8', lastMsn: 20, lastPart: 0 })]);
    expect(m.preloadSegment?.parts?.map((p) => p.uri)).toEqual(['seg-20.0.m4s']);
  });

  it('delta updates skip exactly the segments older than CAN-SKIP-UNTIL', async () => {
    // 20 complete 1 s segments end at 20 s; CAN-SKIP-UNTIL = 6 s: segments ending at or before 14 s (0..13) may go.
    for (const skip of ['YES', 'v2']) {
      const r = await get(`/live/ch/v/index.m3u8?_HLS_skip=${skip}`);
      expect(r.status).toBe(200);
      expect(r.text).toContain('#EXT-X-SKIP:SKIPPED-SEGMENTS=14');
      expect(r.text.includes('RECENTLY-REMOVED-DATERANGES=""')).toBe(skip === 'v2');
      const m = parse(r.text);
      expect(m.mediaSequence).toBe(0);
      const uris = m.segments.map((s) => s.uri).filter(Boolean);
      expect(uris[0]).toBe('seg-14.m4s');
      expect(uris[uris.length - 1]).toBe('seg-19.m4s');
    }
  });

  it('rejects bad directives with 400', async () => {
    expect((await get('/live/ch/v/index.m3u8?_HLS_part=1')).status).toBe(400);
    expect((await get('/live/ch/v/index.m3u8?_HLS_msn=abc')).status).toBe(400);
    // last complete segment is 19: msn 22 is more than two beyond it
    expect((await get('/live/ch/v/index.m3u8?_HLS_msn=22')).status).toBe(400);
    // edge is part 20.0; part 20.7 is 7 parts ahead, beyond the Advance Part Limit (3 s of 0.5 s parts = 6)
    expect((await get('/live/ch/v/index.m3u8?_HLS_msn=20&_HLS_part=7')).status).toBe(400);
    expect((await get('/live/ch/v/index.m3u8?_HLS_skip=NO')).status).toBe(400);
  });

  it('takes a Part Index beyond the last part of a complete segment as part 0 of the next (RFC 8216bis 6.2.5.2)', async () => {
    // segments have 2 parts: 19.9 is 20.0 and 10.99 is 11.0, both produced: answered at once, not 400
    for (const q of ['_HLS_msn=19&_HLS_part=9', '_HLS_msn=10&_HLS_part=99']) {
      const r = await get(`/live/ch/v/index.m3u8?${q}`);
      expect(r.status, q).toBe(200);
      expect(r.text, q).toContain('#EXT-X-PART:');
    }
  });

  it('answers a blocking reload for a part that exists at once', async () => {
    const r = await get('/live/ch/v/index.m3u8?_HLS_msn=20&_HLS_part=0');
    expect(r.status).toBe(200);
    expect(r.headers['cache-control']).toMatch(/^public, max-age=\d+$/);
    expect(r.headers['cdn-cache-control']).toBeUndefined(); // a blocking reload's answer is never stale
  });
});

describe('held requests', () => {
  it('holds a blocking reload until the part is produced, then answers with exactly that part as the edge', async () => {
    let answered = false;
    const pending = get('/live/ch/v/index.m3u8?_HLS_msn=20&_HLS_part=1').then((r) => {
      answered = true;
      return r;
    });
    await until(async () => (await held('playlist')) >= 1, 5000, 'the request to be held');
    expect(answered).toBe(false);
    const metrics = (await get('/metrics')).text;
    expect(metrics).toMatch(/streamedge_origin_requests_held\{kind="playlist"\} 1/);
    enc.part(20, 1);
    const r = await pending;
    expect(r.status).toBe(200);
    const m = parse(r.text);
    const parts = m.preloadSegment.parts.map((p) => p.uri);
    expect(parts[parts.length - 1]).toBe('seg-20.1.m4s');
  });

  it('hints the next segment once the segment in progress reaches its target; holds the hinted part and sends its bytes when produced', async () => {
    const playlist = parse((await get('/live/ch/v/index.m3u8')).text);
    const hint = playlist.preloadSegment.preloadHints[0].uri;
    // segment 20 has 1 s of parts (its 1 s target): the next part the server expects is 21.0
    expect(hint).toBe('seg-21.0.m4s');
    // a request for part 20.2 (never produced: segment 20 ends after 2 parts) is held, and
    // answered 404 as soon as segment 20 closes, before the next part exists
    const never = get('/live/ch/v/seg-20.2.m4s');
    const next = get(`/live/ch/v/${hint}`);
    await until(async () => (await held('part')) >= 2, 5000, 'both part requests to be held');
    enc.segment(20);
    const a = await never;
    expect(a.status).toBe(404);
    expect(a.headers['content-type']).toContain('application/json');
    expect(await held('part')).toBe(1);
    enc.part(21, 0);
    const b = await next;
    expect(b.status).toBe(200);
    expect(b.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(b.body.equals(enc.parts.get('v:21')![0])).toBe(true);
  });

  it('streams the segment in progress with chunked transfer until it completes', async () => {
    const res = await client.request({ path: '/live/ch/v/seg-21.m4s', method: 'GET' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-length']).toBeUndefined();
    expect(res.headers['transfer-encoding']).toBe('chunked');
    const chunks: Buffer[] = [];
    const reading = (async () => {
      for await (const c of res.body) chunks.push(c as Buffer);
    })();
    await until(
      () => Buffer.concat(chunks).length >= enc.parts.get('v:21')![0].length,
      5000,
      'the first part to be streamed',
    );
    enc.part(21, 1);
    enc.segment(21);
    await reading;
    expect(Buffer.concat(chunks).equals(enc.bytesOf('v', 21))).toBe(true);
    // afterwards the same URL serves the complete file
    const again = await get('/live/ch/v/seg-21.m4s');
    expect(again.body.equals(enc.bytesOf('v', 21))).toBe(true);
    expect(again.headers['content-length']).toBe(String(enc.bytesOf('v', 21).length));
  });

  it('holds a request for the next segment until it starts, then streams it', async () => {
    const pending = get('/live/ch/v/seg-22.m4s');
    await until(async () => (await held('segment')) >= 1, 5000, 'the segment request to be held');
    enc.part(22, 0);
    enc.part(22, 1);
    enc.segment(22);
    const r = await pending;
    expect(r.status).toBe(200);
    expect(r.body.equals(enc.bytesOf('v', 22))).toBe(true);
  });

  it('wakes a blocking reload without _HLS_part only when the whole segment is complete', async () => {
    let answered = false;
    const pending = get('/live/ch/v/index.m3u8?_HLS_msn=23').then((r) => {
      answered = true;
      return r;
    });
    await until(async () => (await held('playlist')) >= 1, 5000, 'the request to be held');
    enc.part(23, 0);
    enc.part(23, 1);
    await until(() => win('v').edge()?.part === 1, 5000, 'part 23.1');
    expect(answered).toBe(false);
    enc.segment(23);
    const r = await pending;
    expect(r.text).toContain('seg-23.m4s');
  });

  it('answers 503 when the requested segment does not come within 3 target durations', async () => {
    const started = Date.now();
    const r = await get('/live/ch/v/index.m3u8?_HLS_msn=25');
    expect(r.status).toBe(503);
    expect(Date.now() - started).toBeGreaterThanOrEqual(2900);
  });

  it('404s parts far ahead of the edge or long gone from memory', async () => {
    expect((await get('/live/ch/v/seg-40.0.m4s')).status).toBe(404);
    expect((await get('/live/ch/v/seg-2.0.m4s')).status).toBe(404);
    expect((await get('/live/ch/v/seg-2.m4s')).status).toBe(200);
  });
});

describe('channel state', () => {
  it('a channel whose source never starts is failed with a clear error; the others keep serving', async () => {
    await until(() => origin.channels.get('broken')!.state === 'failed', 5000, 'broken to fail');
    const health = JSON.parse((await get('/health')).text) as HealthBody;
    const broken = health.channels.find((c) => c.id === 'broken');
    expect(broken?.state).toBe('failed');
    expect(broken?.lastError).toContain('/no/such/source.mp4');
    expect(health.channels.find((c) => c.id === 'ch')?.state).toBe('running');
    const r = await get('/live/broken/master.m3u8');
    expect(r.status).toBe(503);
    expect(r.text).toContain('failed');
    expect((await get('/live/ch/master.m3u8')).status).toBe(200);
    const metrics = (await get('/metrics')).text;
    expect(metrics).toContain('streamedge_live_channel_state{channel="broken",state="failed"} 1');
    expect(metrics).toContain('streamedge_live_channel_state{channel="ch",state="running"} 1');
  });

  it('a source that stops leaves the window served and the state stalled; its return continues the sequence after a discontinuity', async () => {
    const before = parse((await get('/live/ch/v/index.m3u8')).text);
    enc.stop();
    await until(() => channel().state === 'stalled', 5000, 'stalled');
    const during = await get('/live/ch/v/index.m3u8');
    expect(during.status).toBe(200);
    expect(parse(during.text).segments.length).toBeGreaterThanOrEqual(before.segments.length);
    const healthDuring = JSON.parse((await get('/health')).text) as HealthBody;
    expect(healthDuring.channels.find((c) => c.id === 'ch')?.state).toBe('stalled');
    // the channel restarts the encoder (backoff) and continues the numbering
    const run2 = await enc.runStarted(2);
    expect(run2.firstSegmentNumber).toBe(24);
    enc.init();
    enc.segments(24, 25);
    await until(() => channel().state === 'running', 5000, 'running again');
    const after = await get('/live/ch/v/index.m3u8');
    expect(after.text).toMatch(
      /#EXT-X-DISCONTINUITY\n#EXT-X-PROGRAM-DATE-TIME:[^\n]+\n(#EXT-X-PART:[^\n]+\n)*#EXTINF:[^\n]+\nseg-24\.m4s/,
    );
    const m = parse(after.text);
    expect(m.mediaSequence).toBe(0);
    expect(m.segments.map((s) => s.uri).slice(-3)).toEqual(['seg-23.m4s', 'seg-24.m4s', 'seg-25.m4s']);
    expect(m.segments.find((s) => s.uri === 'seg-24.m4s')?.discontinuity).toBe(true);
    const healthAfter = JSON.parse((await get('/health')).text) as HealthBody;
    expect(healthAfter.channels.find((c) => c.id === 'ch')?.restarts).toBe(1);
  });
});

describe('waking many held blocking reloads', () => {
  it('answers every held request of a group with the same bytes, compressed as each accepts, with the usual headers; a client that leaves is dropped', async () => {
    // after the previous test the window ends with complete segment 25: hold reloads for part 26.0
    const path = '/live/ch/v/index.m3u8?_HLS_msn=26&_HLS_part=0';
    const ask = async (acceptEncoding?: string, signal?: AbortSignal) => {
      const res = await client.request({
        path,
        method: 'GET',
        headers: acceptEncoding ? { 'accept-encoding': acceptEncoding } : {},
        signal,
      });
      const body = Buffer.from(await res.body.arrayBuffer());
      return { status: res.statusCode, headers: res.headers as Record<string, string | undefined>, body };
    };
    const leaving = new AbortController();
    const gone = ask('br', leaving.signal).catch((e: Error) => e);
    await until(async () => (await held('playlist')) === 1, 5000, 'the first request to be held');
    leaving.abort();
    expect(await gone).toBeInstanceOf(Error);
    await until(async () => (await held('playlist')) === 0, 5000, 'the aborted request to be released');
    const encodings = [
      ...Array(10).fill('br'),
      ...Array(10).fill('gzip, deflate'),
      ...Array(4).fill(undefined),
      'gzip;q=0, br;q=0',
    ];
    const pending = encodings.map((e) => ask(e));
    await until(async () => (await held('playlist')) === encodings.length, 10_000, 'all requests to be held');
    enc.part(26, 0);
    const answers = await Promise.all(pending);
    expect(await held('playlist')).toBe(0);
    const plain = await get(path); // satisfied now: the ordinary (fastify) path, same playlist version
    expect(plain.status).toBe(200);
    expect(parse(plain.text).preloadSegment.parts.map((p) => p.uri)).toEqual(['seg-26.0.m4s']);
    const bodies = new Map<string, Buffer>();
    answers.forEach((r, i) => {
      expect(r.status).toBe(200);
      const enc = encodings[i];
      const expected = enc?.startsWith('br') ? 'br' : enc?.startsWith('gzip,') ? 'gzip' : undefined;
      expect(r.headers['content-encoding']).toBe(expected);
      const text = expected === 'br' ? brotliDecompressSync(r.body) : expected === 'gzip' ? gunzipSync(r.body) : r.body;
      expect(text.toString()).toBe(plain.text);
      expect(r.headers['content-length']).toBe(String(r.body.length));
      expect(r.headers['content-type']).toBe('application/vnd.apple.mpegurl');
      expect(r.headers['cache-control']).toBe(plain.headers['cache-control']);
      expect(r.headers['surrogate-key']).toBe('ch');
      expect(r.headers['access-control-allow-origin']).toBe(plain.headers['access-control-allow-origin']);
      expect(r.headers['vary']).toMatch(/Accept-Encoding/);
      // one response per group: compressed bytes are identical within each encoding
      const seen = bodies.get(expected ?? 'identity');
      if (seen) expect(r.body.equals(seen)).toBe(true);
      else bodies.set(expected ?? 'identity', r.body);
    });
    const metrics = (await get('/metrics')).text;
    expect(metrics).toMatch(/streamedge_origin_requests_total\{route="live-manifest",status="200"\} \d+/);
  });
  /** A raw TCP connection to the origin for `use`, destroyed after it. */
  async function withRawSocket(use: (socket: Socket) => Promise<void>): Promise<void> {
    const { hostname, port } = new URL(originUrl);
    const socket = connect(Number(port), hostname);
    try {
      await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
      await use(socket);
    } finally {
      socket.destroy();
    }
  }
  /** Writes `requests` and returns once the origin holds one more playlist request than before. */
  async function writeHeld(socket: Socket, requests: string): Promise<void> {
    const held0 = await held('playlist');
    socket.write(requests);
    await until(async () => (await held('playlist')) > held0, 5000, 'the request to be held');
  }
  // after the previous test the window ends with part 26.0: hold a reload for 26.1 on a raw socket
  it('a woken reload is written raw with the connection fields Node would write, and its connection serves the next request', async () => {
    await withRawSocket(async (socket) => {
      const first = readResponse(socket);
      await writeHeld(socket, 'GET /live/ch/v/index.m3u8?_HLS_msn=26&_HLS_part=1 HTTP/1.1\r\nhost: t\r\n\r\n');
      // the wake writes below the socket's Writable (src/http/raw-socket-write.ts): no socket.write of a head
      const streamWrite = vi.spyOn(Socket.prototype, 'write');
      enc.part(26, 1);
      const r = await first;
      const heads = streamWrite.mock.calls.filter(([chunk]) => String(chunk).startsWith('HTTP/1.1'));
      streamWrite.mockRestore();
      expect(heads).toHaveLength(0);
      expect(r.lines[0]).toBe('HTTP/1.1 200 OK');
      const fields = r.lines.slice(1).map((l) => l.slice(0, l.indexOf(':')).toLowerCase());
      expect(fields.filter((f) => f === 'connection')).toHaveLength(1);
      expect(new Set(fields).size).toBe(fields.length);
      expect(r.lines).toContain('connection: keep-alive');
      expect(r.lines.some((l) => /^keep-alive: timeout=\d+/.test(l))).toBe(true);
      expect(r.body.toString()).toContain('seg-26.1.m4s');
      const second = readResponse(socket);
      socket.write('GET /live/ch/v/seg-26.1.m4s HTTP/1.1\r\nhost: t\r\n\r\n');
      const s2 = await second;
      expect(s2.lines[0]).toBe('HTTP/1.1 200 OK');
      expect(s2.body.equals((await get('/live/ch/v/seg-26.1.m4s')).body)).toBe(true);
    });
  });

  // the window now ends with part 26.1
  it('a held reload pipelined with a second request: the woken answer comes first, then the second, on one connection', async () => {
    await withRawSocket(async (socket) => {
      const seg = (await get('/live/ch/v/seg-26.1.m4s')).body;
      const both = readResponses(socket, 2);
      await writeHeld(
        socket,
        'GET /live/ch/v/index.m3u8?_HLS_msn=27&_HLS_part=0 HTTP/1.1\r\nhost: t\r\n\r\n' +
          'GET /live/ch/v/seg-26.1.m4s HTTP/1.1\r\nhost: t\r\n\r\n',
      );
      enc.segment(26);
      enc.part(27, 0);
      const [r, s2] = await both;
      expect(r.lines[0]).toBe('HTTP/1.1 200 OK');
      expect(r.body.toString()).toContain('seg-27.0.m4s');
      expect(s2.lines[0]).toBe('HTTP/1.1 200 OK');
      expect(s2.body.equals(seg)).toBe(true);
    });
  });

  // the window now ends with part 27.0
  it('a held reload asking for Connection: close is answered with connection: close, and the origin then closes', async () => {
    await withRawSocket(async (socket) => {
      const first = readResponse(socket);
      const ended = new Promise<void>((resolve) => socket.once('end', () => resolve()));
      await writeHeld(
        socket,
        'GET /live/ch/v/index.m3u8?_HLS_msn=27&_HLS_part=1 HTTP/1.1\r\nhost: t\r\nconnection: close\r\n\r\n',
      );
      enc.part(27, 1);
      const r = await first;
      expect(r.lines[0]).toBe('HTTP/1.1 200 OK');
      expect(r.lines.map((l) => l.toLowerCase())).toContain('connection: close');
      expect(r.body.toString()).toContain('seg-27.1.m4s');
      await ended;
    });
  });
});
