import { describe, expect, it } from 'vitest';
import {
  ageHeaderValue,
  correctedInitialAge,
  currentAge,
  freshnessLifetime,
  requestForcesRevalidation,
  staleness,
  storageDecision,
  targetedDirectives,
} from '../../../src/http/freshness.js';

const date = (ms: number) => new Date(ms).toUTCString();

describe('freshness lifetime', () => {
  it('CDN-Cache-Control wins over Surrogate-Control, s-maxage, max-age and Expires', () => {
    const h = {
      'cdn-cache-control': 'max-age=7',
      'surrogate-control': 'max-age=8',
      'cache-control': 's-maxage=9, max-age=10',
      expires: date(Date.now() + 3600_000),
      date: date(Date.now()),
    };
    expect(freshnessLifetime(h)).toBe(7);
    expect(freshnessLifetime({ ...h, 'cdn-cache-control': undefined })).toBe(8);
    expect(freshnessLifetime({ ...h, 'cdn-cache-control': undefined, 'surrogate-control': undefined })).toBe(9);
    expect(freshnessLifetime({ 'cache-control': 'max-age=10' })).toBe(10);
  });
  it('Expires minus Date; invalid Expires means expired; nothing means no explicit lifetime', () => {
    const now = Date.parse('Sun, 06 Nov 1994 08:49:37 GMT');
    expect(freshnessLifetime({ expires: date(now + 120_000), date: date(now) })).toBe(120);
    expect(freshnessLifetime({ expires: '0', date: date(now) })).toBe(0);
    expect(freshnessLifetime({ 'last-modified': date(now - 86400_000) })).toBeUndefined();
  });
});

describe('storability', () => {
  const req = { headers: {} };
  it('stores a fresh 200 and reads swr, sie and immutable', () => {
    const d = storageDecision(req, {
      status: 200,
      headers: { 'cache-control': 'public, max-age=60, stale-while-revalidate=5, stale-if-error=30, immutable' },
    });
    expect(d).toEqual({ store: true, lifetime: 60, staleWhileRevalidate: 5, staleIfError: 30, immutable: true });
  });
  it('never stores 5xx, no-store, private, Set-Cookie, Vary: *, or no lifetime; any other Vary is a variant', () => {
    const cc = { 'cache-control': 'max-age=60' };
    expect(storageDecision(req, { status: 503, headers: cc })).toMatchObject({ store: false, reason: 'status-5xx' });
    expect(storageDecision(req, { status: 200, headers: { 'cache-control': 'no-store, max-age=60' } })).toMatchObject({
      store: false,
    });
    expect(storageDecision(req, { status: 200, headers: { 'cache-control': 'private, max-age=60' } })).toMatchObject({
      store: false,
      reason: 'private',
    });
    expect(storageDecision(req, { status: 200, headers: { ...cc, 'set-cookie': 'a=b' } })).toMatchObject({
      store: false,
    });
    expect(storageDecision(req, { status: 200, headers: { ...cc, vary: 'Cookie' } })).toMatchObject({ store: true });
    expect(storageDecision(req, { status: 200, headers: { ...cc, vary: 'Accept-Encoding, *' } })).toMatchObject({
      store: false,
      reason: 'vary',
    });
    expect(storageDecision(req, { status: 200, headers: {} })).toMatchObject({
      store: false,
      reason: 'no-explicit-freshness',
    });
    expect(storageDecision(req, { status: 206, headers: cc })).toMatchObject({ store: false });
  });
  it('CDN-Cache-Control lets a CDN store what Cache-Control keeps private, and its no-store wins', () => {
    expect(
      storageDecision(req, { status: 200, headers: { 'cache-control': 'private', 'cdn-cache-control': 'max-age=30' } }),
    ).toMatchObject({ store: true, lifetime: 30 });
    expect(
      storageDecision(req, {
        status: 200,
        headers: { 'cache-control': 'max-age=60', 'cdn-cache-control': 'no-store' },
      }),
    ).toMatchObject({ store: false });
  });
  it('requests with Authorization are stored only with explicit shared permission', () => {
    const auth = { headers: { authorization: 'Bearer x' } };
    expect(storageDecision(auth, { status: 200, headers: { 'cache-control': 'max-age=60' } })).toMatchObject({
      store: false,
      reason: 'authorization',
    });
    expect(storageDecision(auth, { status: 200, headers: { 'cache-control': 'public, max-age=60' } })).toMatchObject({
      store: true,
    });
  });
  it('negative-caches 404 briefly when configured', () => {
    const policy = { keyPolicy: { queryParams: [], headers: [] }, negativeTtl: 3 };
    expect(storageDecision(req, { status: 404, headers: {} }, policy)).toMatchObject({ store: true, lifetime: 3 });
    expect(storageDecision(req, { status: 404, headers: {} }, { ...policy, negativeTtl: 0 })).toMatchObject({
      store: false,
    });
  });
  it('no-cache stores with lifetime 0 only when a validator exists; must-revalidate disables stale serving', () => {
    expect(storageDecision(req, { status: 200, headers: { 'cache-control': 'no-cache', etag: '"a"' } })).toMatchObject({
      store: true,
      lifetime: 0,
    });
    expect(storageDecision(req, { status: 200, headers: { 'cache-control': 'no-cache' } })).toMatchObject({
      store: false,
    });
    expect(
      storageDecision(req, {
        status: 200,
        headers: { 'cache-control': 'max-age=1, must-revalidate, stale-if-error=60' },
      }),
    ).toMatchObject({ store: true, staleIfError: 0 });
  });
});

describe('s-maxage forbids stale serving (RFC 9111 §5.2.2.10, §4.2.4)', () => {
  const req = { headers: {} };
  it('s-maxage in Cache-Control clears stale-while-revalidate and stale-if-error, like proxy-revalidate', () => {
    for (const cc of ['s-maxage=1, stale-if-error=60', 's-maxage=1, stale-while-revalidate=60']) {
      expect(storageDecision(req, { status: 200, headers: { 'cache-control': cc } }), cc).toMatchObject({
        store: true,
        lifetime: 1,
        staleWhileRevalidate: 0,
        staleIfError: 0,
      });
    }
    // without s-maxage the same windows are kept
    expect(
      storageDecision(req, { status: 200, headers: { 'cache-control': 'max-age=1, stale-while-revalidate=60' } }),
    ).toMatchObject({ staleWhileRevalidate: 60 });
  });
  it("CDN-Cache-Control governs instead: Cache-Control's s-maxage does not apply (the origin's live playlists)", () => {
    const live = {
      'cache-control': 'public, max-age=0, s-maxage=1',
      'cdn-cache-control': 'max-age=1, stale-while-revalidate=1',
    };
    expect(storageDecision(req, { status: 200, headers: live })).toMatchObject({
      store: true,
      lifetime: 1,
      staleWhileRevalidate: 1,
    });
  });
});

describe('CDN-Cache-Control is a structured-field Dictionary (RFC 9213 §2.1, RFC 8941)', () => {
  const dir = (h: Record<string, string>) => targetedDirectives(h);
  it('ignores parameters and takes the last value of a duplicate key', () => {
    const p = dir({ 'cache-control': 'no-store', 'cdn-cache-control': 'max-age=60;x=1' });
    expect(p.source).toBe('cdn-cache-control');
    expect(freshnessLifetime({ 'cache-control': 'no-store', 'cdn-cache-control': 'max-age=60;x=1' })).toBe(60);
    expect(freshnessLifetime({ 'cdn-cache-control': 'max-age=0, max-age=60' })).toBe(60);
    expect(
      storageDecision({ headers: {} }, { status: 200, headers: { 'cdn-cache-control': 'max-age=60;x=1, no-store;y' } }),
    ).toMatchObject({ store: false, reason: 'no-store' });
  });
  it('an invalid Dictionary is ignored as if absent: Surrogate-Control, then Cache-Control, govern', () => {
    for (const bad of [
      'MAX-AGE=0',
      'max-age=0,',
      'max-age=0 no-store',
      'max-age=1.2345',
      'max-age="0',
      'max-age=0;X=1',
    ]) {
      const d = dir({ 'cache-control': 'max-age=30', 'cdn-cache-control': bad });
      expect(d.source, bad).toBe('cache-control');
      expect(freshnessLifetime({ 'cache-control': 'max-age=30', 'cdn-cache-control': bad }), bad).toBe(30);
    }
    expect(dir({ 'surrogate-control': 'max-age=8', 'cdn-cache-control': 'Max-Age=1' }).source).toBe(
      'surrogate-control',
    );
  });
  it('a valid field whose max-age is not an Integer governs, but that max-age is not consumed', () => {
    // `"60"` is a valid sf-string: not a parsing error, a value violating the directive's type
    const h = { 'cache-control': 'max-age=30', 'cdn-cache-control': 'max-age="60"' };
    expect(dir(h).source).toBe('cdn-cache-control');
    expect(freshnessLifetime(h)).toBeUndefined();
  });
});

describe('age (RFC 9111 §4.2.3)', () => {
  it('takes the larger of apparent age and corrected Age, plus resident time', () => {
    const t0 = 1_000_000_000_000;
    // upstream says Age 10, request took 2 s, Date is 1 s before response
    expect(correctedInitialAge({ age: '10', date: date(t0 + 1000) }, t0, t0 + 2000)).toBe(12);
    // clock-skewed Date far in the past: apparent age dominates (Date's 1 s resolution allowed for)
    expect(correctedInitialAge({ date: date(t0 - 100_000) }, t0, t0)).toBeCloseTo(99.001, 3);
    // a response dated this very second is not aged by the truncation of Date
    expect(correctedInitialAge({ date: date(t0) }, t0, t0 + 500)).toBe(0.5);
    expect(currentAge(12, t0, t0 + 5_500)).toBe(17.5);
    expect(ageHeaderValue(17.5)).toBe('17');
    expect(ageHeaderValue(-1)).toBe('0');
  });
  it('classifies staleness windows', () => {
    const e = { expiresAt: 100, swrUntil: 200, sieUntil: 300 };
    expect(staleness(e, 50)).toBe('fresh');
    expect(staleness(e, 150)).toBe('stale-while-revalidate');
    expect(staleness(e, 250)).toBe('stale-if-error-only');
    expect(staleness(e, 350)).toBe('stale');
  });
  it('an immutable fresh response is not revalidated on client no-cache', () => {
    const h = { 'cache-control': 'no-cache' };
    expect(requestForcesRevalidation(h, { immutable: true, fresh: true })).toBe(false);
    expect(requestForcesRevalidation(h, { immutable: false, fresh: true })).toBe(true);
    expect(requestForcesRevalidation({}, { immutable: false, fresh: true })).toBe(false);
  });
});
