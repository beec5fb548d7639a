import { describe, expect, it } from 'vitest';
import { framingRefusal } from '../../../src/http/request-framing.js';

const h1 = (major: number, minor: number, rawHeaders: string[]) => ({
  httpVersionMajor: major,
  httpVersionMinor: minor,
  rawHeaders,
});

describe('framingRefusal', () => {
  it('accepts HTTP/1.0 and HTTP/1.1 with one Host, or none (node:http judges a missing one)', () => {
    expect(framingRefusal(h1(1, 1, ['Host', 'a', 'Accept', '*/*']))).toBeUndefined();
    expect(framingRefusal(h1(1, 0, []))).toBeUndefined();
  });

  it('refuses a second Host field whatever its case, with 400', () => {
    expect(framingRefusal(h1(1, 1, ['Host', 'a', 'X-Host', 'b', 'HOST', 'c']))?.status).toBe(400);
    expect(framingRefusal(h1(1, 1, ['host', 'a', 'hOsT', 'a']))?.reason).toMatch(/more than one Host/);
    expect(framingRefusal(h1(1, 1, ['Host', 'a', 'X-Host', 'b']))).toBeUndefined();
  });

  it('refuses a major version other than 1 in a text request line with 505', () => {
    expect(framingRefusal(h1(2, 0, ['Host', 'a']))).toMatchObject({ status: 505 });
    expect(framingRefusal(h1(0, 9, []))).toMatchObject({ status: 505 });
  });

  it('leaves HTTP/2 requests (node:http2 compatibility objects, which carry their stream) alone', () => {
    const h2 = { ...h1(2, 0, [':authority', 'a', 'host', 'a', 'host', 'b']), stream: {} };
    expect(framingRefusal(h2)).toBeUndefined();
  });
});
