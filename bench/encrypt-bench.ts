/**
 * What Common Encryption costs (`package --encrypt`, the origin's `--live-encrypt`), against the
 * one peer on this machine that encrypts CMAF: ffmpeg's own mov muxer (`-encryption_scheme
 * cenc-aes-ctr`, C with the same AES-NI underneath). Three figures, each from runs in ABBA order:
 *
 *  1. ours: CPU per MB of media to protect every chunk of a packaged asset (TrackProtector: the
 *     slice-header parse, the subsample map, AES, senc/saiz/saio), less a plain copy of the same
 *     chunks, for 'cbcs' and 'cenc';
 *  2. ffmpeg: CPU per MB its muxer adds to a stream-copy remux of the top video rendition when it
 *     encrypts ('cenc', the only scheme ffmpeg 5.1 writes), the remux's own cost taken away;
 *     the ratio ours ÷ ffmpeg is on the same rendition's bytes;
 *  3. end to end: `packageVod` of a fixture clear and with --encrypt cbcs, CPU of the whole run
 *     (ffmpeg's encoding included, which is what a user pays).
 * Writes bench/results/encrypt.json.
 *
 *   node bin/run-ts.js bench/encrypt-bench.ts [--rounds 4] [--fixture demo] [--package-fixture sample]
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fixture, type FixtureName } from '../media-fixtures/generate.js';
import { readBoxes } from '../src/cmaf/box.js';
import type { ContentKey, ProtectionScheme } from '../src/cenc/content-keys.js';
import { TrackProtector } from '../src/cenc/track-protector.js';
import { ffmpegPath } from '../src/media/ffmpeg-binaries.js';
import { packageVod } from '../packager/vod-job.js';
import { finishMachineInfo, startMachineInfo } from './machine-info.js';
import { childrenCpuSec, median, selfCpuSec } from './process-cpu.js';
import { arg } from './bench-args.js';

const machineStart = startMachineInfo();
const here = dirname(fileURLToPath(import.meta.url));
const KEY: ContentKey = {
  kid: '0123456789abcdef0123456789abcdef',
  key: Buffer.from('00112233445566778899aabbccddeeff', 'hex'),
};

const rounds = Math.max(1, Number(arg('rounds', '4')));
const fixtureName = arg('fixture', 'demo') as FixtureName;
const packageFixture = arg('package-fixture', 'sample') as FixtureName;
/** ffmpeg's CPU is read in clock ticks (10 ms): each measure repeats its remux this many times. */
const FFMPEG_REPEATS = 10;
/** Our passes over the chunks repeat until this much CPU was spent, so a measure is well above noise. */
const MIN_PASS_CPU_SEC = 1;

const r3 = (x: number): number => Number(x.toFixed(3));

interface Rendition {
  id: string;
  init: Buffer;
  chunks: { moof: Buffer; mdat: Buffer }[];
  bytes: number;
  file: string;
}

function readRendition(versionDir: string, id: string): Rendition {
  const dir = join(versionDir, id);
  const init = readFileSync(join(dir, 'init.mp4'));
  const segs = readdirSync(dir)
    .filter((f) => /^seg-\d+\.m4s$/.test(f))
    .sort((a, b) => Number(/\d+/.exec(a)![0]) - Number(/\d+/.exec(b)![0]));
  const chunks: { moof: Buffer; mdat: Buffer }[] = [];
  const whole: Buffer[] = [init];
  for (const f of segs) {
    const bytes = readFileSync(join(dir, f));
    whole.push(bytes);
    const boxes = readBoxes(bytes);
    boxes.forEach((b, i) => {
      if (b.type !== 'moof') return;
      const m = boxes[i + 1];
      chunks.push({ moof: bytes.subarray(b.start, b.start + b.size), mdat: bytes.subarray(m.start, m.start + m.size) });
    });
  }
  const file = join(dir, 'all.mp4');
  writeFileSync(file, Buffer.concat(whole));
  return { id, init, chunks, bytes: chunks.reduce((n, c) => n + c.moof.length + c.mdat.length, 0), file };
}

/** CPU seconds per pass of `fn` over the renditions, repeated until MIN_PASS_CPU_SEC. */
function cpuPerPass(fn: () => unknown): number {
  const t0 = selfCpuSec();
  let passes = 0;
  do {
    fn();
    passes++;
  } while (selfCpuSec() - t0 < MIN_PASS_CPU_SEC);
  return (selfCpuSec() - t0) / passes;
}

/** The floor of any transform that hands new chunks on: copying them (what protectFragment also does). */
function copyPass(rs: Rendition[]): number {
  let n = 0;
  for (const r of rs) for (const c of r.chunks) n += Buffer.from(c.moof).length + Buffer.from(c.mdat).length;
  return n;
}

function protectPass(rs: Rendition[], scheme: ProtectionScheme): void {
  for (const r of rs) {
    const p = new TrackProtector(scheme, KEY, r.id);
    p.protectInit(r.init);
    for (const c of r.chunks) p.protectFragment(c.moof, c.mdat);
  }
}

/** CPU seconds of one ffmpeg stream-copy remux of `file` to fragmented MP4, encrypting with cenc or not. */
function ffmpegRemuxCpu(file: string, out: string, encrypt: boolean): number {
  const t0 = childrenCpuSec();
  for (let i = 0; i < FFMPEG_REPEATS; i++) {
    const enc = encrypt
      ? ['-encryption_scheme', 'cenc-aes-ctr', '-encryption_key', KEY.key.toString('hex'), '-encryption_kid', KEY.kid]
      : [];
    const args = ['-v', 'error', '-y', '-i', file, '-c', 'copy', ...enc];
    const r = spawnSync(ffmpegPath(), [
      ...args,
      '-movflags',
      '+frag_keyframe+empty_moov+default_base_moof',
      '-f',
      'mp4',
      out,
    ]);
    if (r.status !== 0) throw new Error(`ffmpeg remux failed: ${r.stderr.toString()}`);
  }
  return (childrenCpuSec() - t0) / FFMPEG_REPEATS;
}

const work = mkdtempSync(join(tmpdir(), 'streamedge-encrypt-bench-'));
try {
  process.stdout.write(`packaging ${fixtureName} in the clear (the chunks every measure reuses)…\n`);
  await packageVod({ input: await fixture(fixtureName), outDir: work, assetId: 'a' });
  const versionDir = join(work, 'a', 'v1');
  const ids = readdirSync(versionDir, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => d.name);
  const renditions = ids.map((id) => readRendition(versionDir, id));
  const totalMb = renditions.reduce((n, r) => n + r.bytes, 0) / 1e6;
  const top = renditions
    .filter((r) => /^\d+p$/.test(r.id))
    .sort((a, b) => Number.parseInt(b.id, 10) - Number.parseInt(a.id, 10))[0];
  const topMb = top.bytes / 1e6;

  const ours = {
    copy: [] as number[],
    cbcs: [] as number[],
    cenc: [] as number[],
    topCenc: [] as number[],
    topCopy: [] as number[],
  };
  const ffmpeg = { plain: [] as number[], cenc: [] as number[] };
  const out = join(work, 'remux.mp4');
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? ['ours', 'ffmpeg'] : ['ffmpeg', 'ours'];
    for (const who of order) {
      if (who === 'ours') {
        const copy = cpuPerPass(() => copyPass(renditions));
        const cbcs = cpuPerPass(() => protectPass(renditions, 'cbcs'));
        const cenc = cpuPerPass(() => protectPass(renditions, 'cenc'));
        const topCenc = cpuPerPass(() => protectPass([top], 'cenc'));
        const topCopy = cpuPerPass(() => copyPass([top]));
        ours.copy.push(copy);
        ours.cbcs.push(cbcs);
        ours.cenc.push(cenc);
        ours.topCenc.push(topCenc);
        ours.topCopy.push(topCopy);
      } else {
        // ABBA within the peer too
        const a = round % 2 === 0;
        const first = ffmpegRemuxCpu(top.file, out, !a);
        const second = ffmpegRemuxCpu(top.file, out, a);
        ffmpeg.plain.push(a ? first : second);
        ffmpeg.cenc.push(a ? second : first);
      }
    }
    process.stdout.write(`round ${round + 1}/${rounds} done\n`);
  }
  const msPerMb = (sec: number, mb: number): number => (sec * 1000) / mb;
  const oursCbcs = msPerMb(median(ours.cbcs) - median(ours.copy), totalMb);
  const oursCenc = msPerMb(median(ours.cenc) - median(ours.copy), totalMb);
  const oursTopCenc = msPerMb(median(ours.topCenc) - median(ours.topCopy), topMb);
  const ffmpegCenc = msPerMb(median(ffmpeg.cenc) - median(ffmpeg.plain), topMb);

  // end to end: the whole packaging run, clear and encrypted (ABBA)
  const input = await fixture(packageFixture);
  const pkg = { clear: [] as number[], encrypted: [] as number[] };
  for (let round = 0; round < 2; round++) {
    const order = round === 0 ? [false, true] : [true, false];
    for (const encrypted of order) {
      const outDir = join(work, `pkg-${round}-${encrypted ? 'enc' : 'clear'}`);
      const t0 = selfCpuSec() + childrenCpuSec();
      await packageVod({
        input,
        outDir,
        assetId: 'p',
        ...(encrypted ? { protection: { scheme: 'cbcs' as const, key: KEY } } : {}),
      });
      (encrypted ? pkg.encrypted : pkg.clear).push(selfCpuSec() + childrenCpuSec() - t0);
      rmSync(outDir, { recursive: true, force: true });
    }
  }

  const result = {
    bench: 'encrypt',
    command: `node bin/run-ts.js bench/encrypt-bench.ts --rounds ${rounds} --fixture ${fixtureName} --package-fixture ${packageFixture}`,
    machine: finishMachineInfo(machineStart),
    ffmpeg: spawnSync(ffmpegPath(), ['-version']).stdout.toString().split('\n')[0],
    fixture: fixtureName,
    rounds,
    mediaMb: r3(totalMb),
    topRendition: { id: top.id, mb: r3(topMb), chunks: top.chunks.length },
    ours: {
      copyCpuMsPerMb: r3(msPerMb(median(ours.copy), totalMb)),
      cbcsCpuMsPerMb: r3(oursCbcs),
      cencCpuMsPerMb: r3(oursCenc),
      topRenditionCencCpuMsPerMb: r3(oursTopCenc),
      runsCpuSec: { copy: ours.copy.map(r3), cbcs: ours.cbcs.map(r3), cenc: ours.cenc.map(r3) },
    },
    ffmpegMuxer: {
      cencCpuMsPerMb: r3(ffmpegCenc),
      remuxCpuMsPerMb: r3(msPerMb(median(ffmpeg.plain), topMb)),
      runsCpuSec: { plain: ffmpeg.plain.map(r3), cenc: ffmpeg.cenc.map(r3) },
    },
    packageRun: {
      fixture: packageFixture,
      clearCpuSec: pkg.clear.map(r3),
      encryptedCpuSec: pkg.encrypted.map(r3),
    },
    ratios: {
      cencCpuVsFfmpegMuxer: r3(oursTopCenc / ffmpegCenc),
      cbcsCpuVsCenc: r3(oursCbcs / oursCenc),
      packageCpuEncryptedVsClear: r3(median(pkg.encrypted) / median(pkg.clear)),
    },
  };
  writeFileSync(join(here, 'results', 'encrypt.json'), JSON.stringify(result, null, 2) + '\n');
  process.stdout.write(
    `ours: cbcs ${oursCbcs.toFixed(2)} ms CPU/MB, cenc ${oursCenc.toFixed(2)} ms/MB; ffmpeg's muxer cenc ${ffmpegCenc.toFixed(2)} ms/MB ` +
      `(ours on the same rendition ${oursTopCenc.toFixed(2)}: ${result.ratios.cencCpuVsFfmpegMuxer}×); ` +
      `packaging with --encrypt cbcs: ${result.ratios.packageCpuEncryptedVsClear}× the CPU of clear\n`,
  );
} finally {
  rmSync(work, { recursive: true, force: true });
}
