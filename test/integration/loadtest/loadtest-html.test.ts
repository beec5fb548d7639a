/**
 * `loadtest --html`: a real run (CLI, against the instant live stub on loopback) writes one
 * self-contained page; Debian's Chromium opens it with every network request refused, and the
 * charts are drawn: a line for each time series, bars for each TTFB histogram, and the edge's hit
 * ratio when the target serves edge metrics.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../../../bench/chromium-launch.js';
import { renderHtmlReport } from '../../../bench/loadtest/html-report.js';
import { runLoadTest } from '../../../bench/loadtest/run.js';
import { startFakeServer } from './fake-stream-server.js';
import { startStubServer, type StubServer } from '../../../bench/loadtest/stub-live-server.js';

describe('loadtest --html', () => {
  let stub: StubServer;
  let dir: string;
  let browser: Browser | undefined;

  beforeAll(async () => {
    stub = await startStubServer();
    dir = await mkdtemp(join(tmpdir(), 'loadtest-html-'));
  });
  afterAll(async () => {
    await browser?.close();
    await stub.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('writes a page whose charts Chromium draws without fetching anything', async () => {
    const html = join(dir, 'report.html');
    const child = spawn(
      process.execPath,
      [
        'bin/streamedge.js',
        'loadtest',
        stub.url,
        '--viewers',
        '6',
        '--ramp',
        '1s',
        '--duration',
        '4s',
        '--workers',
        '1',
        '--quiet',
        '--html',
        html,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code, stderr).toBe(0);
    const text = await readFile(html, 'utf8');
    expect(text).not.toMatch(/<script[^>]+src=|<link[^>]+href=|https?:\/\/(?!127\.0\.0\.1)[a-z]/i);

    browser = await launchChromium();
    const page = await browser.newPage();
    const fetched: string[] = [];
    await page.route('**/*', (route) => {
      const url = route.request().url();
      if (url.startsWith('file:')) return route.continue();
      fetched.push(url);
      return route.abort();
    });
    await page.goto(pathToFileURL(html).href);
    const drawn = await page.evaluate(() => {
      const out: Record<string, { points: number; width: number; bars: number }> = {};
      for (const fig of Array.from(document.querySelectorAll<HTMLElement>('figure[data-chart]'))) {
        const path = fig.querySelector<SVGPathElement>('path.series');
        const bars = Array.from(fig.querySelectorAll<SVGRectElement>('rect.bar')).filter((r) => r.getBBox().height > 0);
        out[fig.dataset.chart!] = {
          points: (path?.getAttribute('d') ?? '').split(/[ML]/).filter(Boolean).length,
          width: path ? path.getBBox().width : 0,
          bars: bars.length,
        };
      }
      return out;
    });
    expect(fetched).toEqual([]);
    for (const id of ['viewers', 'requests', 'stalls', 'bitrate', 'latency']) {
      expect(drawn[id]?.points, id).toBeGreaterThanOrEqual(3);
      expect(drawn[id]?.width, id).toBeGreaterThan(10);
    }
    for (const kind of ['playlist', 'part', 'init']) expect(drawn[`ttfb-${kind}`]?.bars, kind).toBeGreaterThan(0);
    const data = JSON.parse((await page.locator('#report-data').textContent()) ?? '{}') as {
      viewers?: { started?: number };
    };
    expect(data.viewers?.started).toBe(6);
    expect(await page.locator('figure[data-chart="hit-ratio"]').count()).toBe(0); // the stub has no edge metrics
  });

  it("draws the edge's hit ratio when the target's metrics are reachable", async () => {
    const edge = await startFakeServer(); // speaks /_edge/metrics: first fetch of a URL a miss, later ones hits
    try {
      const r = await runLoadTest({ url: `${edge.url}/vod/asset/master.m3u8`, viewers: 3, rampSec: 0, durationSec: 2 });
      expect(r.edge?.hitRatio).toBeGreaterThan(0);
      const html = join(dir, 'edge.html');
      await writeFile(html, renderHtmlReport(r));
      browser ??= await launchChromium();
      const page = await browser.newPage();
      await page.goto(pathToFileURL(html).href);
      const width = await page
        .locator('figure[data-chart="hit-ratio"] rect.bar')
        .evaluate((el) => (el as SVGRectElement).getBBox().width);
      expect(width).toBeCloseTo(560 * r.edge!.hitRatio!, 0);
    } finally {
      await edge.close();
    }
  });
});
