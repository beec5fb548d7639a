/**
 * The primary/backup upstream set: which upstream a request goes to, failover on connect error,
 * 5xx, silence and a broken body, retry of held requests cancelled by a failover, the passive
 * return to the primary, segment affinity. The pools are replaced by a scripted fake (real
 * sockets: test/integration/edge/upstream-failover.test.ts).
 */
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { UpstreamSet } from '../../../edge/upstream-set.js';
import { resolveOptions } from '../../../edge/config.js';
import type { UpstreamResponse } from '../../../edge/upstream.js';

const A = 'http://a.test:1';
const B = 'http://b.test:2';

type Behaviour = (path: string, init: { signal?: AbortSignal; headersTimeoutMs?: number }) => Promise<UpstreamResponse>;

function ok(body = 'ok', status = 200): Promise<UpstreamResponse> {
  return Promise.resolve({ status, headers: {}, body: Readable.from([Buffer.from(body)]) });
}
function fail(code: string): Promise<never> {
  return Promise.reject(Object.assign(new Error(code), { code }));
}
/** Never answers; rejects like undici when the signal aborts. */
const silent: Behaviour = (_p, init) =>
  new Promise((_r, reject) =>
    init.signal?.addEventListener('abort', () =>
      reject(Object.assign(new Error('aborted'), { code: 'UND_ERR_ABORTED' })),
    ),
  );

function harness(behaviour: Record<string, Behaviour>, bases = [A, B]) {
  let now = 1_000_000;
  const calls: { origin: string; path: string; headersTimeoutMs?: number }[] = [];
  const switches: string[][] = [];
  const set = new UpstreamSet(
    {
      request: (origin, path, init) => {
        calls.push({
          origin,
          path,
          ...(init.headersTimeoutMs !== undefined ? { headersTimeoutMs: init.headersTimeoutMs } : {}),
        });
        return behaviour[origin](path, init);
      },
    },
    {
      bases,
      timeoutMs: 500,
      retryInitialMs: 1000,
      now: () => now,
      onSwitch: (f, t, r, scope) => switches.push(scope === undefined ? [f, t, r] : [f, t, r, scope]),
    },
  );
  return {
    set,
    calls,
    switches,
    advance: (ms: number) => {
      now += ms;
    },
  };
}

async function text(r: UpstreamResponse): Promise<string> {
  let s = '';
  for await (const c of r.body as AsyncIterable<Buffer>) s += c.toString();
  return s;
}

describe('UpstreamSet', () => {
  it('fails over to the backup on a connect error, within the same request', async () => {
    const h = harness({ [A]: () => fail('ECONNREFUSED'), [B]: () => ok('from b') });
    const r = await h.set.request('/live/ch/v/index.m3u8', { headers: {} });
    expect(await text(r)).toBe('from b');
    expect(r.upstream).toBe(B);
    expect(h.set.current).toBe(B);
    expect(h.switches).toEqual([[A, B, 'connect']]);
    const st = h.set.state();
    expect(st[0]).toMatchObject({ role: 'primary', healthy: false, current: false, failures: 1 });
    expect(st[1]).toMatchObject({ role: 'backup', healthy: true, current: true });
    // the next request goes straight to the backup (no new attempt on A during its back-off)
    h.calls.length = 0;
    await h.set.request('/x', { headers: {} });
    expect(h.calls.map((c) => c.origin)).toEqual([B]);
  });

  it('fails over on a 5xx and on silence (ordinary requests get the short timeout, held ones keep theirs)', async () => {
    let errorBody: Readable | undefined;
    const h = harness({
      [A]: () => {
        errorBody = Readable.from([Buffer.from('oops')]);
        return Promise.resolve({ status: 503, headers: {}, body: errorBody });
      },
      [B]: () => ok('b'),
    });
    const r = await h.set.request('/seg', { headers: {}, headersTimeoutMs: 10_000 });
    expect(r.status).toBe(200);
    expect(errorBody?.destroyed).toBe(true); // the 5xx body is dropped, its connection freed
    expect(h.switches[0]).toEqual([A, B, '5xx']);
    expect(h.calls[0].headersTimeoutMs).toBe(500);

    const t = harness({ [A]: () => fail('UND_ERR_HEADERS_TIMEOUT'), [B]: () => ok('b') });
    await t.set.request('/live/ch/v/index.m3u8?_HLS_msn=5', { headers: {}, pool: 'held', headersTimeoutMs: 30_000 });
    expect(t.calls[0].headersTimeoutMs).toBe(30_000);
    expect(t.switches[0]).toEqual([A, B, 'timeout']);
  });

  it('cancels requests still waiting on an upstream that goes down and retries them on the backup', async () => {
    let first = true;
    const h = harness({
      [A]: (p, init) => {
        if (p.includes('_HLS_msn')) return silent(p, init); // a held blocking reload
        if (first) {
          first = false;
          return fail('ECONNRESET');
        }
        return ok('a');
      },
      [B]: () => ok('b'),
    });
    const held = h.set.request('/live/ch/v/index.m3u8?_HLS_msn=7&_HLS_part=1', { headers: {}, pool: 'held' });
    await new Promise<void>((r) => setImmediate(r));
    await h.set.request('/live/ch/v/seg-6.3.m4s', { headers: {} }); // fails on A → marks A down
    const r = await held;
    expect(r.upstream).toBe(B);
    expect(await text(r)).toBe('b');
  });

  it('does not retry what the caller cancelled, nor requests that are not GET/HEAD', async () => {
    const ac = new AbortController();
    const h = harness({ [A]: silent, [B]: () => ok('b') });
    const p = h.set.request('/x', { headers: {}, signal: ac.signal });
    ac.abort();
    await expect(p).rejects.toMatchObject({ code: 'UPSTREAM_ABORTED' });
    expect(h.calls.map((c) => c.origin)).toEqual([A]);
    expect(h.set.current).toBe(A);

    const post = harness({ [A]: () => fail('ECONNREFUSED'), [B]: () => ok('b') });
    await expect(post.set.request('/x', { headers: {}, method: 'POST' })).rejects.toMatchObject({
      code: 'UPSTREAM_UNREACHABLE',
    });
    expect(post.calls.map((c) => c.origin)).toEqual([A]);
  });

  it('returns to the primary after the back-off with one trial request; a failed trial doubles the back-off', async () => {
    let aUp = false;
    const h = harness({ [A]: () => (aUp ? ok('a') : fail('ECONNREFUSED')), [B]: () => ok('b') });
    await h.set.request('/1', { headers: {} });
    expect(h.set.current).toBe(B);
    h.advance(1000);
    h.calls.length = 0;
    const trial = await h.set.request('/2', { headers: {} }); // A still down: the trial fails over at once
    expect(trial.upstream).toBe(B);
    expect(h.calls.map((c) => c.origin)).toEqual([A, B]);
    expect(h.set.state()[0].failures).toBe(2);
    h.advance(1000); // back-off is now 2 s
    h.calls.length = 0;
    await h.set.request('/3', { headers: {} });
    expect(h.calls.map((c) => c.origin)).toEqual([B]);
    aUp = true;
    h.advance(1000);
    const back = await h.set.request('/4', { headers: {} });
    expect(back.upstream).toBe(A);
    expect(h.set.current).toBe(A);
    expect(h.switches.map((s) => s[2])).toEqual(['connect', 'recovered']);
    expect(h.set.state()[0]).toMatchObject({ healthy: true, current: true, failures: 0 });
  });

  it('keeps a segment on the upstream that served its first piece while it is healthy (the return never splits one)', async () => {
    let aUp = false;
    const h = harness({ [A]: () => (aUp ? ok('a') : fail('ECONNREFUSED')), [B]: () => ok('b') });
    expect((await h.set.request('/live/ch/v/seg-40.0.m4s', { headers: {} })).upstream).toBe(B);
    aUp = true;
    h.advance(1000);
    expect((await h.set.request('/live/ch/v/index.m3u8', { headers: {} })).upstream).toBe(A);
    expect(h.set.current).toBe(A);
    // segment 40 started on B: its later parts and the whole segment stay there
    expect((await h.set.request('/live/ch/v/seg-40.1.m4s', { headers: {} })).upstream).toBe(B);
    expect((await h.set.request('/live/ch/v/seg-40.m4s', { headers: {} })).upstream).toBe(B);
    // the next segment starts on the primary
    expect((await h.set.request('/live/ch/v/seg-41.0.m4s', { headers: {} })).upstream).toBe(A);
  });

  it('marks an upstream down when a body breaks off midway (the fill fails; the next requests go elsewhere)', async () => {
    const h = harness({
      [A]: () => {
        const body = new Readable({ read() {} });
        body.push(Buffer.from('half'));
        setImmediate(() => body.destroy(Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' })));
        return Promise.resolve({ status: 200, headers: {}, body });
      },
      [B]: () => ok('b'),
    });
    const r = await h.set.request('/live/ch/v/seg-9.m4s', { headers: {} });
    expect(r.upstream).toBe(A);
    await expect(text(r)).rejects.toThrow(/other side closed/);
    expect(h.set.current).toBe(B);
    expect(h.switches[0]).toEqual([A, B, 'body']);
  });

  it('an upstream under duress (CMSD-Dynamic du) outside a live channel: its answer is used, new requests go to the backup until a trial finds it well', async () => {
    let duress = true;
    let release: (() => void) | undefined;
    const held: AbortSignal[] = [];
    const h = harness({
      [A]: (p, init) => {
        if (p.includes('_HLS_msn')) {
          if (init.signal) held.push(init.signal);
          return silent(p, init);
        }
        const answer = () => ({
          status: 200,
          headers: duress ? { 'cmsd-dynamic': '"origin-a";du' } : {},
          body: Readable.from([Buffer.from('from a')]),
        });
        if (p.endsWith('/late.m4s')) return new Promise((resolve) => (release = () => resolve(answer())));
        return Promise.resolve(answer());
      },
      [B]: () => ok('from b'),
    });
    // a held request on A and one slow to answer, then an answer that says A is under duress
    void h.set.request('/live/ch/v/index.m3u8?_HLS_msn=9', { headers: {}, pool: 'held' }).catch(() => undefined);
    const late = h.set.request('/vod/a/v/late.m4s', { headers: {} });
    const r = await h.set.request('/vod/a/v/seg-1.m4s', { headers: {} });
    expect([r.upstream, await text(r)]).toEqual([A, 'from a']);
    expect(h.switches).toEqual([[A, B, 'duress']]);
    expect(h.set.state()[0]).toMatchObject({ healthy: false, lastError: 'under duress (CMSD-Dynamic du)' });
    expect(held[0].aborted).toBe(false); // in-flight requests to A carry on
    // an answer of A in flight since before says du too: the back-off is not lengthened
    release!();
    expect((await late).upstream).toBe(A);
    expect(h.set.state()[0]).toMatchObject({ failures: 1 });
    h.calls.length = 0;
    expect((await h.set.request('/vod/a/v/seg-2.m4s', { headers: {} })).upstream).toBe(B);
    // after the back-off one trial goes to A: still under duress, back to B with a doubled back-off
    h.advance(1000);
    expect((await h.set.request('/vod/a/v/seg-3.m4s', { headers: {} })).upstream).toBe(A);
    expect(h.set.current).toBe(B);
    h.advance(1000);
    expect((await h.set.request('/vod/a/v/seg-4.m4s', { headers: {} })).upstream).toBe(B);
    duress = false;
    h.advance(1000);
    expect((await h.set.request('/vod/a/v/seg-5.m4s', { headers: {} })).upstream).toBe(A);
    expect(h.set.current).toBe(A);
    expect(h.switches.at(-1)).toEqual([B, A, 'recovered']);
    // with one upstream, duress changes nothing
    const one = harness(
      {
        [A]: () =>
          Promise.resolve({
            status: 200,
            headers: { 'cmsd-dynamic': '"a";du' },
            body: Readable.from([Buffer.from('a')]),
          }),
      },
      [A],
    );
    await one.set.request('/x', { headers: {} });
    expect(one.set.state()[0]).toMatchObject({ healthy: true, current: true });
  });

  it("duress on a live channel's answer moves that channel alone, also behind a signed path; its segment in progress stays", async () => {
    let duress = true;
    const h = harness({
      [A]: (p) =>
        Promise.resolve({
          status: 200,
          headers: duress && p.startsWith('/live/ch/') ? { 'cmsd-dynamic': '"origin-a";du' } : {},
          body: Readable.from([Buffer.from('from a')]),
        }),
      [B]: () => ok('from b'),
    });
    const r = await h.set.request('/live/ch/v/seg-1.0.m4s', { headers: {} });
    expect([r.upstream, await text(r)]).toEqual([A, 'from a']);
    expect(h.switches).toEqual([[A, B, 'duress', '/live/ch/']]);
    expect(h.set.current).toBe(A);
    expect(h.set.state()[0]).toMatchObject({
      healthy: true,
      current: true,
      duress: [{ scope: '/live/ch/', failures: 1, retryAt: new Date(1_001_000).toISOString() }],
    });
    const via = async (target: string) => (await h.set.request(target, { headers: {} })).upstream;
    expect(await via('/live/ch/v/seg-2.m4s')).toBe(B);
    expect(await via('/live/ch/v/index.m3u8?_HLS_msn=3')).toBe(B);
    expect(await via('/t/abc.def/live/ch/v/index.m3u8')).toBe(B);
    expect(await via('/live/other/v/seg-2.m4s')).toBe(A);
    expect(await via('/vod/a/master.m3u8')).toBe(A);
    // the segment A started is not split between two encoders; its du does not lengthen the back-off
    expect(await via('/live/ch/v/seg-1.1.m4s')).toBe(A);
    expect(h.set.state()[0].duress).toMatchObject([{ failures: 1 }]);
    // the trial after the back-off: still under duress, a doubled back-off, no second switch
    h.advance(1000);
    expect(await via('/live/ch/v/seg-3.m4s')).toBe(A);
    expect(h.set.state()[0].duress).toMatchObject([{ failures: 2 }]);
    h.advance(1000);
    expect(await via('/live/ch/v/seg-4.m4s')).toBe(B);
    duress = false;
    h.advance(1000);
    expect(await via('/live/ch/v/seg-5.m4s')).toBe(A);
    expect(h.switches).toEqual([
      [A, B, 'duress', '/live/ch/'],
      [B, A, 'recovered', '/live/ch/'],
    ]);
    expect(h.set.state()[0].duress).toBeUndefined();
    expect(await via('/live/ch/v/seg-6.m4s')).toBe(A);
  });

  it("a 5xx on a live channel's path moves that channel alone (its other channels and VOD stay); a trial brings it back", async () => {
    let down = true;
    const h = harness({
      [A]: (p) => (down && p.startsWith('/live/ch/') ? ok('{"error":"starting"}', 503) : ok('from a')),
      [B]: () => ok('from b'),
    });
    const via = async (target: string) => (await h.set.request(target, { headers: {} })).upstream;
    // A served the segment's first piece before its encoder failed
    down = false;
    expect(await via('/live/ch/v/seg-1.0.m4s')).toBe(A);
    down = true;
    const r = await h.set.request('/live/ch/v/index.m3u8', { headers: {} });
    expect([r.status, r.upstream, await text(r)]).toEqual([200, B, 'from b']);
    expect(h.switches).toEqual([[A, B, '5xx', '/live/ch/']]);
    expect(h.set.current).toBe(A);
    expect(h.set.state()[0]).toMatchObject({
      healthy: true,
      current: true,
      channelsDown: [
        { scope: '/live/ch/', failures: 1, retryAt: new Date(1_001_000).toISOString(), lastError: 'answered 503' },
      ],
    });
    expect(h.set.state()[0].duress).toBeUndefined();
    h.calls.length = 0;
    expect(await via('/live/ch/v/seg-2.m4s')).toBe(B);
    expect(await via('/t/abc.def/live/ch/v/index.m3u8')).toBe(B);
    // its segment in progress is not kept on A (it may never be finished there)
    expect(await via('/live/ch/v/seg-1.1.m4s')).toBe(B);
    expect(h.calls.map((c) => c.origin)).toEqual([B, B, B]);
    expect(await via('/live/other/v/seg-2.m4s')).toBe(A);
    expect(await via('/vod/a/master.m3u8')).toBe(A);
    // the trial after the back-off: still 503, a doubled back-off, the request answered by B
    h.advance(1000);
    expect(await via('/live/ch/v/seg-3.m4s')).toBe(B);
    expect(h.set.state()[0].channelsDown).toMatchObject([{ failures: 2 }]);
    down = false;
    h.advance(2000);
    expect(await via('/live/ch/v/seg-4.m4s')).toBe(A);
    expect(h.set.state()[0].channelsDown).toBeUndefined();
    expect(h.switches.at(-1)).toEqual([B, A, 'recovered', '/live/ch/']);
  });

  it("an answer to a request in flight since before a channel's 5xx does not bring the channel back", async () => {
    let release: (() => void) | undefined;
    const h = harness({
      [A]: (p) =>
        p.includes('_HLS_msn')
          ? new Promise(
              (resolve) => (release = () => resolve({ status: 200, headers: {}, body: Readable.from(['a']) })),
            )
          : ok('gone', 503),
      [B]: () => ok('from b'),
    });
    const held = h.set.request('/live/ch/v/index.m3u8?_HLS_msn=4', { headers: {}, pool: 'held' });
    await new Promise<void>((r) => setImmediate(r));
    expect((await h.set.request('/live/ch/v/seg-3.m4s', { headers: {} })).upstream).toBe(B);
    release!();
    expect((await held).upstream).toBe(A);
    expect(h.set.state()[0].channelsDown).toMatchObject([{ scope: '/live/ch/', failures: 1 }]);
    expect((await h.set.request('/live/ch/v/index.m3u8', { headers: {} })).upstream).toBe(B);
  });

  it('with one upstream, a failure is the answer (no retry, nothing cancelled) and a 5xx passes through', async () => {
    const h = harness({ [A]: () => fail('ECONNREFUSED') }, [A]);
    await expect(h.set.request('/x', { headers: {} })).rejects.toMatchObject({ code: 'UPSTREAM_UNREACHABLE' });
    expect(h.calls.length).toBe(1);
    const five = harness({ [A]: () => ok('down', 502) }, [A]);
    expect((await five.set.request('/x', { headers: {}, headersTimeoutMs: 10_000 })).status).toBe(502);
    expect(five.calls[0].headersTimeoutMs).toBe(10_000);
  });

  it('when every upstream fails, the last answer or error is returned after trying each once', async () => {
    const h = harness({ [A]: () => fail('ECONNREFUSED'), [B]: () => ok('bad gateway', 502) });
    const r = await h.set.request('/x', { headers: {} });
    expect(r.status).toBe(502);
    expect(h.calls.map((c) => c.origin)).toEqual([A, B]);
  });
});

describe('--upstream a,b', () => {
  it('takes a comma-separated list (primary first) and refuses empty entries and duplicates', () => {
    const o = resolveOptions({ upstream: 'http://127.0.0.1:8081, https://b.example:8443/prefix/' });
    expect(o.upstreams).toEqual(['http://127.0.0.1:8081', 'https://b.example:8443/prefix']);
    expect(o.upstream.href).toBe('http://127.0.0.1:8081/');
    expect(o.upstreamTimeoutMs).toBe(3000);
    expect(() => resolveOptions({ upstream: 'http://a:1,' })).toThrow(/expected <url>\[,<url>\.\.\.\]/);
    expect(() => resolveOptions({ upstream: 'http://a:1,http://a:1/' })).toThrow(/names the same upstream twice/);
    expect(() => resolveOptions({ upstream: 'http://a:1,ftp://b' })).toThrow(/must be http:\/\/ or https:\/\//);
    expect(() => resolveOptions({ upstream: 'http://a:1', upstreamTimeoutMs: 0 })).toThrow(/--upstream-timeout/);
  });
});
