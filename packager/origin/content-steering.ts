/**
 * The origin as an HLS Content Steering server (src/hls/content-steering.ts): with `--steering
 * <id>=<url>` (one per CDN, in order of preference) every multivariant playlist it serves names
 * `GET /steering` as its steering server, and that answers a Steering Manifest whose Pathway
 * Clones offer the playlist's own (relative) URIs on each CDN's host, ordered by what the origin
 * sees of each CDN right now:
 *
 * - it asks each CDN's `/_edge/health` every `probeMs` (a streamedge edge answers 200 when well,
 *   503 when degraded); 2xx or 4xx (another CDN, which has no such path, answering at all) is
 *   well, 503 is degraded, no answer within `probeTimeoutMs` or another 5xx is a miss, and a CDN
 *   that was well is down after `probeMisses` misses in a row (one slow answer does not move every
 *   new player off a well CDN); a refused connection (nothing listens there) is down at once;
 * - first comes the CDN the player already uses (`_HLS_pathway`, which every player sends with
 *   each reload) while it is well, so a player is not moved between CDNs at every reload; a player
 *   that has none yet (or whose CDN is no longer well) gets the first well CDN in the configured
 *   order, or, with weights (`--steering-weight cdn-a=70`), a well CDN drawn by weight, which is
 *   how traffic is split between CDNs (a weight of 0 takes a CDN out of new draws and moves its
 *   players off at their next reload, while it stays listed for failover);
 * - then the other well CDNs in the configured order, the degraded ones, the down ones, and "."
 *   (wherever the player got its playlist from), so a player never runs out of Pathways while any
 *   CDN answers.
 *
 * Clones replace the hostname only (as hls.js does): the CDNs share the scheme and port of the URL
 * the player loaded, and differ by host name, as CDNs do. The manifest is `no-store`: it is the
 * state of the CDNs at that moment, for that player. Its TTL (`--steering-ttl`) is how long a
 * player keeps to it.
 */
import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { request } from 'undici';
import { StreamedgeError } from '../../src/errors.js';
import {
  DEFAULT_PATHWAY,
  PATHWAY_ID,
  type SteeringManifest,
  contentSteeringTag,
  withContentSteering,
} from '../../src/hls/content-steering.js';
import { dashPathways, withDashContentSteering } from '../../src/dash/content-steering.js';

export interface SteeringPathway {
  id: string;
  /** The CDN's base URL, e.g. https://cdn-a.example.com (its hostname is what clones use). */
  url: string;
  /**
   * Its share of the players that choose a CDN (any weight set: CDNs without one weigh 0);
   * no weights at all: the first well CDN in order takes them.
   */
  weight?: number;
}

export interface SteeringOptions {
  pathways: SteeringPathway[];
  /** Seconds a player keeps to a manifest before it asks again (default 10). */
  ttlSec?: number;
  /** SERVER-URI written in the playlists (default `/steering`: asked of the CDN that served it). */
  serverUri?: string;
  /** How often each CDN's health is asked (default 2 s), and how long an answer may take (1 s). */
  probeMs?: number;
  probeTimeoutMs?: number;
  /**
   * Probes in a row that time out or answer a 5xx other than 503 before a well CDN is down
   * (default 3, as a Varnish probe's window goes sick after a few bad polls); an answer resets it.
   */
  probeMisses?: number;
}

export type PathwayState = 'ok' | 'degraded' | 'down' | 'unknown';

interface Tracked extends SteeringPathway {
  host: string;
  state: PathwayState;
  /** The last probe's outcome, for the origin's /health and the log. */
  detail: string;
  since: number;
  /** Misses in a row since its last answer. */
  misses: number;
}

const RANK: Record<PathwayState, number> = { ok: 0, unknown: 1, degraded: 2, down: 3 };

/** Parses `--steering-weight <id>=<n>` values onto the pathways; throws BAD_OPTION naming the fault. */
export function applySteeringWeights(pathways: SteeringPathway[], values: string[]): SteeringPathway[] {
  const weights = new Map<string, number>();
  for (const v of values) {
    const m = /^([^=]+)=(\d+(?:\.\d+)?)$/.exec(v);
    if (!m)
      throw new StreamedgeError('BAD_OPTION', `--steering-weight "${v}": expected <pathway>=<weight>, e.g. cdn-a=70`);
    if (!pathways.some((p) => p.id === m[1])) {
      throw new StreamedgeError('BAD_OPTION', `--steering-weight "${v}": no --steering pathway "${m[1]}"`);
    }
    if (weights.has(m[1])) throw new StreamedgeError('BAD_OPTION', `--steering-weight names "${m[1]}" twice`);
    weights.set(m[1], Number(m[2]));
  }
  if (weights.size > 0 && [...weights.values()].every((w) => w === 0)) {
    throw new StreamedgeError('BAD_OPTION', '--steering-weight: every weight is 0, no CDN would take new players');
  }
  return pathways.map((p) => (weights.has(p.id) ? { ...p, weight: weights.get(p.id)! } : p));
}

/** Parses `--steering <id>=<url>` values; throws BAD_OPTION naming the fault. */
export function parseSteeringPathways(values: string[]): SteeringPathway[] {
  const out: SteeringPathway[] = [];
  for (const v of values) {
    const eq = v.indexOf('=');
    const id = eq > 0 ? v.slice(0, eq) : '';
    const url = eq > 0 ? v.slice(eq + 1) : '';
    if (!PATHWAY_ID.test(id) || id === DEFAULT_PATHWAY) {
      throw new StreamedgeError(
        'BAD_OPTION',
        `--steering "${v}": expected <pathway>=<url>, the pathway letters, digits, ".", "-", "_" (not ".")`,
      );
    }
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      throw new StreamedgeError('BAD_OPTION', `--steering "${v}": "${url}" is not a URL`);
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') {
      throw new StreamedgeError('BAD_OPTION', `--steering "${v}": http or https only`);
    }
    if (out.some((p) => p.id === id)) throw new StreamedgeError('BAD_OPTION', `--steering names "${id}" twice`);
    out.push({ id, url: u.origin });
  }
  const endpoints = new Set(out.map((p) => `${new URL(p.url).protocol}${new URL(p.url).port}`));
  if (endpoints.size > 1) {
    throw new StreamedgeError(
      'BAD_OPTION',
      '--steering: the CDNs must share one scheme and port (a Pathway Clone replaces the host name only; players keep the rest)',
    );
  }
  return out;
}

export class SteeringService {
  readonly tag: string;
  /**
   * The steering server DASH MPDs name: the HLS one with `/dash` after its path, absolute (on the
   * first CDN when the HLS one is relative).
   */
  readonly dashServerUri: string;
  /** The DASH steering path on each CDN (when the server is the origin behind them, not a host of its own). */
  private readonly dashServerPath: string | undefined;
  /** When this steering began (epoch ms): a served playlist is modified as of then at the earliest. */
  readonly since: number;
  private readonly tagDigest: string;
  private readonly pathways: Tracked[];
  private readonly ttl: number;
  private readonly missesToDown: number;
  private timer: NodeJS.Timeout | undefined;
  private probing: Promise<void> | undefined;

  constructor(
    private readonly opts: SteeringOptions,
    private readonly log: { warn(o: object, m: string): void; info(o: object, m: string): void },
    private readonly now: () => number = Date.now,
  ) {
    if (opts.pathways.length === 0) throw new StreamedgeError('BAD_OPTION', 'content steering needs a pathway');
    this.ttl = opts.ttlSec ?? 10;
    if (!(this.ttl >= 1)) throw new StreamedgeError('BAD_OPTION', '--steering-ttl must be at least 1 s');
    this.missesToDown = opts.probeMisses ?? 3;
    if (!Number.isInteger(this.missesToDown) || this.missesToDown < 1) {
      throw new StreamedgeError('BAD_OPTION', '--steering-probe-misses must be a whole number, at least 1');
    }
    for (const [name, v] of [
      ['--steering-probe-interval', opts.probeMs],
      ['--steering-probe-timeout', opts.probeTimeoutMs],
    ] as const) {
      if (v !== undefined && !(v >= 10)) throw new StreamedgeError('BAD_OPTION', `${name} must be at least 10 ms`);
    }
    this.tag = contentSteeringTag(opts.serverUri ?? '/steering');
    // dash.js resolves a relative ContentSteering URL against the page, not the MPD: the MPD names
    // the server absolutely, on the first CDN unless --steering-uri is absolute
    const hlsUri = opts.serverUri ?? '/steering';
    if (/^https?:\/\//i.test(hlsUri)) {
      this.dashServerUri = dashSteeringUri(hlsUri);
    } else {
      this.dashServerPath = dashSteeringUri(hlsUri.startsWith('/') ? hlsUri : `/${hlsUri}`);
      this.dashServerUri = `${new URL(opts.pathways[0].url).origin}${this.dashServerPath}`;
    }
    this.since = now();
    this.tagDigest = createHash('sha256')
      .update(this.tag)
      .update(JSON.stringify(opts.pathways.map((p) => [p.id, p.url])))
      .digest('hex')
      .slice(0, 8);
    this.pathways = opts.pathways.map((p) => ({
      ...p,
      host: new URL(p.url).hostname,
      state: 'unknown',
      detail: 'not asked yet',
      since: this.now(),
      misses: 0,
    }));
  }

  /** Probes now and every probeMs after. */
  start(): void {
    if (this.timer) return;
    void this.probe();
    this.timer = setInterval(() => void this.probe(), this.opts.probeMs ?? 2000);
    this.timer.unref();
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.probing;
  }

  /** A multivariant playlist naming this steering server. */
  apply(playlist: string): string {
    return withContentSteering(playlist, this.tag);
  }

  /**
   * An MPD naming this steering server, with one absolute BaseURL per CDN (src/dash/content-steering.ts);
   * `requestPath` is the path it was asked for.
   */
  applyDash(mpd: string, requestPath: string): string {
    return withDashContentSteering(mpd, {
      serverUri: this.dashServerUri,
      locations: this.pathways.map((p) => ({ id: p.id, url: p.url })),
      requestPath,
    });
  }

  /**
   * The entity-tag of a playlist or MPD file as served steered: the file's own plus a digest of
   * the tag and the CDNs, so a copy cached before steering was turned on (or with another
   * steering server or other CDNs named) is not revalidated as current.
   */
  etagOf(fileEtag: string): string {
    return fileEtag.replace(/"$/, `-cs${this.tagDigest}"`);
  }

  /**
   * The manifest as of now for a player on Pathway `current` (its `_HLS_pathway`): its CDN first
   * while well, else one chosen for it; the other CDNs by state, "." last. `random` draws by
   * weight (tests pass their own).
   */
  manifest(current?: string, random: () => number = Math.random): SteeringManifest {
    const order = [...this.pathways].sort((a, b) => RANK[a.state] - RANK[b.state]);
    const first = this.firstFor(current, random);
    if (first) {
      order.splice(order.indexOf(first), 1);
      order.unshift(first);
    }
    return {
      VERSION: 1,
      TTL: this.ttl,
      'PATHWAY-PRIORITY': [...order.map((p) => p.id), DEFAULT_PATHWAY],
      'PATHWAY-CLONES': this.pathways.map((p) => ({
        'BASE-ID': DEFAULT_PATHWAY,
        ID: p.id,
        'URI-REPLACEMENT': { HOST: p.host },
      })),
    };
  }

  /**
   * The manifest for a DASH client on `current` (its `_DASH_pathway`): the same priority, with
   * the CDNs' own service locations only. Every CDN is a BaseURL of the MPD, so there is nothing
   * to clone, and no "." (a DASH client has no default Pathway).
   */
  dashManifest(current?: string[], random: () => number = Math.random): SteeringManifest {
    // `_DASH_pathway` lists every service location the client has used: it stays on one that is well
    const listed = (current ?? []).filter((id) => this.pathways.some((p) => p.id === id && p.state === 'ok'));
    const m = this.manifest(listed[0], random);
    const priority = m['PATHWAY-PRIORITY'].filter((id) => id !== DEFAULT_PATHWAY);
    // the next manifest from a well CDN other than the one the client is sent to (that one when no
    // other is well): one CDN going down then never takes both its media and the news that it is
    // down (dash.js asks the URL the MPD names, on the first CDN, until a manifest says otherwise)
    const byId = (id: string | undefined) => this.pathways.find((p) => p.id === id);
    const reload =
      this.dashServerPath &&
      (priority
        .slice(1)
        .map(byId)
        .find((p) => p?.state === 'ok') ??
        byId(priority[0]));
    return {
      VERSION: 1,
      TTL: m.TTL,
      ...(reload ? { 'RELOAD-URI': `${new URL(reload.url).origin}${this.dashServerPath}` } : {}),
      'PATHWAY-PRIORITY': priority,
    };
  }

  /** The CDN a player on `current` should use first: its own while well (and not weighed out), else a draw. */
  private firstFor(current: string | undefined, random: () => number): Tracked | undefined {
    const well = this.pathways.filter((p) => p.state === 'ok');
    const weighed = this.pathways.some((p) => p.weight !== undefined);
    const weightOf = (p: Tracked): number => (weighed ? (p.weight ?? 0) : 1);
    const mine = well.find((p) => p.id === current);
    if (mine && weightOf(mine) > 0) return mine;
    if (!weighed) return well[0];
    const total = well.reduce((a, p) => a + weightOf(p), 0);
    if (total <= 0) return well[0];
    let r = random() * total;
    for (const p of well) {
      r -= weightOf(p);
      if (r < 0 && weightOf(p) > 0) return p;
    }
    return well.filter((p) => weightOf(p) > 0).at(-1);
  }

  /** Each CDN's state as last probed. */
  states(): { id: string; url: string; weight?: number; state: PathwayState; detail: string; since: string }[] {
    return this.pathways.map((p) => ({
      id: p.id,
      url: p.url,
      ...(p.weight !== undefined ? { weight: p.weight } : {}),
      state: p.state,
      detail: p.detail,
      since: new Date(p.since).toISOString(),
    }));
  }

  /** Asks every CDN once (a probe still running is not doubled). */
  probe(): Promise<void> {
    this.probing ??= Promise.all(this.pathways.map((p) => this.probeOne(p))).then(
      () => {
        this.probing = undefined;
      },
      () => {
        this.probing = undefined;
      },
    );
    return this.probing;
  }

  private async probeOne(p: Tracked): Promise<void> {
    let state: PathwayState;
    let detail: string;
    /** Down with no doubt: nothing listens there, so no player could fetch from it either. */
    let refused = false;
    try {
      const res = await request(`${p.url}/_edge/health`, {
        method: 'GET',
        signal: AbortSignal.timeout(this.opts.probeTimeoutMs ?? 1000),
        headersTimeout: this.opts.probeTimeoutMs ?? 1000,
      });
      await res.body.dump();
      const s = res.statusCode;
      state = s === 503 ? 'degraded' : s >= 500 ? 'down' : 'ok';
      detail = `answered ${s}`;
    } catch (e) {
      state = 'down';
      const code = (e as { code?: unknown }).code;
      // the AbortSignal's timeout is a DOMException whose code is a number (23), not a name
      const timedOut = (e as { name?: unknown }).name === 'TimeoutError' || code === 'UND_ERR_HEADERS_TIMEOUT';
      detail = timedOut
        ? `no answer within ${this.opts.probeTimeoutMs ?? 1000} ms`
        : typeof code === 'string'
          ? code
          : e instanceof Error
            ? e.message
            : String(e);
      refused = code === 'ECONNREFUSED';
    }
    if (state === 'down' && !refused && (p.state === 'ok' || p.state === 'degraded')) {
      // a miss: a well CDN stays as it was until `missesToDown` in a row
      p.misses += 1;
      if (p.misses < this.missesToDown) {
        p.detail = `${detail}: ${p.misses} of ${this.missesToDown} misses in a row, still ${p.state}`;
        this.log.warn(
          { pathway: p.id, state: p.state, detail, misses: p.misses },
          `content steering: pathway ${p.id} missed a probe (${p.detail})`,
        );
        return;
      }
      detail = `${detail}: ${p.misses} misses in a row`;
    } else if (state !== 'down') {
      p.misses = 0;
    }
    if (state !== p.state) {
      const from = p.state;
      p.state = state;
      p.since = this.now();
      const msg = `content steering: pathway ${p.id} is ${state} (${detail})`;
      if (from !== 'unknown' || state !== 'ok')
        this.log[state === 'ok' ? 'info' : 'warn']({ pathway: p.id, from, state, detail }, msg);
    }
    p.detail = detail;
  }
}

/** The DASH steering server's URI from the HLS one: `/steering` → `/steering/dash` (a query stays last). */
export function dashSteeringUri(serverUri: string): string {
  const q = serverUri.indexOf('?');
  const path = q < 0 ? serverUri : serverUri.slice(0, q);
  return `${path.replace(/\/+$/, '')}/dash${q < 0 ? '' : serverUri.slice(q)}`;
}

/**
 * GET /steering (HLS) and /steering/dash (DASH): the manifest (no-store: the CDNs' state at this
 * moment, for this player).
 */
export function registerSteeringRoute(app: FastifyInstance, steering: SteeringService): void {
  const send = (reply: FastifyReply, manifest: SteeringManifest) => {
    reply.header('cache-control', 'no-store');
    reply.header('content-type', 'application/json');
    return reply.send(JSON.stringify(manifest));
  };
  app.get('/steering', (req: FastifyRequest<{ Querystring: { _HLS_pathway?: unknown } }>, reply: FastifyReply) => {
    const current = req.query._HLS_pathway;
    return send(reply, steering.manifest(typeof current === 'string' ? current : undefined));
  });
  app.get('/steering/dash', (req: FastifyRequest<{ Querystring: { _DASH_pathway?: unknown } }>, reply: FastifyReply) =>
    send(reply, steering.dashManifest(dashPathways(req.query._DASH_pathway))),
  );
}
