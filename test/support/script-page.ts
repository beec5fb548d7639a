/**
 * A bare page for driving third-party players in Chromium: on a free loopback port, `/` is an
 * empty page with a muted `<video id="v">` that loads the given player scripts (path → file of
 * the repo, e.g. '/dash.js' → dashjs's UMD build), each served as JavaScript.
 */
import { createServer } from 'node:http';
import { readFileSync } from 'node:fs';

export interface ScriptPage {
  url: string;
  close(): Promise<void>;
}

export async function startScriptPage(scripts: Record<string, string>): Promise<ScriptPage> {
  const tags = Object.keys(scripts)
    .map((path) => `<script src="${path}"></script>`)
    .join('');
  const server = createServer((req, res) => {
    const file = scripts[req.url ?? ''];
    if (file) {
      res.writeHead(200, { 'content-type': 'text/javascript' }).end(readFileSync(file));
      return;
    }
    res.writeHead(200, { 'content-type': 'text/html' }).end(`<!doctype html><video id="v" muted></video>${tags}`);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const address = server.address();
  return {
    url: `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/`,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
