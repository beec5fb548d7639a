/**
 * The real CLI (`node bin/streamedge.js package ...`) failing as a user would see it: broken
 * inputs and bad options fail with one clear stderr line and leave nothing behind; an encoder
 * crash keeps its log, names it, and publishes nothing.
 */
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fixture, type FixtureName } from '../../../media-fixtures/generate.js';
import { ffmpegPath } from '../../../src/media/ffmpeg-binaries.js';
import { listing, oneLine, runCli } from './cli-run.js';

const root = mkdtempSync(join(tmpdir(), 'se-pkg-cli-err-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe.concurrent('streamedge package (CLI): failures', () => {
  const broken: [string, FixtureName | null, RegExp][] = [
    ['a missing file', null, /source not found: .*no-such-file\.mp4/],
    ['a zero-byte file', 'zero', /is empty \(0 bytes\)/],
    ['a text file named .mp4', 'text', /is not a media file ffprobe can read/],
    ['a truncated MP4 (moov cut off)', 'truncated', /is a truncated MP4/],
    ['an audio-only file', 'audioOnly', /has no video stream \(audio only\)/],
  ];
  for (const [what, name, message] of broken) {
    it(`refuses ${what} with one clear line and leaves no output`, async () => {
      const input = name ? await fixture(name) : join(root, 'no-such-file.mp4');
      const out = join(root, `broken-${name ?? 'missing'}`);
      const r = await runCli(['package', input, '--out', out, '--id', 'x']);
      expect(r.code).toBe(1);
      expect(oneLine(r.stderr)).toMatch(new RegExp(`^streamedge: .*${message.source}`));
      expect(listing(out)).toEqual([]);
    });
  }

  it('rejects a bad ladder and a bad segment duration before doing any work', async () => {
    const input = await fixture('small');
    const out = join(root, 'bad-options');
    const a = await runCli(['package', input, '--out', out, '--id', 'x', '--ladder', 'nope']);
    expect(a.code).toBe(1);
    expect(oneLine(a.stderr)).toMatch(/--ladder nope: neither a preset \(default, small\) nor a readable JSON file/);
    const b = await runCli(['package', input, '--out', out, '--id', 'x', '--segment', '2', '--part', '3']);
    expect(b.code).toBe(1);
    expect(oneLine(b.stderr)).toMatch(/--part 3: use a part duration between/);
    expect(listing(out)).toEqual([]);
  });

  it('names the option a bad duration came from, the file name an invalid asset id came from, and a file in the way', async () => {
    const input = await fixture('small');
    const out = join(root, 'named-errors');
    const seg = await runCli(['package', input, '--out', out, '--id', 'x', '--segment', 'abc']);
    expect(seg.code).toBe(1);
    expect(oneLine(seg.stderr)).toMatch(/--segment not a duration: "abc"/);
    // no --id: the id comes from the file name, which has spaces and brackets
    const odd = join(root, 'My Movie (2024).mp4');
    writeFileSync(odd, readFileSync(input));
    const id = await runCli(['package', odd, '--out', out]);
    expect(id.code).toBe(1);
    expect(oneLine(id.stderr)).toMatch(
      /the asset id taken from the file name, "My Movie \(2024\)", is not valid .*--id My-Movie-2024$/,
    );
    expect(listing(out)).toEqual([]);
    // a file where the asset folder would go, with --force
    writeFileSync(join(root, 'blocked-out-file'), '');
    const f = await runCli(['package', input, '--out', root, '--id', 'blocked-out-file', '--force']);
    expect(f.code).toBe(1);
    expect(oneLine(f.stderr)).toMatch(/blocked-out-file is a file, not a published asset/);
  });

  it('a source whose media data is cut off mid-file (index intact): SOURCE_TRUNCATED, nothing left', async () => {
    const whole = readFileSync(await fixture('small')); // +faststart: the moov comes first
    const cut = join(root, 'cut-in-half.mp4');
    writeFileSync(cut, whole.subarray(0, Math.floor(whole.length * 0.45)));
    const out = join(root, 'cut');
    const r = await runCli(['package', cut, '--out', out, '--id', 'cut', '--ladder', 'small']);
    expect(r.code).toBe(1);
    expect(oneLine(r.stderr)).toMatch(/ends early: only \d\.\d s of its 4\.0 s of video could be decoded/);
    expect(listing(out)).toEqual([]);
  });

  it('a video codec this ffmpeg cannot decode: SOURCE_UNSUPPORTED naming the codec and the fix', async () => {
    // A stand-in ffmpeg without an H.264 decoder (what the probe's one-frame decode would report).
    const fake = join(root, 'no-decoder-ffmpeg.sh');
    writeFileSync(fake, '#!/bin/sh\necho "Decoder (codec h264) not found for input stream #0:0" >&2\nexit 1\n');
    chmodSync(fake, 0o755);
    const out = join(root, 'nodecoder');
    const r = await runCli(['package', await fixture('small'), '--out', out, '--id', 'x'], {
      env: { FFMPEG_PATH: fake },
    });
    expect(r.code).toBe(1);
    expect(oneLine(r.stderr)).toMatch(/this ffmpeg cannot decode h264 video \(set FFMPEG_PATH to a newer ffmpeg/);
    expect(listing(out)).toEqual([]);
  });

  it('an ffmpeg crash mid-encode: clear error naming the kept log, nothing published, no staging folder', async () => {
    // A stand-in ffmpeg: decodes for the probe as usual, but the encode run dies shortly after starting.
    const fake = join(root, 'crashing-ffmpeg.sh');
    writeFileSync(
      fake,
      `#!/bin/sh\nfor a in "$@"; do if [ "$a" = "-progress" ]; then timeout -s KILL 0.3 "${ffmpegPath()}" "$@"; echo "simulated encoder crash" >&2; exit 1; fi; done\nexec "${ffmpegPath()}" "$@"\n`,
    );
    chmodSync(fake, 0o755);
    const out = join(root, 'crash');
    const r = await runCli(['package', await fixture('small'), '--out', out, '--id', 'c', '--ladder', 'small'], {
      env: { FFMPEG_PATH: fake },
    });
    expect(r.code).toBe(1);
    const line = oneLine(r.stderr);
    expect(line).toMatch(/^streamedge: ffmpeg exited with code 1: simulated encoder crash; full log: /);
    const log = line.slice(line.indexOf('full log: ') + 'full log: '.length).trim();
    expect(log.startsWith(join(out, '.logs'))).toBe(true);
    expect(readFileSync(log, 'utf8')).toContain('simulated encoder crash');
    expect(listing(out)).toEqual(['.logs', join('.logs', log.split('/').pop()!)]);
  });
});
