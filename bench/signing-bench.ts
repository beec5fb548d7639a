/**
 * Signed-URL verification cost per request, against a baseline of parsing the URL alone,
 * all measured in the same run. Writes bench/results/signing.json.
 *
 *   node bin/run-ts.js bench/signing-bench.ts [--out bench/results/signing.json] [--round-ms 150] [--rounds 7]
 *
 * Cases (each one full request's worth of work, awaited sequentially, one core):
 * - baseline_parse_url: `new URL(rawUrl, base)`, what any HTTP server does with a request anyway
 * - extract_token: finding and stripping the token (string work only)
 * - authorize_<alg>_uncached: authorizeRequest with the signature cache off (every request checks the signature)
 * - authorize_<alg>_cached: authorizeRequest in steady state (one viewer, one token, many segments)
 * - rewrite_llhls_playlist: addTokenToPlaylist on a ~30-line LL-HLS playlist (query placement)
 * Reported: median µs per operation over the rounds, and the ratio to the baseline.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { exportJWK, generateKeyPair } from 'jose';
import {
  hmacKeys,
  signingKeyFromJwk,
  verificationKeyFromJwk,
  type SigningKey,
  type VerificationKey,
} from '../src/signing/keys.js';
import { issueToken, signedUrl } from '../src/signing/issue.js';
import { extractToken } from '../src/signing/token-placement.js';
import { authorizeRequest, createVerifier } from '../src/signing/verify.js';
import { addTokenToPlaylist } from '../src/signing/playlist-rewrite.js';
import { finishMachineInfo, startMachineInfo } from './machine-info.js';

const machineStart = startMachineInfo();

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : dflt;
}
const OUT = resolve(arg('out', 'bench/results/signing.json'));
const ROUND_MS = Number(arg('round-ms', '150'));
const ROUNDS = Number(arg('rounds', '7'));

type Op = () => unknown; // sync, or a Promise that runFor awaits

async function runFor(op: Op, n: number): Promise<number> {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) await op();
  return Number(process.hrtime.bigint() - t0) / 1e3; // µs
}

async function measure(
  name: string,
  op: Op,
): Promise<{ name: string; medianUs: number; minUs: number; maxUs: number; opsPerRound: number }> {
  // calibrate: how many ops fit in one round
  let n = 16;
  for (;;) {
    const us = await runFor(op, n);
    if (us > ROUND_MS * 1000 * 0.25 || n >= 1 << 22) {
      n = Math.max(16, Math.round((n * ROUND_MS * 1000) / us));
      break;
    }
    n *= 4;
  }
  const perOp: number[] = [];
  for (let r = 0; r < ROUNDS; r++) perOp.push((await runFor(op, n)) / n);
  perOp.sort((a, b) => a - b);
  const res = {
    name,
    medianUs: perOp[Math.floor(perOp.length / 2)],
    minUs: perOp[0],
    maxUs: perOp.at(-1)!,
    opsPerRound: n,
  };
  process.stderr.write(`${name.padEnd(28)} ${res.medianUs.toFixed(3).padStart(10)} µs/op\n`);
  return res;
}

async function asymmetric(alg: 'ES256' | 'EdDSA'): Promise<{ signing: SigningKey; verification: VerificationKey }> {
  const { publicKey, privateKey } = await generateKeyPair(
    alg,
    alg === 'EdDSA' ? { crv: 'Ed25519', extractable: true } : { extractable: true },
  );
  return {
    signing: await signingKeyFromJwk({ ...(await exportJWK(privateKey)), kid: `${alg}-bench` }),
    verification: await verificationKeyFromJwk({ ...(await exportJWK(publicKey)), kid: `${alg}-bench` }),
  };
}

const PATH = '/live/ch1/720p/seg-1234.5.m4s';
const BASE = 'http://127.0.0.1:8080';
const CLIENT = '127.0.0.1';

const hs = await hmacKeys(Buffer.alloc(48, 7), 'hs-bench');
const keys = { HS256: hs, ES256: await asymmetric('ES256'), EdDSA: await asymmetric('EdDSA') };

const results = [];
const plainUrl = `/t/${'x'.repeat(200)}${PATH}`; // same length class as a signed request
results.push(await measure('baseline_parse_url', () => new URL(plainUrl, BASE)));

const anyToken = await issueToken({ scope: '/live/ch1/', ttlSec: 3600, key: hs.signing });
const anyUrl = signedUrl('', PATH, anyToken, 'path');
results.push(await measure('extract_token', () => extractToken(anyUrl)));

const tokenLengths: Record<string, number> = {};
for (const alg of ['HS256', 'ES256', 'EdDSA'] as const) {
  const { signing, verification } = keys[alg];
  const token = await issueToken({ scope: '/live/ch1/', ttlSec: 3600, viewerId: 'viewer-123', key: signing });
  tokenLengths[alg] = token.length;
  const url = signedUrl('', PATH, token, 'path');
  const uncached = createVerifier({ keys: [verification], cacheSize: 0 });
  const cached = createVerifier({ keys: [verification] });
  const check = (await authorizeRequest(uncached, url, CLIENT)).ok && (await authorizeRequest(cached, url, CLIENT)).ok;
  if (!check) throw new Error(`bench setup: ${alg} token does not verify`);
  results.push(await measure(`authorize_${alg}_uncached`, () => authorizeRequest(uncached, url, CLIENT)));
  results.push(await measure(`authorize_${alg}_cached`, () => authorizeRequest(cached, url, CLIENT)));
}

const lines = [
  '#EXTM3U',
  '#EXT-X-VERSION:9',
  '#EXT-X-TARGETDURATION:4',
  '#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=1.5',
  '#EXT-X-PART-INF:PART-TARGET=0.5',
  '#EXT-X-MEDIA-SEQUENCE:100',
  '#EXT-X-MAP:URI="init.mp4"',
];
for (let s = 100; s < 103; s++) {
  for (let p = 0; p < 8; p++)
    lines.push(`#EXT-X-PART:DURATION=0.5,URI="seg-${s}.${p}.m4s"${p % 4 === 0 ? ',INDEPENDENT=YES' : ''}`);
  lines.push('#EXTINF:4.0,', `seg-${s}.m4s`);
}
lines.push(
  '#EXT-X-PRELOAD-HINT:TYPE=PART,URI="seg-103.0.m4s"',
  '#EXT-X-RENDITION-REPORT:URI="../360p/index.m3u8",LAST-MSN=102,LAST-PART=7',
  '',
);
const playlist = lines.join('\n');
results.push(await measure('rewrite_llhls_playlist', () => addTokenToPlaylist(playlist, anyToken)));

const baseline = results[0].medianUs;
const out = {
  bench: 'signing',
  date: new Date().toISOString(),
  machine: finishMachineInfo(machineStart),
  method: `median of ${ROUNDS} rounds of ~${ROUND_MS} ms each, sequential awaits on one core; the machine is shared, compare ratios within one run`,
  unit: 'microseconds per request',
  baseline: 'baseline_parse_url',
  tokenLengthChars: tokenLengths,
  playlistBytes: playlist.length,
  results: results.map((r) => ({ ...r, ratioToBaseline: Number((r.medianUs / baseline).toFixed(2)) })),
};
mkdirSync(dirname(OUT), { recursive: true });
writeFileSync(OUT, `${JSON.stringify(out, null, 2)}\n`);
process.stderr.write(`wrote ${OUT}\n`);
