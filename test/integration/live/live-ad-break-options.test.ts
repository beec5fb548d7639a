/**
 * `streamedge origin`'s live ad-break options through the real CLI: `--live-cue-tags` and
 * `--live-interstitial` (with `--live-interstitial-restrict`) reach the channel, whose playlists then
 * carry a break cued through the API as CUE-OUT segment tags and as an HLS Interstitial; the
 * options' mistakes are refused with one line before any channel starts. (What the tags say is
 * live-ad-breaks.test.ts's; this is the flags' way in.) Real ffmpeg (lavfi), real sockets.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { oneLine, runCli, startOriginCli } from '../packager/cli-run.js';
import { TEST_SOURCE, until, writeTinyLadder } from './live-helpers.js';

const CREDENTIAL = 'cue-credential-for-tests-0123456789';
const AD = 'https://ads.example/pod/master.m3u8';
const dir = mkdtempSync(join(tmpdir(), 'se-live-ad-options-'));
let stop: (() => Promise<void>) | undefined;

afterAll(async () => {
  await stop?.();
  rmSync(dir, { recursive: true, force: true });
});

describe('streamedge origin: the live ad-break options', () => {
  it('--live-cue-tags and --live-interstitial put a cued break in the playlists both ways', async () => {
    const credentialFile = join(dir, 'cue-credential');
    writeFileSync(credentialFile, CREDENTIAL);
    const root = join(dir, 'root');
    mkdirSync(root);
    const args = ['origin', '--root', root, '--port', '0', '--live', `ch=${TEST_SOURCE}`, '--segment', '1'];
    args.push('--live-ladder', writeTinyLadder(dir), '--cue-credential-file', credentialFile, '--log-level', 'warn');
    args.push('--live-cue-tags', '--live-interstitial', AD, '--live-interstitial-restrict', 'skip');
    const origin = await startOriginCli(args);
    stop = origin.stop;
    const base = origin.url;
    const playlist = async () => {
      const res = await fetch(`${base}/live/ch/180p/index.m3u8`);
      return res.ok ? res.text() : '';
    };
    await until(async () => (await playlist()).includes('#EXTINF'), 30_000, 'the channel’s first segment');
    const res = await fetch(`${base}/_live/ch/ad-breaks`, {
      method: 'POST',
      headers: { authorization: `Bearer ${CREDENTIAL}`, 'content-type': 'application/json' },
      body: JSON.stringify({ duration: 2 }),
    });
    expect(res.status).toBe(201);
    const { startsWithSegment, startDate } = (await res.json()) as { startsWithSegment: number; startDate: string };
    // the segment the break starts with, once listed, carries the CUE-OUT (--live-cue-tags)
    const text = await until(
      async () => {
        const t = await playlist();
        return t.includes(`\nseg-${startsWithSegment}.m4s`) && t;
      },
      30_000,
      `segment ${startsWithSegment}`,
    );
    const lines = text.split('\n');
    const at = lines.indexOf(`seg-${startsWithSegment}.m4s`);
    expect(
      lines
        .slice(0, at)
        .reverse()
        .find((l) => l.startsWith('#EXT-X-CUE')),
    ).toBe('#EXT-X-CUE-OUT:2.000');
    // and the interstitial (--live-interstitial, --live-interstitial-restrict)
    expect(lines.filter((l) => l.includes('com.apple.hls.interstitial'))).toEqual([
      `#EXT-X-DATERANGE:ID="ad-1",CLASS="com.apple.hls.interstitial",START-DATE="${startDate}",` +
        `X-ASSET-URI="${AD}",X-RESUME-OFFSET=2,X-PLAYOUT-LIMIT=2,X-RESTRICT="SKIP"`,
    ]);
  }, 90_000);

  it('refuses a relative ad URL, both sources, and a restriction with no ad, in one line', async () => {
    const root = join(dir, 'refused'); // (a folder that serves: only the options are wrong)
    mkdirSync(root);
    const base = ['origin', '--root', root, '--port', '0', '--live', `ch=${TEST_SOURCE}`];
    const cases: [string[], RegExp][] = [
      [['--live-interstitial', 'ads/pod.m3u8'], /--live-interstitial must be an absolute http\(s\) URL/],
      [['--live-interstitial', AD, '--live-interstitial-list', AD], /give one of the two/],
      [['--live-interstitial-restrict', 'jump'], /--live-interstitial-restrict needs --live-interstitial/],
    ];
    for (const [extra, message] of cases) {
      const r = await runCli([...base, ...extra]);
      expect(r.code, r.stderr).toBe(1);
      expect(oneLine(r.stderr)).toMatch(message);
    }
  }, 60_000);
});
