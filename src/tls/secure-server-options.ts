/**
 * The TLS and HTTP/2 settings every streamedge HTTPS listener uses (origin and edge alike).
 *
 * TLS: TLS 1.2 minimum (1.3 preferred), Node's default cipher list (AEAD suites with forward
 * secrecy first), the server's cipher order. ALPN offers `h2` then `http/1.1` on the same port
 * (`allowHTTP1`), so HTTP/1.1-only clients keep working.
 *
 * HTTP/2 limits (RFC 9113 SETTINGS), chosen for LL-HLS: a player holds a blocking playlist reload
 * and a preload-hinted part per rendition, and a tier or a load tester multiplexes hundreds of
 * held requests on one connection, so:
 * - `maxConcurrentStreams` 1000 streams per connection (a held reload is one stream, not one
 *   connection). Node queues nothing beyond it: the client waits for a stream to close.
 * - `maxHeaderListSize` 32 KiB of decoded request headers (signed-URL tokens included); larger
 *   header lists are refused with a stream error, not buffered.
 * - `idleTimeoutMs` 120 s: a session with no frames in either direction for that long is closed
 *   (longer than the longest hold, 3 target durations, so held requests never time out here).
 * - `maxSessionMemory` 32 MiB per session for Node's outstanding frames and HPACK state.
 */
import type { SecureServerOptions } from 'node:http2';
import type { TlsMaterial } from './tls-material.js';

export interface Http2Limits {
  maxConcurrentStreams: number;
  maxHeaderListSize: number;
  idleTimeoutMs: number;
  maxSessionMemoryMiB: number;
}

export const HTTP2_LIMITS: Readonly<Http2Limits> = Object.freeze({
  maxConcurrentStreams: 1000,
  maxHeaderListSize: 32 * 1024,
  idleTimeoutMs: 120_000,
  maxSessionMemoryMiB: 32,
});

/** TLS settings without the certificate (also used to build a replacement SecureContext). */
export const TLS_PROTOCOL_OPTIONS = Object.freeze({
  minVersion: 'TLSv1.2' as const,
  honorCipherOrder: true,
});

/** Options for `http2.createSecureServer` (and fastify's `https`) with the given certificate. */
export function secureServerOptions(m: TlsMaterial, limits: Http2Limits = HTTP2_LIMITS): SecureServerOptions {
  return {
    ...TLS_PROTOCOL_OPTIONS,
    cert: m.cert,
    key: m.key,
    allowHTTP1: true,
    ALPNProtocols: ['h2', 'http/1.1'],
    maxSessionMemory: limits.maxSessionMemoryMiB,
    settings: {
      maxConcurrentStreams: limits.maxConcurrentStreams,
      maxHeaderListSize: limits.maxHeaderListSize,
    },
    maxHeaderListPairs: 256,
  };
}
