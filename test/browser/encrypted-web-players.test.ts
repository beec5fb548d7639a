/**
 * Our encrypted CMAF played by players we did not write, in Debian's Chromium, whose Clear Key
 * CDM decrypts in the browser's media pipeline, not in our code: Shaka Player (npm
 * `shaka-player`) on HLS (SAMPLE-AES, KEYFORMAT "identity": it fetches the raw key) and DASH
 * (ContentProtection with the Clear Key license URL: it POSTs a license request), and dash.js on
 * DASH; cbcs and cenc, through an edge in front of the origin (keys and licenses pass it
 * uncached). Without the origin's keys the key request fails and the player plays nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { fixture } from '../../media-fixtures/generate.js';
import type { ContentKey } from '../../src/cenc/content-keys.js';
import { packageSmall, startBrowserRig, type BrowserRig } from '../support/browser-rig.js';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

const KEY: ContentKey = {
  kid: '5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e',
  key: Buffer.from('102030405060708090a0b0c0d0e0f000', 'hex'),
};
let rig: BrowserRig;
let edgeUrl = '';
let bareOrigin = '';

beforeAll(async () => {
  rig = await startBrowserRig('se-enc-shaka-');
  const root = join(rig.dir, 'root');
  mkdirSync(root);
  const origin = await rig.origin({ root, contentKeys: [KEY] });
  bareOrigin = await rig.origin({ root });
  edgeUrl = (await rig.edge(origin, 'edge')).url;
  const input = await fixture('small');
  // Shaka and dash.js resolve a relative dashif:Laurl against the page: the MPDs name it absolutely
  for (const scheme of ['cbcs', 'cenc'] as const) {
    await packageSmall(rig.dir, input, scheme, {
      protection: { scheme, key: KEY, licenseUrl: `${edgeUrl}/vod/${scheme}/keys/clearkey` },
    });
  }
}, 300_000);

afterAll(async () => {
  await rig?.close();
});

interface Seen {
  t: number;
  keys: boolean;
  errors: string[];
}

async function open(src: string, engine = 'shaka'): Promise<Page> {
  const page = await rig.browser.newPage();
  await page.goto(`${rig.pages.url}?src=${encodeURIComponent(src)}&engine=${engine}`);
  return page;
}

function seen(page: Page): Promise<Seen> {
  return page.evaluate(() => {
    const v = document.querySelector('video')!;
    const s = window.__streamedge.stats() as { errors?: string[] };
    return { t: v.currentTime, keys: v.mediaKeys !== null, errors: s.errors ?? [] };
  });
}

describe('Shaka Player and dash.js in Chromium play our encrypted output', () => {
  it.each([
    ['shaka', 'cbcs', 'master.m3u8'],
    ['shaka', 'cbcs', 'manifest.mpd'],
    ['shaka', 'cenc', 'manifest.mpd'],
    ['dashjs', 'cbcs', 'manifest.mpd'],
    ['dashjs', 'cenc', 'manifest.mpd'],
  ])('%s, %s %s through the edge: the CDM decrypts and the playhead passes 2.5 s', async (engine, scheme, manifest) => {
    const page = await open(`${edgeUrl}/vod/${scheme}/${manifest}`, engine);
    try {
      await page.waitForFunction(() => document.querySelector('video')!.currentTime > 2.5, undefined, {
        timeout: 60_000,
        polling: 100,
      });
      const s = await seen(page);
      expect(s.keys).toBe(true);
      expect(s.errors).toEqual([]);
    } finally {
      await page.close();
    }
  });

  it('an origin without the keys: the key request fails, Shaka says so, and nothing plays', async () => {
    const page = await open(`${bareOrigin}/vod/cbcs/master.m3u8`);
    try {
      await page.waitForFunction(
        () => ((window.__streamedge.stats() as { errors?: string[] }).errors ?? []).length > 0,
        undefined,
        { timeout: 60_000, polling: 100 },
      );
      const s = await seen(page);
      expect(s.errors.join(' ')).toMatch(/shaka error 1001\b/); // BAD_HTTP_STATUS: the key's 404
      expect(s.t).toBe(0);
    } finally {
      await page.close();
    }
  });
});
