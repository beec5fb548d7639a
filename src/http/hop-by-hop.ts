/**
 * Header fields that belong to one connection, not to the message: the one list for origin and edge.
 */

/** Hop-by-hop fields (RFC 9110 §7.6.1): a proxy never forwards, stores or replays them. */
export const HOP_BY_HOP_FIELDS: readonly string[] = [
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'proxy-authenticate',
  'proxy-authorization',
];

/** Connection-specific fields HTTP/2 forbids in a response (RFC 9113 §8.2.2). */
export const CONNECTION_SPECIFIC_FIELDS: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
]);
