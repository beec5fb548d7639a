/**
 * The tone of decoded audio, for tests that put a sine on each track or channel: the file's
 * audio (or one channel of it) decoded by ffmpeg to mono 48 kHz PCM, its frequency from zero
 * crossings and its RMS level, after the first 50 ms (AAC priming, a segment's edge). And what
 * ffprobe says of a file's audio stream (codec, channels, layout).
 */
import { readFileSync } from 'node:fs';
import { expect } from 'vitest';
import { ffmpegPath, ffprobePath } from '../../src/media/ffmpeg-binaries.js';
import { run } from '../integration/packager/verify-package.js';

/** `file`'s tone (Hz) and level; `channel`: that channel alone (e.g. 2 = centre of 5.1), else all mixed. */
export async function decodedTone(file: string, channel?: number): Promise<{ hz: number; rms: number }> {
  const pcm = `${file}${channel === undefined ? '' : `.c${channel}`}.raw`;
  const mix = channel === undefined ? ['-ac', '1'] : ['-af', `pan=mono|c0=c${channel}`];
  const r = await run(ffmpegPath(), ['-v', 'error', '-y', '-i', file, ...mix, '-ar', '48000', '-f', 's16le', pcm]);
  expect(r.code, r.stderr).toBe(0);
  const b = readFileSync(pcm);
  const s = new Int16Array(b.buffer, b.byteOffset, Math.floor(b.length / 2)).subarray(2400);
  let crossings = 0;
  let sum = 0;
  for (let i = 1; i < s.length; i++) {
    if (s[i - 1] < 0 !== s[i] < 0) crossings++;
    sum += s[i] * s[i];
  }
  return { hz: crossings / 2 / (s.length / 48000), rms: Math.sqrt(sum / s.length) };
}

/** What ffprobe says of the file's (first) audio stream. */
export async function audioStream(
  file: string,
): Promise<{ channels: number; channel_layout: string; codec_name: string }> {
  const r = await run(ffprobePath(), ['-v', 'error', '-select_streams', 'a:0', '-show_streams', '-of', 'json', file]);
  expect(r.code, r.stderr).toBe(0);
  return (JSON.parse(r.stdout) as { streams: { channels: number; channel_layout: string; codec_name: string }[] })
    .streams[0];
}
