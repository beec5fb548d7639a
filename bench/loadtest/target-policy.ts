/**
 * The load tester only points at loopback, unless the operator names the project's own test
 * hosts with --allow-host. It is a tool for our own delivery chain, not for other people's.
 */
import { isIP } from 'node:net';
import { StreamedgeError } from '../../src/errors.js';

export function isLoopbackHost(hostname: string): boolean {
  const h = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (isIP(h) === 6) return h === '::1' || h === '0:0:0:0:0:0:0:1' || /^::ffff:127\./.test(h);
  return false;
}

export function checkTarget(url: string, allowHosts: string[] = []): URL {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new StreamedgeError(
      'BAD_OPTION',
      `not a URL: "${url}" (use e.g. http://127.0.0.1:8080/live/news/master.m3u8)`,
    );
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    throw new StreamedgeError('BAD_OPTION', `loadtest needs an http(s) URL, got ${u.protocol}`);
  }
  const host = u.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (!isLoopbackHost(host) && !allowHosts.map((h) => h.toLowerCase()).includes(host)) {
    throw new StreamedgeError(
      'LOADTEST_TARGET_REFUSED',
      `refusing to load-test ${host}: only loopback targets are allowed (pass --allow-host ${host} if it is one of this project's own test hosts)`,
    );
  }
  return u;
}
