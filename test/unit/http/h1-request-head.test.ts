/**
 * The front's strict request-head parser (src/http/h1-request-head.ts): the heads it accepts and
 * what it reads from them, and every shape outside its subset refused (handed to node:http).
 */
import { describe, expect, it } from 'vitest';
import {
  MAX_HEAD_BYTES,
  MAX_HEAD_FIELDS,
  parseRequestHead,
  type RequestHead,
} from '../../../src/http/h1-request-head.js';

const b = (s: string): Buffer => Buffer.from(s, 'latin1');

function accepted(s: string, start = 0): RequestHead {
  const r = parseRequestHead(b(s), start);
  if (typeof r === 'string') throw new Error(`expected a head, got ${r}`);
  return r;
}

describe('parseRequestHead: accepted heads', () => {
  it('reads method, target, fields (names lowercased, values trimmed) and the head length', () => {
    const text =
      'GET /vod/a/seg1.m4s?x=1 HTTP/1.1\r\nHost: edge\r\nAccept-Encoding:  gzip, br \t\r\nX-Request-ID: abc\r\n\r\n';
    const h = accepted(text + 'GET /next HTTP/1.1\r\n');
    expect(h.method).toBe('GET');
    expect(h.url).toBe('/vod/a/seg1.m4s?x=1');
    expect(h.headers).toEqual({ host: 'edge', 'accept-encoding': 'gzip, br', 'x-request-id': 'abc' });
    expect(h.rawHeaders).toEqual(['Host', 'edge', 'Accept-Encoding', 'gzip, br', 'X-Request-ID', 'abc']);
    expect(h.close).toBe(false);
    expect(h.length).toBe(text.length);
  });

  it('parses from an offset (pipelined requests)', () => {
    const first = 'GET /a HTTP/1.1\r\nHost: x\r\n\r\n';
    const h = accepted(first + 'HEAD /b HTTP/1.1\r\nHost: x\r\n\r\n', first.length);
    expect(h.method).toBe('HEAD');
    expect(h.url).toBe('/b');
  });

  it('reports Connection: close (in a list, any case); keep-alive is not close', () => {
    expect(accepted('GET / HTTP/1.1\r\nHost: x\r\nConnection: foo, Close\r\n\r\n').close).toBe(true);
    expect(accepted('GET / HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n').close).toBe(false);
  });

  it('accepts Content-Length: 0 and gives set-cookie as an array (node:http shape)', () => {
    const h = accepted('GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nSet-Cookie: a=1\r\n\r\n');
    expect(h.headers['content-length']).toBe('0');
    expect(h.headers['set-cookie']).toEqual(['a=1']);
  });

  it('an unfinished head is incomplete (a trailing CR may wait for its LF)', () => {
    expect(parseRequestHead(b(''))).toBe('incomplete');
    expect(parseRequestHead(b('GET /a HT'))).toBe('incomplete');
    expect(parseRequestHead(b('GET /a HTTP/1.1\r\nHost: x\r'))).toBe('incomplete');
    expect(parseRequestHead(b('GET /a HTTP/1.1\r\nHost: x\r\n\r'))).toBe('incomplete');
  });
});

describe('parseRequestHead: refused shapes', () => {
  const host = 'Host: x\r\n';
  const shapes: Array<[string, string]> = [
    ['POST', `POST / HTTP/1.1\r\n${host}Content-Length: 3\r\n\r\nabc`],
    ['PURGE', `PURGE /a HTTP/1.1\r\n${host}\r\n`],
    ['lowercase method', `get / HTTP/1.1\r\n${host}\r\n`],
    ['HTTP/1.0', `GET / HTTP/1.0\r\n${host}\r\n`],
    ['HTTP/2.0 line', `GET / HTTP/2.0\r\n${host}\r\n`],
    ['absolute-form target', `GET http://x/ HTTP/1.1\r\n${host}\r\n`],
    ['asterisk target', `GET * HTTP/1.1\r\n${host}\r\n`],
    ['two spaces in the request line', `GET  / HTTP/1.1\r\n${host}\r\n`],
    ['bare LF line end', `GET / HTTP/1.1\n${host}\r\n`],
    ['bare LF in a field line', `GET / HTTP/1.1\r\nHost: x\nX: y\r\n\r\n`],
    ['bare CR', `GET / HTTP/1.1\r\nHost: x\rX: y\r\n\r\n`],
    ['obs-fold', `GET / HTTP/1.1\r\n${host}X-A: a\r\n b\r\n\r\n`],
    ['space before colon', `GET / HTTP/1.1\r\nHost : x\r\n\r\n`],
    ['empty field name', `GET / HTTP/1.1\r\n${host}: v\r\n\r\n`],
    ['Content-Length other than 0', `GET / HTTP/1.1\r\n${host}Content-Length: 5\r\n\r\nhello`],
    ['Transfer-Encoding', `GET / HTTP/1.1\r\n${host}Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n`],
    ['CL + TE', `GET / HTTP/1.1\r\n${host}Content-Length: 0\r\nTransfer-Encoding: chunked\r\n\r\n`],
    ['duplicate Content-Length', `GET / HTTP/1.1\r\n${host}Content-Length: 0\r\nContent-Length: 0\r\n\r\n`],
    ['duplicate Host', `GET / HTTP/1.1\r\n${host}${host}\r\n`],
    ['no Host', `GET / HTTP/1.1\r\nX: y\r\n\r\n`],
    ['Upgrade', `GET / HTTP/1.1\r\n${host}Upgrade: websocket\r\n\r\n`],
    ['Connection: upgrade', `GET / HTTP/1.1\r\n${host}Connection: Upgrade\r\n\r\n`],
    ['Expect', `GET / HTTP/1.1\r\n${host}Expect: 100-continue\r\n\r\n`],
    ['obs-text in a value', `GET / HTTP/1.1\r\n${host}X: caf\xe9\r\n\r\n`],
    ['control character in a value', `GET / HTTP/1.1\r\n${host}X: a\x01b\r\n\r\n`],
    ['non-ASCII target', `GET /caf\xe9 HTTP/1.1\r\n${host}\r\n`],
    ['leading empty line', `\r\nGET / HTTP/1.1\r\n${host}\r\n`],
  ];
  for (const [name, text] of shapes) {
    it(name, () => expect(parseRequestHead(b(text))).toBe('refused'));
  }

  it('a head over MAX_HEAD_BYTES, complete or not', () => {
    const big = `GET / HTTP/1.1\r\n${host}X: ${'a'.repeat(MAX_HEAD_BYTES)}\r\n`;
    expect(parseRequestHead(b(big))).toBe('refused');
    expect(parseRequestHead(b(big + '\r\n'))).toBe('refused');
    // just under the limit is fine
    const fits = `GET / HTTP/1.1\r\n${host}X: ${'a'.repeat(MAX_HEAD_BYTES - 40)}\r\n\r\n`;
    expect(typeof parseRequestHead(b(fits))).toBe('object');
  });

  it('more than MAX_HEAD_FIELDS fields', () => {
    const fields = Array.from({ length: MAX_HEAD_FIELDS }, (_, i) => `X-${i}: v\r\n`).join('');
    expect(parseRequestHead(b(`GET / HTTP/1.1\r\n${host}${fields}\r\n`))).toBe('refused');
    expect(typeof parseRequestHead(b(`GET / HTTP/1.1\r\n${host}${fields.slice(fields.indexOf('\n') + 1)}\r\n`))).toBe(
      'object',
    );
  });

  it('an unfinished head already outside the subset is refused at once (not left waiting)', () => {
    expect(parseRequestHead(b('GET / HTTP/1.1\nHost: x\n\n'))).toBe('refused');
    expect(parseRequestHead(b('POST / HTTP/1.1\r\nHost'))).toBe('refused');
    expect(parseRequestHead(b('GET / HTTP/1.0\r\n'))).toBe('refused');
    expect(parseRequestHead(b(`GET / HTTP/1.1\r\nX: ${'a'.repeat(MAX_HEAD_BYTES)}`))).toBe('refused');
  });
});
