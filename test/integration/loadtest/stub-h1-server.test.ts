/**
 * The instant stub's lean HTTP/1.1 front end (bench/loadtest/stub-h1-server.ts) over real loopback
 * sockets: prepared answers with Date and Content-Length, keep-alive, pipelined requests answered
 * in order even when the first is held (blocking reload), `Connection: close` honoured, and
 * requests it cannot serve refused with a status and a closed connection, never a crash.
 */
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STUB, startStubServer, type StubServer } from '../../../bench/loadtest/stub-live-server.js';

let stub: StubServer;
let port: number;
beforeAll(async () => {
  stub = await startStubServer();
  port = Number(new URL(stub.url).port);
});
afterAll(() => stub.close());

/** Sends `raw` on a new connection; resolves with everything read once `done(text)` holds or the server closes. */
function exchange(
  raw: string,
  done: (text: string) => boolean = () => false,
): Promise<{ text: string; closed: boolean }> {
  return new Promise((resolve, reject) => {
    const s: Socket = connect(port, '127.0.0.1', () => s.write(raw));
    let text = '';
    s.setTimeout(10_000, () => s.destroy(new Error('timeout')));
    s.on('data', (d: Buffer) => {
      text += d.toString('latin1');
      if (done(text)) {
        s.destroy();
        resolve({ text, closed: false });
      }
    });
    s.on('error', reject);
    s.on('close', () => resolve({ text, closed: true }));
  });
}

const responses = (text: string) => text.split(/(?=HTTP\/1\.1 \d{3} )/).filter((r) => r.length > 0);
const bytesPerPart = (i: number) => Math.round((STUB.renditions[i].bandwidth / 8) * (STUB.partMs / 1000));

describe('stub HTTP/1.1 front end', () => {
  it('answers a GET with Date, Content-Length and the body, and keeps the connection', async () => {
    const { text, closed } = await exchange('GET /live/a/init.mp4 HTTP/1.1\r\nhost: x\r\n\r\n', (t) =>
      t.endsWith('G'.repeat(10)),
    );
    expect(closed).toBe(false);
    const [head, body] = text.split('\r\n\r\n');
    expect(head).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(head).toMatch(/\r\ndate: \w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} GMT/);
    expect(head).toContain('\r\ncontent-length: 800');
    expect(body.length).toBe(800);
  });

  it('answers pipelined requests in order, the ones behind a held blocking reload after it', async () => {
    const now = await (await fetch(stub.url.replace('master.m3u8', 'v/index.m3u8'))).text();
    const hint = /PRELOAD-HINT:TYPE=PART,URI="p(\d+)\.(\d+)\.m4s"/.exec(now)!;
    const held = `GET /live/v/index.m3u8?_HLS_msn=${hint[1]}&_HLS_part=${hint[2]} HTTP/1.1\r\nhost: x\r\n\r\n`;
    const part = `GET /live/a/p${hint[1]}.${hint[2]}.m4s HTTP/1.1\r\nhost: x\r\n\r\n`;
    const master = 'GET /live/master.m3u8 HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n';
    const { text, closed } = await exchange(held + part + master);
    expect(closed).toBe(true); // the last request asked for it
    const [r1, r2, r3] = responses(text);
    expect(r1).toContain(`p${hint[1]}.${hint[2]}.m4s`); // the playlist listing the part it waited for
    expect(r1).not.toContain(`PRELOAD-HINT:TYPE=PART,URI="p${hint[1]}.${hint[2]}.m4s"`);
    expect(r2).toContain(`content-length: ${bytesPerPart(1)}\r\n`);
    expect(r3).toContain('#EXT-X-STREAM-INF');
  });

  it('refuses what it cannot serve with a status and closes, and keeps serving others', async () => {
    const post = await exchange('POST /live/master.m3u8 HTTP/1.1\r\ncontent-length: 3\r\n\r\nabc');
    expect(post.text).toMatch(/^HTTP\/1\.1 405 /);
    expect(post.closed).toBe(true);
    const junk = await exchange('nonsense\r\n\r\n');
    expect(junk.text).toMatch(/^HTTP\/1\.1 400 /);
    const huge = await exchange(`GET / HTTP/1.1\r\nx: ${'a'.repeat(20_000)}`);
    expect(huge.text).toMatch(/^HTTP\/1\.1 431 /);
    const missing = await exchange('GET /live/x/index.m3u8 HTTP/1.0\r\n\r\n');
    expect(missing.text).toMatch(/^HTTP\/1\.1 404 /);
    expect(missing.closed).toBe(true); // HTTP/1.0: no keep-alive
    const far = await exchange('GET /live/v/index.m3u8?_HLS_msn=999999999 HTTP/1.1\r\nconnection: close\r\n\r\n');
    expect(far.text).toMatch(/^HTTP\/1\.1 400 /);
    const ok = await fetch(stub.url);
    expect(ok.status).toBe(200);
  });
});
