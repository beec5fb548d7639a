import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { channelLadder, resolveChannelConfig } from '../../../packager/live/channel-config.js';

const dir = mkdtempSync(join(tmpdir(), 'se-live-ladder-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const hevc = join(dir, 'hevc.json');
writeFileSync(hevc, JSON.stringify({ video: [{ height: 360, bitrate: '800k' }], videoCodecs: ['h264', 'hevc'] }));

describe('a live channel ladder', () => {
  it('naming HEVC is accepted, and the channel then announces no in-band captions', () => {
    const c = resolveChannelConfig({ id: 'news', source: 'lavfi', ladder: hevc });
    expect(c.ladder).toBe(hevc);
    expect(c.captions).toBe('none');
  });

  it('naming HEVC on an encrypted channel is refused when the channel is configured, not at its first run', () => {
    const key = { kid: '0123456789abcdef0123456789abcdef', key: Buffer.alloc(16, 7) };
    expect(() =>
      resolveChannelConfig({ id: 'news', source: 'lavfi', ladder: hevc, protection: { scheme: 'cbcs', key } }),
    ).toThrow(/channel news: the live ladder .*hevc\.json asks for HEVC, .*Common Encryption is done for H\.264 only/);
  });

  it('naming HEVC beside --live-captions channels is refused: HEVC rungs cannot carry them', () => {
    expect(() =>
      resolveChannelConfig({
        id: 'news',
        source: 'lavfi',
        ladder: hevc,
        captions: [{ instreamId: 'CC1', name: 'English' }],
      }),
    ).toThrow(/channel news: the live ladder .*hevc\.json asks for HEVC, .*cannot carry the --live-captions channels/);
    expect(resolveChannelConfig({ id: 'news', source: 'lavfi', ladder: hevc, captions: 'none' }).captions).toBe('none');
  });

  it('--live-video-codecs h264,hevc over an H.264 ladder: the same checks, naming the option; the runs plan both codecs', () => {
    const c = resolveChannelConfig({ id: 'news', source: 'lavfi', videoCodecs: ['h264', 'hevc'] });
    expect(c.captions).toBe('none');
    expect(channelLadder(c)).toMatchObject({ videoCodecs: ['h264', 'hevc'], video: [{}, {}] });
    expect(channelLadder(resolveChannelConfig({ id: 'plain', source: 'lavfi' }))).toBe('small');
    const key = { kid: '0123456789abcdef0123456789abcdef', key: Buffer.alloc(16, 7) };
    expect(() =>
      resolveChannelConfig({
        id: 'news',
        source: 'lavfi',
        videoCodecs: ['hevc'],
        protection: { scheme: 'cenc', key },
      }),
    ).toThrow(/channel news: --live-video-codecs asks for HEVC, and the channel is encrypted/);
    // the option wins over the ladder file: h264 alone over an HEVC ladder is a plain channel
    expect(resolveChannelConfig({ id: 'n', source: 'lavfi', ladder: hevc, videoCodecs: ['h264'] }).captions).toBe(
      undefined,
    );
  });

  it('in H.264 (said or not), a preset, or a file the run will report on, is accepted as before', () => {
    const h264 = join(dir, 'h264.json');
    writeFileSync(h264, JSON.stringify({ video: [{ height: 360, bitrate: '800k' }], videoCodecs: ['h264'] }));
    expect(resolveChannelConfig({ id: 'a', source: 'lavfi', ladder: h264 }).ladder).toBe(h264);
    expect(resolveChannelConfig({ id: 'a', source: 'lavfi', ladder: h264 }).captions).toBeUndefined();
    expect(resolveChannelConfig({ id: 'b', source: 'lavfi' }).ladder).toBe('small');
    expect(resolveChannelConfig({ id: 'c', source: 'lavfi', ladder: join(dir, 'missing.json') }).id).toBe('c');
  });
});
