/**
 * An instant live LL-HLS stub for measuring the load tester itself: a node:http server whose
 * synthetic channel is computed from the wall clock (no encoder, no store), so every answer costs
 * it next to nothing and the tester's own CPU is what a bench measures.
 *
 * The channel mirrors the lavfi channel of bench/loadtest-bench.ts: one video rendition (200 kbit/s)
 * and one audio rendition (64 kbit/s), 2 s segments of 4 × 0.5 s parts, a sliding window of
 * 6 segments, EXT-X-PROGRAM-DATE-TIME advancing in real time: the part ending at wall-clock time T
 * carries PDT T − 0.5 s and becomes available at T exactly. Blocking playlist reloads
 * (_HLS_msn/_HLS_part) and preload-hinted parts are held until the part exists (one timer per
 * part boundary for all held requests), then answered at once. Bodies are filler bytes of the
 * rendition's size. `/stats` returns request counts (and the serving process's pid) as JSON.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createSecureServer, type Http2SecureServer, type Http2Session } from 'node:http2';
import type { AddressInfo } from 'node:net';

export const STUB = {
  partMs: 500,
  partsPerSegment: 4,
  windowSegments: 6,
  partHoldBackSec: 1.5,
  holdBackSec: 6,
  renditions: [
    { id: 'v', bandwidth: 200_000, codecs: 'avc1.4d400d', resolution: '320x180' },
    { id: 'a', bandwidth: 64_000, codecs: 'mp4a.40.2' },
  ],
} as const;

const SEGMENT_MS = STUB.partMs * STUB.partsPerSegment;

interface Held {
  res: ServerResponse;
  answer: () => void;
}

export interface StubServer {
  url: string;
  server: Server | Http2SecureServer;
  /** Epoch ms of part 0's start (media time 0). */
  epochMs: number;
  counts: Record<string, number>;
  /** The first CMCD data seen (query payloads decoded, or the CMCD-* headers joined), up to 200. */
  cmcd: string[];
  close(): Promise<void>;
}

const filler = new Map<number, Buffer>();
function body(bytes: number): Buffer {
  let b = filler.get(bytes);
  if (!b) {
    b = Buffer.alloc(bytes, 0x47);
    filler.set(bytes, b);
  }
  return b;
}

/** Media time 0 for a stub starting now: 10 segments ago, on a part boundary, so a full window exists at once. */
export function stubEpochMs(now = Date.now()): number {
  return Math.floor((now - 10 * SEGMENT_MS) / STUB.partMs) * STUB.partMs;
}

/**
 * Starts the stub on 127.0.0.1 (port 0 = any free port); with `tls`, HTTPS with HTTP/2 and
 * HTTP/1.1 (ALPN). Several stub processes serving one channel (bench/loadtest-stub-process.ts
 * --processes) share its `epochMs`.
 */
export async function startStubServer(
  port = 0,
  tls?: { cert: string; key: string },
  epochMs = stubEpochMs(),
): Promise<StubServer> {
  /** Global index of the last complete part (−1 before the first). */
  const producedParts = () => Math.floor((Date.now() - epochMs) / STUB.partMs) - 1;
  const held = new Map<number, Held[]>();
  let timer: NodeJS.Timeout | undefined;
  const counts: Record<string, number> = {
    playlist: 0,
    part: 0,
    segment: 0,
    init: 0,
    held: 0,
    other: 0,
    connections: 0,
    cmcdQuery: 0,
    cmcdHeaders: 0,
    h2: 0,
  };
  const cmcd: string[] = [];

  const armTimer = () => {
    if (timer || held.size === 0) return;
    const next = producedParts() + 1;
    const dueAt = epochMs + (next + 1) * STUB.partMs;
    timer = setTimeout(
      () => {
        timer = undefined;
        const done = producedParts();
        for (const [k, list] of held) {
          if (k > done) continue;
          held.delete(k);
          for (const h of list) if (!h.res.destroyed) h.answer();
        }
        armTimer();
      },
      Math.max(0, dueAt - Date.now()),
    );
  };
  const holdUntil = (globalPart: number, res: ServerResponse, answer: () => void) => {
    if (globalPart <= producedParts()) return answer();
    if (globalPart > producedParts() + 3 * STUB.partsPerSegment) {
      res.writeHead(400, { 'content-type': 'text/plain' }).end('too far in the future\n');
      return;
    }
    counts.held++;
    let list = held.get(globalPart);
    if (!list) held.set(globalPart, (list = []));
    list.push({ res, answer });
    armTimer();
  };

  // every viewer asks for the same few versions: build each once
  let cached: { done: number; text: string } | undefined;
  const playlist = (): string => {
    const done = producedParts();
    if (cached?.done === done) return cached.text;
    const lastFull = Math.floor((done + 1) / STUB.partsPerSegment) - 1; // last complete segment
    const first = Math.max(0, lastFull - STUB.windowSegments + 1);
    const partSec = (STUB.partMs / 1000).toFixed(3);
    const lines = [
      '#EXTM3U',
      '#EXT-X-VERSION:9',
      `#EXT-X-TARGETDURATION:${SEGMENT_MS / 1000}`,
      `#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=${STUB.partHoldBackSec.toFixed(3)},HOLD-BACK=${STUB.holdBackSec.toFixed(3)}`,
      `#EXT-X-PART-INF:PART-TARGET=${partSec}`,
      `#EXT-X-MEDIA-SEQUENCE:${first}`,
      `#EXT-X-MAP:URI="init.mp4"`,
    ];
    const partLines = (msn: number, upTo: number) => {
      for (let p = 0; p < upTo; p++) {
        lines.push(`#EXT-X-PART:DURATION=${partSec},URI="p${msn}.${p}.m4s"${p === 0 ? ',INDEPENDENT=YES' : ''}`);
      }
    };
    for (let msn = first; msn <= lastFull; msn++) {
      lines.push(`#EXT-X-PROGRAM-DATE-TIME:${new Date(epochMs + msn * SEGMENT_MS).toISOString()}`);
      // parts are listed for the last few segments only, as a packager does (RFC 8216bis 6.2.2)
      if (msn > lastFull - 3) partLines(msn, STUB.partsPerSegment);
      lines.push(`#EXTINF:${(SEGMENT_MS / 1000).toFixed(3)},`, `s${msn}.m4s`);
    }
    const cur = lastFull + 1;
    const partsInCur = done + 1 - cur * STUB.partsPerSegment;
    lines.push(`#EXT-X-PROGRAM-DATE-TIME:${new Date(epochMs + cur * SEGMENT_MS).toISOString()}`);
    partLines(cur, partsInCur);
    lines.push(`#EXT-X-PRELOAD-HINT:TYPE=PART,URI="p${cur}.${partsInCur}.m4s"`);
    cached = { done, text: lines.join('\n') + '\n' };
    return cached.text;
  };

  const multivariant = () => {
    const [v, a] = STUB.renditions;
    return [
      '#EXTM3U',
      '#EXT-X-VERSION:9',
      '#EXT-X-INDEPENDENT-SEGMENTS',
      `#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aud",NAME="en",DEFAULT=YES,AUTOSELECT=YES,URI="${a.id}/index.m3u8"`,
      `#EXT-X-STREAM-INF:BANDWIDTH=${v.bandwidth + a.bandwidth},CODECS="${v.codecs},${a.codecs}",RESOLUTION=${v.resolution},AUDIO="aud"`,
      `${v.id}/index.m3u8`,
    ].join('\n');
  };

  const sendText = (res: ServerResponse, text: string) => {
    res.writeHead(200, {
      'content-type': 'application/vnd.apple.mpegurl',
      'content-length': Buffer.byteLength(text),
      'cache-control': 'no-cache',
    });
    res.end(text);
  };
  const sendBytes = (res: ServerResponse, bytes: number) => {
    res.writeHead(200, { 'content-type': 'video/mp4', 'content-length': bytes });
    res.end(body(bytes));
  };

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    if (req.httpVersionMajor === 2) counts.h2++;
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    const cq = q === -1 ? null : new URLSearchParams(url.slice(q + 1)).get('CMCD');
    if (cq !== null) {
      counts.cmcdQuery++;
      if (cmcd.length < 200) cmcd.push(cq);
    } else if (req.headers['cmcd-session'] !== undefined) {
      counts.cmcdHeaders++;
      const h = ['cmcd-object', 'cmcd-request', 'cmcd-session', 'cmcd-status']
        .map((k) => req.headers[k])
        .filter(Boolean);
      if (cmcd.length < 200) cmcd.push(h.join(','));
    }
    if (path === '/live/master.m3u8') {
      counts.playlist++;
      return sendText(res, multivariant());
    }
    if (path === '/stats') return sendText(res, JSON.stringify({ ...counts, pid: process.pid }));
    const m = /^\/live\/([va])\/(index\.m3u8|init\.mp4|s(\d+)\.m4s|p(\d+)\.(\d+)\.m4s)$/.exec(path);
    const rendition = STUB.renditions.find((r) => r.id === m?.[1]);
    if (!m || !rendition) {
      counts.other++;
      res.writeHead(404).end();
      return;
    }
    const bytesPerPart = Math.round((rendition.bandwidth / 8) * (STUB.partMs / 1000));
    if (m[2] === 'index.m3u8') {
      counts.playlist++;
      const params = new URLSearchParams(q === -1 ? '' : url.slice(q + 1));
      const msn = params.get('_HLS_msn');
      if (msn === null) return sendText(res, playlist());
      const part = Number(params.get('_HLS_part') ?? STUB.partsPerSegment - 1);
      const global = Number(msn) * STUB.partsPerSegment + part;
      if (!Number.isInteger(global) || global < 0) {
        res.writeHead(400).end();
        return;
      }
      return holdUntil(global, res, () => sendText(res, playlist()));
    }
    if (m[2] === 'init.mp4') {
      counts.init++;
      return sendBytes(res, 800);
    }
    if (m[3] !== undefined) {
      counts.segment++;
      const msn = Number(m[3]);
      const lastPart = (msn + 1) * STUB.partsPerSegment - 1;
      if (lastPart > producedParts()) {
        res.writeHead(404).end();
        return;
      }
      return sendBytes(res, bytesPerPart * STUB.partsPerSegment);
    }
    counts.part++;
    const global = Number(m[4]) * STUB.partsPerSegment + Number(m[5]);
    if (Number(m[5]) >= STUB.partsPerSegment) {
      res.writeHead(404).end();
      return;
    }
    holdUntil(global, res, () => sendBytes(res, bytesPerPart));
  };

  const sessions = new Set<Http2Session>();
  let server: Server | Http2SecureServer;
  if (tls) {
    // the compatibility API gives the same req/res shapes the handler uses
    const secure = createSecureServer(
      { ...tls, allowHTTP1: true, settings: { maxConcurrentStreams: 1000 } },
      handle as never,
    );
    secure.on('session', (s: Http2Session) => {
      sessions.add(s);
      s.once('close', () => sessions.delete(s));
    });
    secure.on('secureConnection', () => counts.connections++);
    server = secure;
  } else {
    const plain = createServer({ keepAliveTimeout: 60_000 }, handle);
    plain.maxRequestsPerSocket = 0;
    plain.on('connection', () => counts.connections++);
    server = plain;
  }
  // a deep accept queue: a ramp opens thousands of connections at once (the default 511 drops SYNs, retried after 1 s)
  await new Promise<void>((resolve) => server.listen({ port, host: '127.0.0.1', backlog: 65_535 }, resolve));
  const { port: bound } = server.address() as AddressInfo;
  return {
    url: `${tls ? 'https' : 'http'}://127.0.0.1:${bound}/live/master.m3u8`,
    server,
    epochMs,
    counts,
    cmcd,
    close: async () => {
      clearTimeout(timer);
      held.clear();
      if ('closeAllConnections' in server) server.closeAllConnections();
      for (const s of sessions) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
