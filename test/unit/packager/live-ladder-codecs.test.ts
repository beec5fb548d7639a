import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { resolveChannelConfig } from '../../../packager/live/channel-config.js';

const dir = mkdtempSync(join(tmpdir(), 'se-live-ladder-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('a live channel ladder', () => {
  it('naming HEVC is refused when the channel is configured, not at its first run', () => {
    const hevc = join(dir, 'hevc.json');
    writeFileSync(hevc, JSON.stringify({ video: [{ height: 360, bitrate: '800k' }], videoCodecs: ['h264', 'hevc'] }));
    expect(() => resolveChannelConfig({ id: 'news', source: 'lavfi', ladder: hevc })).toThrow(
      /channel news: the live ladder .*hevc\.json asks for h264, hevc \("videoCodecs"\): live channels encode H\.264 only/,
    );
  });

  it('in H.264 (said or not), a preset, or a file the run will report on, is accepted as before', () => {
    const h264 = join(dir, 'h264.json');
    writeFileSync(h264, JSON.stringify({ video: [{ height: 360, bitrate: '800k' }], videoCodecs: ['h264'] }));
    expect(resolveChannelConfig({ id: 'a', source: 'lavfi', ladder: h264 }).ladder).toBe(h264);
    expect(resolveChannelConfig({ id: 'b', source: 'lavfi' }).ladder).toBe('small');
    expect(resolveChannelConfig({ id: 'c', source: 'lavfi', ladder: join(dir, 'missing.json') }).id).toBe('c');
  });
});
