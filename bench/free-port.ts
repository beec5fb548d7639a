/**
 * A free TCP port on loopback, for benches and tests that must hand a port to a program they
 * start (nginx, Varnish, a child process) before it listens.
 */
import { createServer } from 'node:net';

export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}
