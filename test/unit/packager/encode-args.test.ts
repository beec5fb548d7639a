import { describe, expect, it } from 'vitest';
import { buildEncodeArgs } from '../../../packager/encode-args.js';
import type { LadderPlan } from '../../../packager/ladder.js';

const plan: LadderPlan = {
  frameRate: [30000, 1001],
  video: [
    {
      id: '720p',
      codec: 'h264',
      width: 1280,
      height: 720,
      bitrate: 3_000_000,
      maxrate: 3_600_000,
      bufsize: 6_000_000,
      profile: 'high',
      level: '3.1',
    },
    {
      id: '360p',
      codec: 'h264',
      width: 640,
      height: 360,
      bitrate: 800_000,
      maxrate: 960_000,
      bufsize: 1_600_000,
      profile: 'main',
    },
  ],
  audio: { id: 'audio', bitrate: 128_000, sampleRate: 48000, channels: 2 },
};

function after(args: string[], flag: string, from = 0): string | undefined {
  const i = args.indexOf(flag, from);
  return i >= 0 ? args[i + 1] : undefined;
}

describe('buildEncodeArgs', () => {
  it('an HEVC rung: libx265 Main with hvc1 sample entries, closed GOPs, the same forced key frames, no H.264 level', () => {
    const hevc: LadderPlan = {
      ...plan,
      video: [plan.video[0], { ...plan.video[1], id: '360p-hevc', codec: 'hevc', bitrate: 560_000 }],
    };
    const { args, outputs } = buildEncodeArgs({ args: ['-i', 'in.mp4'] }, hevc, {
      segmentDuration: 2,
      partDuration: 0.5,
    });
    expect(outputs.map((o) => o.renditionId)).toEqual(['720p', '360p-hevc', 'audio']);
    const v1 = args.indexOf('[v1]');
    expect(after(args, '-c:v', v1)).toBe('libx265');
    expect(after(args, '-tag:v', v1)).toBe('hvc1');
    expect(after(args, '-profile:v', v1)).toBe('main');
    expect(after(args, '-x265-params', v1)).toBe('open-gop=0:scenecut=0:repeat-headers=0:log-level=error');
    expect(after(args, '-force_key_frames', v1)).toBe('expr:gte(t,n_forced*2)');
    expect(after(args, '-forced-idr', v1)).toBe('1');
    expect(after(args, '-bf', v1)).toBe('0');
    expect(after(args, '-b:v', v1)).toBe('560000');
    expect(args.slice(v1, args.indexOf('pipe:4'))).not.toContain('-level:v');
    expect(args).not.toContain('-tune'); // VOD: x265's look-ahead and B-frame decisions stay
    // the H.264 rung beside it is unchanged
    const v0 = args.indexOf('[v0]');
    expect(after(args, '-c:v', v0)).toBe('libx264');
    expect(after(args, '-level:v', v0)).toBe('3.1');
    // live: x265 tuned for zero latency too, a part out as soon as its frames went in
    const live = buildEncodeArgs({ args: ['-i', 'in.mp4'] }, hevc, {
      segmentDuration: 2,
      partDuration: 0.5,
      live: true,
    });
    const lv1 = live.args.indexOf('[v1]');
    expect(after(live.args, '-c:v', lv1)).toBe('libx265');
    expect(after(live.args, '-tune', lv1)).toBe('zerolatency');
    expect(after(live.args, '-tune', live.args.indexOf('[v0]'))).toBe('zerolatency');
  });

  it('one run: one decode, 4:2:0, split + scale, each rendition to its own pipe fd, audio once', () => {
    const { args, outputs } = buildEncodeArgs({ args: ['-i', 'in.mp4'] }, plan, {
      segmentDuration: 4,
      partDuration: 1,
    });
    expect(outputs).toEqual([
      { renditionId: '720p', kind: 'video', fd: 3 },
      { renditionId: '360p', kind: 'video', fd: 4 },
      { renditionId: 'audio', kind: 'audio', fd: 5 },
    ]);
    expect(args.filter((a) => a === '-i')).toHaveLength(1);
    expect(after(args, '-filter_complex')).toBe(
      '[0:v:0]format=yuv420p,split=2[s0][s1];[s0]scale=w=1280:h=720:flags=bicubic,setsar=1[v0];[s1]scale=w=640:h=360:flags=bicubic,setsar=1[v1]',
    );
    expect(after(args, '-progress')).toBe('pipe:1');
    expect(args.filter((a) => a.startsWith('pipe:')).slice(1)).toEqual(['pipe:3', 'pipe:4', 'pipe:5']);
    expect(args.filter((a) => a === 'libx264')).toHaveLength(2);
    expect(args.filter((a) => a === 'aac')).toHaveLength(1);
  });

  it('key frames forced on segment boundaries, no scene cuts, no B-frames, fragments of one part', () => {
    const { args } = buildEncodeArgs({ args: ['-i', 'in.mp4'] }, plan, { segmentDuration: 2, partDuration: 0.5 });
    const v0 = args.indexOf('[v0]');
    expect(after(args, '-force_key_frames', v0)).toBe('expr:gte(t,n_forced*2)');
    expect(after(args, '-sc_threshold', v0)).toBe('0');
    expect(after(args, '-bf', v0)).toBe('0');
    expect(after(args, '-r', v0)).toBe('30000/1001');
    expect(Number(after(args, '-g', v0))).toBeGreaterThan(60); // only the forced key frames start GOPs
    expect(after(args, '-profile:v', v0)).toBe('high');
    expect(after(args, '-level:v', v0)).toBe('3.1');
    expect(after(args, '-b:v', v0)).toBe('3000000');
    expect(after(args, '-movflags', v0)).toBe('+frag_keyframe+empty_moov+default_base_moof+skip_trailer');
    expect(after(args, '-frag_duration', v0)).toBe('500000');
    const a = args.indexOf('0:a:0');
    expect(after(args, '-movflags', a)).toBe('+empty_moov+default_base_moof+skip_trailer');
    expect(after(args, '-b:a', a)).toBe('128000');
    expect(args).not.toContain('cmaf');
  });

  it('live: custom input maps, zero-latency tuning and per-packet flushing; VOD audio trim', () => {
    const { args } = buildEncodeArgs(
      { args: ['-re', '-f', 'lavfi', '-i', 'testsrc2', '-f', 'lavfi', '-i', 'sine'], videoMap: '0:v', audioMap: '1:a' },
      plan,
      { segmentDuration: 2, partDuration: 0.5, live: true },
    );
    expect(after(args, '-filter_complex')!.startsWith('[0:v]format=yuv420p')).toBe(true);
    expect(args).toContain('1:a');
    expect(args.filter((a) => a === 'zerolatency')).toHaveLength(2);
    expect(args.filter((a) => a === '-flush_packets')).toHaveLength(3);
    const vod = buildEncodeArgs(
      { args: ['-i', 'x'] },
      { ...plan, video: [plan.video[1]] },
      { segmentDuration: 4, partDuration: 1, audioDurationSec: 8.5 },
    );
    expect(after(vod.args, '-filter_complex')).toBe(
      '[0:v:0]format=yuv420p[s0];[s0]scale=w=640:h=360:flags=bicubic,setsar=1[v0]',
    );
    expect(after(vod.args, '-t', vod.args.indexOf('0:a:0'))).toBe('8.5');
  });

  it('deinterlaces before the split: every frame of an interlaced source, the flagged ones of an unprobed feed', () => {
    const opts = { segmentDuration: 2, partDuration: 0.5 };
    const graph = (deinterlace?: 'all' | 'flagged') =>
      after(
        buildEncodeArgs({ args: ['-i', 'in.ts'], ...(deinterlace ? { deinterlace } : {}) }, plan, opts).args,
        '-filter_complex',
      )!;
    expect(graph('all').startsWith('[0:v:0]bwdif=mode=send_frame:parity=auto:deint=all,format=yuv420p,split=2')).toBe(
      true,
    );
    expect(
      graph('flagged').startsWith('[0:v:0]bwdif=mode=send_frame:parity=auto:deint=interlaced,format=yuv420p'),
    ).toBe(true);
    expect(graph()).not.toContain('bwdif');
  });

  it('tone-maps an HDR source to SDR BT.709 before the split, and tags every video output BT.709', () => {
    const opts = { segmentDuration: 2, partDuration: 0.5 };
    const { args } = buildEncodeArgs({ args: ['-i', 'hdr.mp4'], toneMap: true }, plan, opts);
    expect(after(args, '-filter_complex')).toMatch(
      /^\[0:v:0\]zscale=t=linear:npl=100,.*tonemap=tonemap=hable.*zscale=t=bt709:m=bt709:r=tv,format=yuv420p,split=2/,
    );
    const tagged = args.filter((a, i) => a === '-color_trc' && args[i + 1] === 'bt709');
    expect(tagged).toHaveLength(plan.video.length);
    expect(buildEncodeArgs({ args: ['-i', 'sdr.mp4'] }, plan, opts).args).not.toContain('-color_trc');
  });

  it('HDR HEVC rungs branch off before the tone-mapping: 10-bit, Main 10, BT.2020 with the source transfer; the rest SDR', () => {
    const opts = { segmentDuration: 2, partDuration: 0.5, thumbnails: undefined };
    for (const range of ['pq', 'hlg'] as const) {
      const hdr: LadderPlan = {
        ...plan,
        video: [plan.video[0], { ...plan.video[0], id: '720p-hevc', codec: 'hevc', range }, plan.video[1]],
      };
      const { args } = buildEncodeArgs({ args: ['-i', 'hdr.mp4'], toneMap: true }, hdr, opts);
      const graph = after(args, '-filter_complex')!.split(';');
      expect(graph[0]).toBe('[0:v:0]split=2[sdr][hdr]');
      expect(graph[1]).toBe('[hdr]format=yuv420p10le[h0]');
      expect(graph[2]).toMatch(/^\[sdr\]zscale=t=linear.*tonemap=tonemap=hable.*format=yuv420p,split=2\[s0\]\[s1\]$/);
      // each rung scales from its own branch, in ladder order
      expect(graph.slice(3).map((g) => g.slice(0, 4))).toEqual(['[s0]', '[h0]', '[s1]']);
      const v1 = args.indexOf('[v1]');
      const transfer = range === 'pq' ? 'smpte2084' : 'arib-std-b67';
      expect(after(args, '-profile:v', v1)).toBe('main10');
      expect(after(args, '-pix_fmt', v1)).toBe('yuv420p10le');
      expect(after(args, '-color_trc', v1)).toBe(transfer);
      expect(after(args, '-color_primaries', v1)).toBe('bt2020');
      expect(after(args, '-colorspace', v1)).toBe('bt2020nc');
      expect(after(args, '-x265-params', v1)).toBe(
        `open-gop=0:scenecut=0:repeat-headers=0:log-level=error:colorprim=bt2020:transfer=${transfer}:colormatrix=bt2020nc${range === 'pq' ? ':hdr10-opt=1' : ''}`,
      );
      for (const v of ['[v0]', '[v2]']) expect(after(args, '-color_trc', args.indexOf(v))).toBe('bt709');
    }
  });

  it('an HDR source whose ladder is all HEVC: no SDR branch is built', () => {
    const hevcOnly: LadderPlan = { ...plan, video: [{ ...plan.video[0], codec: 'hevc', range: 'pq' }] };
    const { args } = buildEncodeArgs({ args: ['-i', 'hdr.mp4'], toneMap: true }, hevcOnly, {
      segmentDuration: 2,
      partDuration: 0.5,
    });
    expect(after(args, '-filter_complex')).toBe(
      '[0:v:0]format=yuv420p10le[h0];[h0]scale=w=1280:h=720:flags=bicubic,setsar=1[v0]',
    );
  });

  it("a PQ source's HDR10 metadata goes to the HDR HEVC rungs' x265 parameters, not to HLG or H.264 ones", () => {
    const meta = { masterDisplay: 'G(1,2)B(3,4)R(5,6)WP(7,8)L(9,10)', maxCll: '1000,400' };
    const withRange = (range: 'pq' | 'hlg'): string[] =>
      buildEncodeArgs(
        { args: ['-i', 'hdr.mp4'], toneMap: true, hdrMetadata: meta },
        { ...plan, video: [plan.video[0], { ...plan.video[0], id: '720p-hevc', codec: 'hevc', range }] },
        { segmentDuration: 2, partDuration: 0.5 },
      ).args;
    const pq = withRange('pq');
    expect(after(pq, '-x265-params', pq.indexOf('[v1]'))).toMatch(
      /:hdr10-opt=1:master-display=G\(1,2\)B\(3,4\)R\(5,6\)WP\(7,8\)L\(9,10\):max-cll=1000,400$/,
    );
    expect(pq.slice(pq.indexOf('[v0]'), pq.indexOf('pipe:3')).join(' ')).not.toContain('master-display');
    const hlg = withRange('hlg');
    expect(after(hlg, '-x265-params', hlg.indexOf('[v1]'))).not.toContain('master-display');
  });
});
