/**
 * HLS Content Steering for a virtual viewer (src/hls/content-steering.ts has the formats): when
 * the multivariant playlist names a steering server, the viewer loads its Steering Manifest (a
 * `steering` request in the report) right after the playlist and every TTL after (RELOAD-URI,
 * `_HLS_pathway`, `_HLS_throughput` once its ABR has an estimate; a 410 stops the reloads), and
 * sends every request to the host of the first Pathway it can use: the default "." (the
 * playlist's own host) or a clone of it whose host the target policy allows (loopback, or an
 * `--allow-host`); a clone elsewhere is skipped, as an unreachable CDN would be. Routing is a
 * prefix swap on the URL string (no URL parsing per request).
 *
 * The viewer does not fail over on its own when a request fails (our browser player does:
 * player-demo/player/pathway-steering.ts); it follows the manifest, whose priority the steering
 * server sets from the CDNs' health.
 */
import {
  DEFAULT_PATHWAY,
  learnClones,
  nextSteeringUri,
  parseSteeringManifest,
  steeringRequestUrl,
  type SteeringManifest,
  type UriReplacement,
} from '../../src/hls/content-steering.js';
import { HttpStatusError, type HttpGetter } from './http-get.js';
import { isLoopbackHost } from './target-policy.js';

/** A manifest that cannot be had is asked for again after this long. */
const RETRY_MS = 10_000;

export class ViewerSteering {
  private current = DEFAULT_PATHWAY;
  private readonly clones = new Map<string, UriReplacement>();
  /** `scheme://host:port` of the playlist (the "." Pathway) and of the current one. */
  private readonly home: string;
  private prefix: string;
  private uri: string;
  private timer: object | undefined;
  private stopped = false;
  /** Pathway changes (a manifest moved the viewer). */
  switches = 0;

  constructor(
    private readonly http: HttpGetter,
    playlistUrl: string,
    serverUri: string,
    private readonly allowHosts: readonly string[] = [],
    /** The viewer's throughput estimate (bit/s), sent as `_HLS_throughput`; 0: not sent. */
    private readonly throughput: () => number = () => 0,
  ) {
    const u = new URL(playlistUrl);
    this.home = `${u.protocol}//${u.host}`;
    this.prefix = this.home;
    this.uri = new URL(serverUri, playlistUrl).href;
  }

  /** The Pathway the viewer's requests go to. */
  get pathway(): string {
    return this.current;
  }

  /** `url` on the current Pathway's host (URLs on another host are left alone). */
  readonly route = (url: string): string =>
    this.prefix === this.home || !url.startsWith(this.home) ? url : this.prefix + url.slice(this.home.length);

  /** Loads the manifest now and every TTL after, until stop(). */
  async start(): Promise<void> {
    await this.load();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) this.http.wheel.cancel(this.timer);
  }

  /** Applies a manifest: the first Pathway of its priority this viewer may use. */
  apply(m: SteeringManifest): void {
    learnClones(this.clones, m);
    const next = m['PATHWAY-PRIORITY'].find((id) => id === DEFAULT_PATHWAY || this.usable(this.clones.get(id)));
    if (next === undefined || next === this.current) return;
    this.current = next;
    this.switches++;
    const host = this.clones.get(next)?.HOST;
    const u = new URL(this.home);
    if (host !== undefined) u.hostname = host;
    this.prefix = next === DEFAULT_PATHWAY ? this.home : `${u.protocol}//${u.host}`;
  }

  private usable(r: UriReplacement | undefined): boolean {
    // query parameters on a clone are not followed: a clone is a host here
    if (r?.HOST === undefined || r.PARAMS !== undefined) return false;
    const h = r.HOST.toLowerCase();
    return isLoopbackHost(h) || this.allowHosts.some((a) => a.toLowerCase() === h);
  }

  private async load(): Promise<void> {
    if (this.stopped) return;
    const url = steeringRequestUrl(this.uri, this.current, this.throughput());
    let nextMs = RETRY_MS;
    try {
      const res = await this.http.get(url.href, { kind: 'steering', text: true });
      const m = parseSteeringManifest(JSON.parse(res.text ?? ''));
      this.uri = nextSteeringUri(m, url, this.uri);
      this.apply(m);
      nextMs = m.TTL * 1000;
    } catch (e) {
      // the steering server is gone for good: keep the last priority
      if (e instanceof HttpStatusError && e.status === 410) return;
      // counted by the getter (an HTTP error, a network error) or a manifest we cannot read: try later
    }
    if (this.stopped) return;
    this.timer = this.http.wheel.after(nextMs, () => void this.load());
  }
}
