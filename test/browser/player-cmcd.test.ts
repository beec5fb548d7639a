/**
 * CMCD (CTA-5004) from our browser player, end to end: the demo stack (origin → shield → edge),
 * the page in Chromium with `?cmcd=query` or `?cmcd=headers`, and the edge's access log
 * (logs/edge.log, one JSON line per request). The edge must see the session id the player sent,
 * the object types, and, after the link is starved until the player stalls, the buffer-starvation
 * flag (bs) on a later request of the same session, count it in its metrics and list the session
 * in /_edge/cmcd/sessions.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, CDPSession, Page } from 'playwright-core';
import { launchChromium } from '../../bench/chromium-launch.js';
import { startDemoStack, type DemoStack } from '../../bench/abr-qoe/demo-stack.js';
import { parseCmcd } from '../../src/http/cmcd.js';

interface EdgeLogLine {
  msg?: string;
  method?: string;
  result?: string;
  cacheStatus?: string;
  url?: string;
  status?: number;
  cmcd?: { sid?: string; ot?: string; bs?: boolean };
}

let dir: string;
let stack: DemoStack;
let browser: Browser;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'streamedge-cmcd-'));
  stack = await startDemoStack(dir);
  browser = await launchChromium();
}, 600_000);

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
  rmSync(dir, { recursive: true, force: true });
}, 60_000);

/** The edge's access-log lines (one per request) so far. */
function edgeRequests(): EdgeLogLine[] {
  const out: EdgeLogLine[] = [];
  for (const line of readFileSync(join(dir, 'logs', 'edge.log'), 'utf8').split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      const j = JSON.parse(line) as EdgeLogLine;
      if (j.msg === 'request') out.push(j);
    } catch {
      /* a line still being written */
    }
  }
  return out;
}

/** The edge's access-log lines for requests whose CMCD carried `sid`. */
function edgeLines(sid: string): EdgeLogLine[] {
  return edgeRequests().filter((l) => l.cmcd?.sid === sid);
}

/** Opens the page with our player and CMCD on; records the CMCD the browser sent to the edge. */
async function open(
  mode: 'query' | 'headers',
): Promise<{ page: Page; sent: Map<string, string | number | boolean>[] }> {
  const page = await browser.newPage();
  const sent: Map<string, string | number | boolean>[] = [];
  page.on('request', (r) => {
    if (!r.url().startsWith(stack.edgeUrl)) return;
    if (mode === 'query') {
      const q = new URL(r.url()).searchParams.get('CMCD');
      if (q !== null) sent.push(parseCmcd(q));
    } else {
      const h = r.headers();
      const all = ['cmcd-object', 'cmcd-request', 'cmcd-session', 'cmcd-status']
        .map((k) => h[k])
        .filter((v): v is string => v !== undefined);
      if (all.length) sent.push(parseCmcd(all.join(',')));
    }
  });
  const src = `${stack.edgeUrl}/vod/sample/master.m3u8`;
  await page.goto(`${stack.pageUrl}?cmcd=${mode}&engine=ours&src=${encodeURIComponent(src)}`);
  await page.waitForFunction(
    () => {
      const s = window.__streamedge.stats() as { startupMs: number | null; currentTime: number };
      return s.startupMs !== null && s.currentTime >= 1;
    },
    undefined,
    { timeout: 90_000, polling: 250 },
  );
  return { page, sent };
}

const sidOf = (sent: Map<string, string | number | boolean>[]): string => {
  const sids = new Set(sent.map((m) => m.get('sid')));
  expect(sids.size).toBe(1);
  const sid = [...sids][0];
  expect(typeof sid).toBe('string');
  return sid as string;
};

describe('CMCD from our player, seen by the edge', () => {
  it('query mode: the edge logs the session id and object types, and bs after a stall', async () => {
    const { page, sent } = await open('query');
    const sid = sidOf(sent);
    expect(sid).toMatch(/^[0-9a-f-]{36}$/);
    // What the player sent: buffer length and encoded bitrate on media, the stream and format keys.
    const video = sent.filter((m) => m.get('ot') === 'v');
    expect(video.length).toBeGreaterThan(0);
    for (const m of video) {
      expect(typeof m.get('br')).toBe('number');
      expect(m.get('sf')).toBe('h');
      expect(m.get('st')).toBe('v');
      expect(m.has('tb')).toBe(true);
    }
    expect(video.some((m) => typeof m.get('bl') === 'number' && (m.get('bl') as number) > 0)).toBe(true);
    // The edge saw the same session, with manifest, init, video and audio object types.
    await expect
      .poll(() => new Set(edgeLines(sid).map((l) => l.cmcd?.ot)), { timeout: 10_000 })
      .toEqual(new Set(['m', 'i', 'v', 'a']));
    expect(edgeLines(sid).every((l) => l.status === 200)).toBe(true);
    expect(edgeLines(sid).some((l) => l.cmcd?.bs)).toBe(false);

    // Starve the link until the player stalls, then give it back.
    const cdp: CDPSession = await page.context().newCDPSession(page);
    await cdp.send('Network.enable');
    await cdp.send('Network.emulateNetworkConditions', {
      offline: false,
      latency: 0,
      downloadThroughput: 20_000,
      uploadThroughput: -1,
    });
    await page.waitForFunction(() => (window.__streamedge.stats() as { stalls: number }).stalls >= 1, undefined, {
      timeout: 90_000,
      polling: 250,
    });
    await cdp.send('Network.emulateNetworkConditions', {
      offline: false,
      latency: 0,
      downloadThroughput: -1,
      uploadThroughput: -1,
    });
    // The next request of the session says so (bs), and the edge logs it.
    await expect.poll(() => edgeLines(sid).some((l) => l.cmcd?.bs === true), { timeout: 30_000 }).toBe(true);
    // (Playwright's request events can reach this process after the edge's log line does)
    await expect.poll(() => sent.some((m) => m.get('bs') === true), { timeout: 10_000 }).toBe(true);
    await expect.poll(() => sent.some((m) => m.get('su') === true), { timeout: 10_000 }).toBe(true);
    // ... and its metrics count the signal and the starved session (summed over the demo edge's workers)
    // the player keeps requesting: count the logged lines first, then read the metrics (each
    // request is counted before its line is logged)
    const logged = edgeLines(sid).length;
    const metrics = await (await fetch(`${stack.edgeUrl}/_edge/metrics`)).text();
    const total = (name: string): number =>
      metrics
        .split('\n')
        .filter((l) => l.startsWith(name) && /^[a-z_]+(\{[^}]*\})? /.test(l) && l.split(/[{ ]/)[0] === name)
        .reduce((a, l) => a + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
    expect(total('edge_cmcd_buffer_starvation_total')).toBeGreaterThanOrEqual(1);
    expect(total('edge_cmcd_starved_sessions')).toBeGreaterThanOrEqual(1);
    expect(total('edge_cmcd_requests_total')).toBeGreaterThanOrEqual(logged);
    // ... and its per-session view (admin token) lists this session with the signal and the
    // player's latest bitrate and buffer, its requests counted across the edge's workers
    const token = readFileSync(join(dir, 'admin-token'), 'utf8').trim();
    const sessions = (await (
      await fetch(`${stack.edgeUrl}/_edge/cmcd/sessions?sid=${encodeURIComponent(sid)}`, {
        headers: { authorization: `Bearer ${token}` },
      })
    ).json()) as {
      list: { sid: string; requests: number; starvations: number; br?: number; bl?: number; st?: string }[];
    };
    expect(sessions.list).toHaveLength(1);
    const mine = sessions.list[0];
    expect(mine.starvations).toBeGreaterThanOrEqual(1);
    expect(mine.requests).toBeGreaterThanOrEqual(logged);
    expect(mine.st).toBe('v');
    expect(typeof mine.br).toBe('number');
    expect(typeof mine.bl).toBe('number');
    await page.close();
  });

  it('headers mode: the CMCD-* headers reach the edge (CORS allows them) and it logs the session', async () => {
    const { page, sent } = await open('headers');
    const sid = sidOf(sent);
    await expect
      .poll(() => new Set(edgeLines(sid).map((l) => l.cmcd?.ot)), { timeout: 10_000 })
      .toEqual(new Set(['m', 'i', 'v', 'a']));
    // Headers, not the query: the logged URLs carry no CMCD argument.
    expect(edgeLines(sid).every((l) => !/[?&]CMCD=/.test(l.url ?? ''))).toBe(true);
    // the page is on another origin: Chromium preflights each media URL, and the edge answers
    // those itself (before, each went through the shield to the origin)
    const preflights = edgeRequests().filter((l) => l.method === 'OPTIONS');
    expect(preflights.length).toBeGreaterThan(0);
    for (const p of preflights) {
      expect(p.result).toBe('preflight');
      expect(p.cacheStatus).toBe('edge; detail=preflight');
    }
    const s = (await page.evaluate(() => window.__streamedge.stats())) as { pageErrors: string[]; stalls: number };
    expect(s.pageErrors).toEqual([]);
    await page.close();
  });
});
