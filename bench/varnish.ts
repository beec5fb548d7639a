/**
 * Varnish (Debian's `varnish`), a comparison cache of the edge benchmarks: found on the machine or
 * installed with apt, run as a foreground child on a loopback port with a small VCL (the origin as
 * its one backend, streaming to waiters on) and `-s malloc`, stopped by the caller.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import { freePort } from './free-port.js';

const FIND = 'command -v varnishd || ls /usr/sbin/varnishd';

function varnishBinary(): string {
  const find = () => execFileSync('sh', ['-c', FIND], { encoding: 'utf8' }).trim().split('\n')[0];
  try {
    return find();
  } catch {
    process.stderr.write('varnishd not found: apt-get install -y varnish\n');
    execFileSync('apt-get', ['install', '-y', 'varnish'], { stdio: 'inherit' });
    return find();
  }
}

/** Starts varnishd in front of `originUrl` and waits until `readyPath` answers through it. */
export async function startVarnish(
  dir: string,
  originUrl: string,
  readyPath: string,
  mallocBytes = '512m',
): Promise<{ proc: ChildProcess; url: string; version: string }> {
  const bin = varnishBinary();
  mkdirSync(dir, { recursive: true });
  const origin = new URL(originUrl);
  const vcl = join(dir, 'bench.vcl');
  writeFileSync(
    vcl,
    `vcl 4.1;
backend origin { .host = "${origin.hostname}"; .port = "${origin.port}"; }
sub vcl_backend_response { set beresp.do_stream = true; }
`,
  );
  const port = await freePort();
  const proc = spawn(
    bin,
    ['-F', '-j', 'none', '-n', join(dir, 'work'), '-a', `127.0.0.1:${port}`, '-f', vcl, '-s', `malloc,${mallocBytes}`],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  proc.stderr.on('data', (d: Buffer) => process.stderr.write(`varnish: ${d.toString()}`));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      const r = await request(`${url}${readyPath}`);
      await r.body.text();
      if (r.statusCode === 200) break;
    } catch {
      /* not up yet */
    }
    if (Date.now() > deadline || proc.exitCode !== null) throw new Error('varnishd did not come up');
    await new Promise((r) => setTimeout(r, 100));
  }
  const version = execFileSync(bin, ['-V'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
    .split('\n')[0]
    .trim();
  return { proc, url, version };
}
