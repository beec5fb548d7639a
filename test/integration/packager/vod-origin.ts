/**
 * A real origin serving a packager output folder on loopback, for the packager suites that read
 * their playlists and manifests back over HTTP.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { Client } from 'undici';
import { createOrigin } from '../../../packager/origin/server.js';

export interface VodOrigin {
  /** The origin's base URL (http://127.0.0.1:port). */
  url: string;
  get(path: string): Promise<{ status: number; headers: IncomingHttpHeaders; text: string }>;
  close(): Promise<void>;
}

export async function serveVod(root: string): Promise<VodOrigin> {
  const origin = await createOrigin({ root, logger: false, processMetrics: false });
  const url = await origin.listen(0, '127.0.0.1');
  const client = new Client(url);
  return {
    url,
    async get(path) {
      const res = await client.request({ path, method: 'GET' });
      return { status: res.statusCode, headers: res.headers, text: await res.body.text() };
    },
    async close() {
      await client.close();
      await origin.close();
    },
  };
}
