/**
 * nginx with proxy_cache, the comparison edge of the benchmarks: found on the machine or
 * installed from Debian, configured in a temporary folder, run on loopback, stopped by the caller.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import { freePort } from './free-port.js';

const FIND = 'command -v nginx || ls /usr/sbin/nginx';

export function nginxBinary(): string {
  const find = () => execFileSync('sh', ['-c', FIND], { encoding: 'utf8' }).trim().split('\n')[0];
  try {
    return find();
  } catch {
    process.stderr.write('nginx not found: apt-get install -y nginx\n');
    execFileSync('apt-get', ['install', '-y', 'nginx'], { stdio: 'inherit' });
    return find();
  }
}

/** The main context and the start of the http block (temp paths inside `dir`); the caller closes `http {`. */
export function nginxConfigHead(
  dir: string,
  opts: { workerConnections: number; rlimitNofile?: number; workerProcesses?: number },
): string {
  return `
worker_processes ${opts.workerProcesses ?? 1};
daemon off;
master_process on;
pid ${dir}/nginx.pid;
error_log ${dir}/logs/error.log warn;
${process.getuid?.() === 0 ? 'user root;' : ''}
${opts.rlimitNofile ? `worker_rlimit_nofile ${opts.rlimitNofile};` : ''}
events { worker_connections ${opts.workerConnections}; }
http {
  access_log off;
  client_body_temp_path ${dir}/tmp/body;
  proxy_temp_path ${dir}/tmp/proxy;
  fastcgi_temp_path ${dir}/tmp/fastcgi;
  uwsgi_temp_path ${dir}/tmp/uwsgi;
  scgi_temp_path ${dir}/tmp/scgi;
`;
}

/** Starts nginx with `config(port)` and waits until `readyPath` answers through it. */
export async function startNginx(
  bin: string,
  dir: string,
  config: (port: number) => string,
  readyPath: string,
): Promise<{ proc: ChildProcess; url: string; version: string }> {
  for (const d of ['cache', 'tmp', 'logs']) mkdirSync(join(dir, d), { recursive: true });
  const port = await freePort();
  writeFileSync(join(dir, 'nginx.conf'), config(port));
  const proc = spawn(bin, ['-p', dir, '-c', join(dir, 'nginx.conf')], { stdio: ['ignore', 'ignore', 'pipe'] });
  proc.stderr.on('data', (d: Buffer) => process.stderr.write(`nginx: ${d.toString()}`));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 20_000;
  for (;;) {
    try {
      const r = await request(`${url}${readyPath}`);
      await r.body.text();
      break;
    } catch {
      if (Date.now() > deadline || proc.exitCode !== null) throw new Error('nginx did not come up');
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  const version = execFileSync('sh', ['-c', `${bin} -v 2>&1`], { encoding: 'utf8' }).trim();
  return { proc, url, version };
}

/**
 * nginx proxy_cache in front of a live HLS origin (bench/loadtest-bench.ts's same-run baseline):
 * worker_processes = `workers`, sendfile, proxy_cache_lock (one fill per key, as the edge
 * coalesces). Media playlists are cached 1 s (`proxy_cache_valid 200 1s`, the origin's
 * `s-maxage=1`, set explicitly rather than left to how this nginx reads s-maxage); everything else
 * as its Cache-Control says (segments: a year, immutable).
 */
export function startNginxHlsCache(
  dir: string,
  originUrl: string,
  workers: number,
  readyPath: string,
): Promise<{ proc: ChildProcess; url: string; version: string }> {
  const origin = new URL(originUrl);
  const location = (extra: string) => `
      proxy_pass http://origin;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_cache hls;
      proxy_cache_lock on;
      proxy_cache_lock_timeout 30s;
      proxy_cache_lock_age 30s;${extra}
      add_header X-Cache $upstream_cache_status;`;
  const config = (
    port: number,
  ) => `${nginxConfigHead(dir, { workerConnections: 16384, rlimitNofile: 65536, workerProcesses: workers })}  sendfile on;
  tcp_nopush on;
  keepalive_requests 100000000;
  proxy_cache_path ${dir}/cache levels=1:2 keys_zone=hls:16m max_size=2g inactive=60m use_temp_path=off;
  upstream origin { server ${origin.host}; keepalive 64; }
  server {
    listen 127.0.0.1:${port} backlog=4096;
    location ~ \\.m3u8$ {${location(`
      proxy_ignore_headers Cache-Control Expires;
      proxy_cache_valid 200 1s;`)}
    }
    location / {${location('')}
    }
  }
}
`;
  return startNginx(nginxBinary(), dir, config, readyPath);
}
