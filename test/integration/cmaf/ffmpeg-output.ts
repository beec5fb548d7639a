/** Test helpers: run the project's ffmpeg/ffprobe and collect their output. */
import { spawn } from 'node:child_process';
import { ffmpegPath, ffprobePath } from '../../../src/media/ffmpeg-binaries.js';

export interface Piped {
  /** The stdout chunks exactly as the pipe delivered them. */
  chunks: Buffer[];
  bytes: Buffer;
}

function run(bin: string, args: string[]): Promise<Piped> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const chunks: Buffer[] = [];
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => chunks.push(c));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0
        ? resolve({ chunks, bytes: Buffer.concat(chunks) })
        : reject(new Error(`${bin} exited ${code}: ${stderr.slice(-800)}`)),
    );
  });
}

export const FRAG_FLAGS = [
  '-f',
  'mp4',
  '-movflags',
  'frag_keyframe+empty_moov+default_base_moof',
  '-frag_duration',
  '1000000',
];

/** Fragmented MP4 on stdout. */
export function ffmpegToPipe(args: string[]): Promise<Piped> {
  return run(ffmpegPath(), ['-hide_banner', '-loglevel', 'error', '-nostdin', ...args, ...FRAG_FLAGS, 'pipe:1']);
}

export function ffmpegToFile(args: string[]): Promise<Piped> {
  return run(ffmpegPath(), ['-hide_banner', '-loglevel', 'error', '-nostdin', '-y', ...args]);
}

export interface ProbeStream {
  index: number;
  codec_name: string;
  codec_tag_string: string;
  profile?: string;
  level?: number;
  width?: number;
  height?: number;
  sample_rate?: string;
  channels?: number;
  time_base: string;
}

export interface ProbePacket {
  stream_index: number;
  dts: number;
  size: string;
  pos: string;
  flags: string;
}

export async function ffprobe(
  file: string,
  packets = false,
): Promise<{ streams: ProbeStream[]; packets: ProbePacket[] }> {
  const args = ['-v', 'error', '-show_streams', ...(packets ? ['-show_packets'] : []), '-of', 'json', file];
  const out = await run(ffprobePath(), args);
  const json = JSON.parse(out.bytes.toString()) as { streams: ProbeStream[]; packets?: ProbePacket[] };
  return { streams: json.streams, packets: json.packets ?? [] };
}
