/**
 * An encrypted live channel (`--live-encrypt`, real ffmpeg lavfi source, LL-HLS parts of 0.5 s):
 * every part leaves the origin already encrypted, so the edge and the players only ever see
 * ciphertext; ffmpeg's decryptor, given the key, gets decodable frames back from a single part
 * (video and audio); the playlists, the MPD and the keys/ endpoints say what the VOD ones say.
 * Its thumbnails are taken from the chunks before encryption: each is the picture the key opens.
 */
import { spawnSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ffmpegPath } from '../../../src/media/ffmpeg-binaries.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ContentKey } from '../../../src/cenc/content-keys.js';
import { validateMpd } from '../../support/xml-validate.js';
import { parseM3u8, startTestChannel, type LiveOrigin, type TestChannel } from './live-helpers.js';

const KEY: ContentKey = {
  kid: 'a0a1a2a3a4a5a6a7a8a9aaabacadaeaf',
  key: Buffer.from('0f0e0d0c0b0a09080706050403020100', 'hex'),
};
let ch: TestChannel;
let o: LiveOrigin;
let dir = '';

beforeAll(async () => {
  ch = await startTestChannel(
    'se-live-enc-',
    { segmentDuration: 1, partDuration: 0.5, protection: { scheme: 'cbcs', key: KEY }, thumbnails: { width: 160 } },
    [['180p', 2]],
    { contentKeys: [KEY] },
  );
  ({ o, dir } = ch);
}, 60_000);

afterAll(async () => {
  await ch?.close();
});

/** ffmpeg decrypts header + one part and decodes it: frames decoded, and nothing said on stderr. */
function decodeWithKey(init: Buffer, part: Buffer, key?: Buffer): { frames: number; stderr: string } {
  const file = join(dir, `part-${Math.random().toString(36).slice(2)}.mp4`);
  writeFileSync(file, Buffer.concat([init, part]));
  const r = spawnSync(
    ffmpegPath(),
    [
      '-hide_banner',
      '-v',
      'error',
      ...(key ? ['-decryption_key', key.toString('hex')] : []),
      '-i',
      file,
      '-f',
      'framemd5',
      '-',
    ],
    { encoding: 'utf8' },
  );
  rmSync(file);
  return { frames: r.stdout.split('\n').filter((l) => /^\d+,/.test(l)).length, stderr: r.stderr };
}

/** The first picture of `media` (decrypted with `key`), as 160×90 full-range grey. */
function greyFrame(media: Buffer, key?: Buffer): Buffer {
  const file = join(dir, `frame-${Math.random().toString(36).slice(2)}`);
  writeFileSync(file, media);
  const r = spawnSync(
    ffmpegPath(),
    [
      ...['-hide_banner', '-v', 'error', ...(key ? ['-decryption_key', key.toString('hex')] : [])],
      ...['-i', file, '-frames:v', '1', '-vf', 'scale=160:90', '-f', 'rawvideo', '-pix_fmt', 'gray', '-'],
    ],
    { maxBuffer: 1 << 22 },
  );
  rmSync(file);
  return r.stdout;
}

describe('an encrypted live channel', () => {
  it('lists the key in every playlist and the MPD (schema-valid)', async () => {
    const master = (await o.get('/live/ch/master.m3u8')).text;
    expect(master).toContain(`#EXT-X-SESSION-KEY:METHOD=SAMPLE-AES,URI="keys/${KEY.kid}",KEYFORMAT="identity"`);
    for (const r of ['180p', 'audio']) {
      const media = (await o.get(`/live/ch/${r}/index.m3u8`)).text;
      expect(media.indexOf(`#EXT-X-KEY:METHOD=SAMPLE-AES,URI="../keys/${KEY.kid}"`), r).toBeGreaterThan(0);
      expect(media.indexOf('#EXT-X-KEY')).toBeLessThan(media.indexOf('#EXT-X-MAP'));
      expect(media).toContain('#EXT-X-PART:');
    }
    const mpd = (await o.get('/live/ch/manifest.mpd')).text;
    expect(mpd).toContain('value="cbcs" cenc:default_KID="a0a1a2a3-a4a5-a6a7-a8a9-aaabacadaeaf"');
    expect(await validateMpd(mpd)).toMatchObject({ valid: true, errors: '' });
  });

  it.each(['180p', 'audio'])('%s: a part is ciphertext, and decrypts to decodable frames with the key', async (r) => {
    const init = (await o.get(`/live/ch/${r}/init.mp4`)).body;
    expect(init.includes(Buffer.from(r === 'audio' ? 'enca' : 'encv'))).toBe(true);
    const list = parseM3u8((await o.get(`/live/ch/${r}/index.m3u8`)).text);
    const seg = list.segments[list.segments.length - 1];
    // its longest part (the live segmenter cuts audio at the grid: a part there may be a frame long)
    const parts = seg.parts ?? [];
    expect(parts.length).toBeGreaterThan(1);
    const longest = parts.reduce((best, p, i) => (p.duration > parts[best].duration ? i : best), 0);
    const part = (await o.get(`/live/ch/${r}/${seg.uri.replace(/\.m4s$/, `.${longest}.m4s`)}`)).body;
    expect(part.length).toBeGreaterThan(100);
    const decrypted = decodeWithKey(init, part, KEY.key);
    expect(decrypted.stderr).toBe('');
    expect(decrypted.frames).toBeGreaterThan(r === 'audio' ? 10 : 5);
    if (r === '180p') {
      // without the key the decoder chokes on the slices
      expect(decodeWithKey(init, part).stderr).toMatch(/error|invalid|concealing/i);
    }
  });

  it('its thumbnail of a segment is the first frame that segment decrypts to', async () => {
    const images = (await o.get('/live/ch/thumbnails/index.m3u8')).text;
    const n = Number(/tile-(\d+)\.jpg\n(?![\s\S]*tile-)/.exec(images)![1]);
    const init = (await o.get('/live/ch/180p/init.mp4')).body;
    // its first part alone: ffmpeg 5.1 decrypts one encrypted moof per file (see the test above)
    const segment = (await o.get(`/live/ch/180p/seg-${n}.0.m4s`)).body;
    const picture = (await o.get(`/live/ch/thumbnails/tile-${n}.jpg`)).body;
    const frame = greyFrame(Buffer.concat([init, segment]), KEY.key);
    const shown = greyFrame(picture);
    let diff = 0;
    for (let i = 0; i < frame.length; i++) diff += Math.abs(frame[i] - shown[i]);
    expect(frame.length).toBe(160 * 90);
    expect(diff / frame.length).toBeLessThan(3);
  });

  it('hands its key out under /live/ch/keys/, as a raw key and as a Clear Key license', async () => {
    const raw = await o.get(`/live/ch/keys/${KEY.kid}`);
    expect(raw.status).toBe(200);
    expect(raw.body.equals(KEY.key)).toBe(true);
    expect(raw.headers['cache-control']).toBe('private, no-store');
    expect((await o.get('/live/ch/keys/ffffffffffffffffffffffffffffffff')).status).toBe(404);
    expect((await o.get(`/live/nochannel/keys/${KEY.kid}`)).status).toBe(404);
    const kid64 = Buffer.from(KEY.kid, 'hex').toString('base64url');
    const lic = await fetch(`${o.base}/live/ch/keys/clearkey`, {
      method: 'POST',
      body: JSON.stringify({ kids: [kid64] }),
    });
    expect(await lic.json()).toEqual({
      keys: [{ kty: 'oct', kid: kid64, k: KEY.key.toString('base64url') }],
      type: 'temporary',
    });
  });
});
