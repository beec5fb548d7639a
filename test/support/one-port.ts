/**
 * Servers on several loopback addresses (127.0.0.2, 127.0.0.3, …: all of 127/8 is loopback on
 * Linux) sharing one port, as CDNs reached by host name on one port are: what an HLS Pathway
 * Clone expects (it replaces the host name and keeps the port).
 */
import { createServer, type Server } from 'node:net';

/**
 * Starts one server per host on a shared port: the first on a free port, the others on that one.
 * When a later host has that port taken, every server started is closed and another port tried
 * (at most 20 times).
 */
export async function listenOnOnePort<S>(
  hosts: string[],
  listen: (host: string, port: number) => Promise<{ server: S; port: number }>,
  close: (server: S) => Promise<void>,
): Promise<{ port: number; servers: S[] }> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const first = await listen(hosts[0], 0);
    const servers = [first.server];
    try {
      for (const h of hosts.slice(1)) servers.push((await listen(h, first.port)).server);
      return { port: first.port, servers };
    } catch (e) {
      for (const s of servers) await close(s);
      if ((e as { code?: string }).code !== 'EADDRINUSE') throw e;
    }
  }
  throw new Error(`no port free on all of ${hosts.join(', ')} after 20 tries`);
}

/**
 * A port free on every one of `hosts` at this moment, for servers that must be configured with it
 * before they start (an origin naming its CDNs): placeholders hold it on each host, and are
 * closed before this returns, so the real servers can take it.
 */
export async function portFreeOn(hosts: string[]): Promise<number> {
  const held = await listenOnOnePort<Server>(
    hosts,
    (host, p) =>
      new Promise((resolve, reject) => {
        const s = createServer();
        s.once('error', reject);
        s.listen(p, host, () => resolve({ server: s, port: (s.address() as { port: number }).port }));
      }),
    (s) => new Promise((r) => s.close(() => r())),
  );
  for (const s of held.servers) await new Promise((r) => s.close(() => r(undefined)));
  return held.port;
}
