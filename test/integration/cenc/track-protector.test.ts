/**
 * Common Encryption of real encoder output: a small asset is packaged in the clear (x264 + AAC),
 * then every rendition's header and chunks go through TrackProtector under 'cbcs' and 'cenc'.
 * Checked three ways: the boxes say what the schemes require; our own reader restores every
 * sample byte for byte; and ffmpeg's decryptor (a third party: libavformat's mov demuxer, given
 * the key) gets back packets identical to the clear ones, chunk by chunk. (Given all at once, ffmpeg 5.1 loses its
 * sample index across several encrypted moofs in one file, its own muxer's output included, so
 * each chunk is handed to it as header + one moof/mdat.)
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ffmpegPath } from '../../../src/media/ffmpeg-binaries.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixture } from '../../../media-fixtures/generate.js';
import { packageVod } from '../../../packager/vod-job.js';
import { type Box, childBox, readBox, readBoxes } from '../../../src/cmaf/box.js';
import { parseFragment } from '../../../src/cmaf/fragment.js';
import { parseInit } from '../../../src/cmaf/init-segment.js';
import { CLEARKEY_SYSTEM_ID, type ContentKey, type ProtectionScheme } from '../../../src/cenc/content-keys.js';
import { parseSenc, parseTenc } from '../../../src/cenc/protection-boxes.js';
import { decryptSample } from '../../../src/cenc/sample-cipher.js';
import { TrackProtector } from '../../../src/cenc/track-protector.js';

const KEY: ContentKey = {
  kid: '0123456789abcdef0123456789abcdef',
  key: Buffer.from('00112233445566778899aabbccddeeff', 'hex'),
};
let dir = '';
const clear = new Map<string, { init: Buffer; chunks: { moof: Buffer; mdat: Buffer }[] }>();

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'streamedge-cenc-'));
  await packageVod({ input: await fixture('small'), outDir: dir, assetId: 'a', ladder: 'small', segmentDuration: 2 });
  for (const r of ['360p', 'audio']) {
    const init = readFileSync(join(dir, 'a', 'v1', r, 'init.mp4'));
    const chunks: { moof: Buffer; mdat: Buffer }[] = [];
    for (const n of [1, 2]) {
      const seg = readFileSync(join(dir, 'a', 'v1', r, `seg-${n}.m4s`));
      const boxes = readBoxes(seg);
      boxes.forEach((b, i) => {
        if (b.type === 'moof') chunks.push({ moof: whole(seg, b), mdat: whole(seg, boxes[i + 1]) });
      });
    }
    clear.set(r, { init, chunks });
  }
}, 120_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

function whole(buf: Buffer, b: Box): Buffer {
  return buf.subarray(b.start, b.start + b.size);
}

/** The first box of this type anywhere below `bytes` (sample entries are searched by their type's bytes). */
function boxIn(bytes: Buffer, type: string): Box {
  const at = bytes.indexOf(Buffer.from(type, 'latin1'));
  expect(at).toBeGreaterThan(3);
  return readBox(bytes, at - 4);
}

function protect(r: string, scheme: ProtectionScheme) {
  const src = clear.get(r)!;
  const p = new TrackProtector(scheme, KEY, r);
  const init = p.protectInit(src.init);
  const chunks = src.chunks.map((c) => p.protectFragment(c.moof, c.mdat));
  return { init, chunks, src };
}

/** ffmpeg's packets (size + md5 each) of header + one chunk, decrypting with `key` when given. */
function ffmpegPackets(init: Buffer, moof: Buffer, mdat: Buffer, key?: Buffer): string[] {
  const file = join(dir, `chunk-${Math.random().toString(36).slice(2)}.mp4`);
  writeFileSync(file, Buffer.concat([init, moof, mdat]));
  const args = ['-hide_banner', '-v', 'error', ...(key ? ['-decryption_key', key.toString('hex')] : []), '-i', file];
  const r = spawnSync(ffmpegPath(), [...args, '-map', '0', '-c', 'copy', '-copyinkf', '-f', 'framemd5', '-'], {
    encoding: 'utf8',
  });
  rmSync(file);
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  return (
    r.stdout
      .split('\n')
      .filter((l) => /^\d+,/.test(l))
      // size and md5 of each packet (the decrypted first packet also carries the pssh as side data)
      .map((l) => l.split(',').slice(4, 6).join(',').trim())
  );
}

describe.each(['cbcs', 'cenc'] as const)('%s', (scheme) => {
  it.each(['360p', 'audio'])('%s: the header announces the scheme, the key id and the original format', (r) => {
    const { init } = protect(r, scheme);
    const info = parseInit(init);
    const video = r === '360p';
    expect(info.tracks[0].codec).toBe(parseInit(clear.get(r)!.init).tracks[0].codec);
    expect(init.includes(Buffer.from(video ? 'encv' : 'enca'))).toBe(true);
    expect(boxIn(init, 'frma').payload.toString('latin1')).toBe(video ? 'avc1' : 'mp4a');
    expect(boxIn(init, 'schm').payload.toString('latin1', 4, 8)).toBe(scheme);
    const tenc = parseTenc(boxIn(init, 'tenc').payload);
    expect(tenc).toMatchObject({ scheme, kid: KEY.kid, isProtected: true });
    if (scheme === 'cbcs') {
      expect([tenc.cryptByteBlock, tenc.skipByteBlock]).toEqual(video ? [1, 9] : [0, 0]);
      expect(tenc.perSampleIvSize).toBe(0);
      expect(tenc.constantIv).toHaveLength(16);
    } else {
      expect(tenc.perSampleIvSize).toBe(8);
    }
    const pssh = readBoxes(init)
      .find((b) => b.type === 'moov')!
      .children!.find((b) => b.type === 'pssh')!;
    expect(pssh.payload.toString('hex', 4, 20)).toBe(CLEARKEY_SYSTEM_ID);
    expect(pssh.payload.toString('hex', 24, 40)).toBe(KEY.kid);
  });

  it.each(['360p', 'audio'])('%s: our reader restores every sample, and the media is really encrypted', (r) => {
    const { init, chunks, src } = protect(r, scheme);
    const tenc = parseTenc(boxIn(init, 'tenc').payload);
    const trex = parseInit(init).trex;
    const ivs = new Set<string>();
    let samples = 0;
    let changed = 0;
    chunks.forEach((c, k) => {
      const frag = parseFragment(c.moof, trex).tracks[0];
      const clearFrag = parseFragment(src.chunks[k].moof, trex).tracks[0];
      const traf = readBox(c.moof, 0).children!.find((b) => b.type === 'traf')!;
      const senc = childBox(traf, 'senc');
      // cbcs audio: a constant IV and whole samples leave nothing per sample to write
      expect(senc === undefined).toBe(scheme === 'cbcs' && r === 'audio');
      const entries = senc ? parseSenc(senc.payload, tenc.perSampleIvSize) : [];
      if (senc) expect(entries).toHaveLength(frag.samples.length);
      frag.samples.forEach((s, i) => {
        const at = s.offset - c.moof.length;
        const sample = Buffer.from(c.mdat.subarray(at, at + s.size));
        const cs = clearFrag.samples[i];
        const plain = src.chunks[k].mdat.subarray(
          cs.offset - src.chunks[k].moof.length,
          cs.offset - src.chunks[k].moof.length + cs.size,
        );
        if (!sample.equals(plain)) changed++;
        const e = entries[i];
        if (e && e.iv.length > 0) ivs.add(e.iv.toString('hex'));
        if (e?.subsamples) expect(e.subsamples.reduce((n, x) => n + x.clear + x.protected, 0)).toBe(s.size);
        decryptSample(sample, KEY.key, tenc, tenc.perSampleIvSize > 0 ? e.iv : tenc.constantIv!, e?.subsamples);
        expect(sample.equals(plain)).toBe(true);
        samples++;
      });
    });
    expect(samples).toBeGreaterThan(50);
    // nearly every sample changed (a tiny one can be all clear: under a block, or a small NAL)
    expect(changed / samples).toBeGreaterThan(0.9);
    if (scheme === 'cenc') expect(ivs.size).toBe(samples); // an IV never repeats under the key
  });

  it.each(['360p', 'audio'])('%s: ffmpeg decrypts each chunk back to the clear packets', (r) => {
    const { init, chunks, src } = protect(r, scheme);
    chunks.forEach((c, k) => {
      const theirs = ffmpegPackets(init, c.moof, c.mdat, KEY.key);
      const plain = ffmpegPackets(src.init, src.chunks[k].moof, src.chunks[k].mdat);
      expect(theirs.length).toBeGreaterThan(0);
      expect(theirs).toEqual(plain);
    });
  });
});

describe('headers', () => {
  it.each(['cbcs', 'cenc'] as const)(
    '%s: the protected header is the same every time (a restarted live channel rewrites it unchanged)',
    (scheme) => {
      for (const r of ['360p', 'audio']) {
        const a = new TrackProtector(scheme, KEY, r).protectInit(clear.get(r)!.init);
        const b = new TrackProtector(scheme, KEY, r).protectInit(clear.get(r)!.init);
        expect(a.equals(b), r).toBe(true);
      }
    },
  );
});

describe('refusals', () => {
  it('a sample whose NAL lengths run past its end fails naming the track', () => {
    const src = clear.get('360p')!;
    const p = new TrackProtector('cbcs', KEY, 'rendition 360p');
    p.protectInit(src.init);
    const frag = parseFragment(src.chunks[0].moof, parseInit(src.init).trex).tracks[0];
    const mdat = Buffer.from(src.chunks[0].mdat);
    // the first sample's first NAL length, made larger than the sample
    mdat.writeUInt32BE(0x7fffffff, frag.samples[0].offset - src.chunks[0].moof.length);
    expect(() => p.protectFragment(src.chunks[0].moof, mdat)).toThrow(/^rendition 360p, fragment at \d+: /);
  });

  it('a chunk before the header, and a chunk encrypted twice, are refused with a clear error', () => {
    const src = clear.get('360p')!;
    const p = new TrackProtector('cbcs', KEY, 'rendition 360p');
    expect(() => p.protectFragment(src.chunks[0].moof, src.chunks[0].mdat)).toThrow(/before the header/);
    const init = p.protectInit(src.init);
    const once = p.protectFragment(src.chunks[0].moof, src.chunks[0].mdat);
    const again = new TrackProtector('cbcs', KEY, 'rendition 360p');
    again.protectInit(src.init);
    expect(() => again.protectFragment(once.moof, once.mdat)).toThrow(/already encrypted/);
    expect(init.length).toBeGreaterThan(src.init.length);
  });
});
