/**
 * HLS Content Steering in our player (src/hls/content-steering.ts has the formats): the playlist's
 * EXT-X-CONTENT-STEERING names a steering server; its Steering Manifest, reloaded every TTL,
 * orders the Pathways and clones the default one ("." : wherever the playlist came from) onto
 * other CDN hosts. Every request of the player goes through `route`: the URL as the playlists
 * resolve it, on the host of the current Pathway. Each reload says which Pathway the player is on
 * (`_HLS_pathway`) and, once it has one, its throughput estimate (`_HLS_throughput`). A request that fails there (no answer, or a
 * 5xx other than a 503 that says when to come back) puts that Pathway in the penalty box for
 * 5 minutes, as hls.js does, and `failed` says whether another one is left to try; the fetcher
 * then retries the same request there (`fetcher.ts`) when no byte of it had reached the player.
 */
import {
  DEFAULT_PATHWAY,
  cloneUri,
  learnClones,
  nextSteeringUri,
  parseSteeringManifest,
  readContentSteering,
  steeringRequestUrl,
  type SteeringManifest,
  type UriReplacement,
} from '../../src/hls/content-steering.js';

const PENALTY_MS = 300_000;
/** A manifest that cannot be had is asked for again after this long (or its TTL, if longer). */
const RETRY_MS = 10_000;

export type SteeringFetch = (url: string, signal: AbortSignal) => Promise<Response>;

export class PathwaySteering {
  private priority: string[] = [DEFAULT_PATHWAY];
  private readonly clones = new Map<string, UriReplacement>();
  private readonly penalized = new Map<string, number>();
  private current = DEFAULT_PATHWAY;
  private uri: string | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private signal: AbortSignal | undefined;
  /** What happened, for the player's stats: "pathway b (steering manifest)", "b failed: …". */
  readonly notes: string[] = [];

  constructor(
    private readonly fetchManifest: SteeringFetch = (url, signal) => fetch(url, { signal, cache: 'no-store' }),
    private readonly now: () => number = Date.now,
    /** The player's throughput estimate (bit/s), sent as `_HLS_throughput`; 0 or none: not sent. */
    private readonly throughput?: () => number,
  ) {}

  /** Whether the playlist named a steering server (start found the tag). */
  get active(): boolean {
    return this.signal !== undefined;
  }

  /** The Pathway requests go to now. */
  get pathway(): string {
    return this.current;
  }

  get pathwayPriority(): readonly string[] {
    return this.priority;
  }

  /**
   * Starts steering from a multivariant playlist (its text and URL): the initial Pathway its tag
   * names, then the manifest at once and every TTL after, until `signal` aborts. Without the tag,
   * nothing happens and every URL is its own.
   */
  start(playlist: string, playlistUrl: string, signal: AbortSignal): void {
    const tag = readContentSteering(playlist);
    if (!tag || this.signal) return;
    this.signal = signal;
    if (tag.pathwayId !== undefined) this.current = tag.pathwayId;
    this.uri = new URL(tag.serverUri, playlistUrl).href;
    signal.addEventListener('abort', () => clearTimeout(this.timer), { once: true });
    void this.load();
  }

  /** `url` (as the playlists resolve it) on the current Pathway's host. */
  route(url: string): string {
    const r = this.clones.get(this.current);
    return r ? cloneUri(url, r) : url;
  }

  /**
   * A request sent to `routedUrl` failed: its Pathway goes to the penalty box and the next one
   * in priority becomes current. True when that is another Pathway (worth a retry there).
   */
  failed(routedUrl: string, why: string): boolean {
    if (!this.active) return false;
    const failedPathway = this.pathwayOf(routedUrl);
    if (!this.penalized.has(failedPathway)) {
      this.penalized.set(failedPathway, this.now() + PENALTY_MS);
      this.notes.push(`${failedPathway} failed: ${why}`);
    }
    this.choose('failover');
    return this.current !== failedPathway;
  }

  /** Applies a Steering Manifest (exposed for tests; the player's own come from `load`). */
  apply(m: SteeringManifest): void {
    learnClones(this.clones, m);
    this.priority = m['PATHWAY-PRIORITY'];
    this.choose('steering manifest');
  }

  private choose(why: string): void {
    const now = this.now();
    for (const [id, until] of this.penalized) if (until <= now) this.penalized.delete(id);
    const next = this.priority.find((id) => !this.penalized.has(id) && this.known(id));
    if (next === undefined || next === this.current) return;
    this.current = next;
    this.notes.push(`pathway ${next} (${why})`);
  }

  private known(id: string): boolean {
    return id === DEFAULT_PATHWAY || this.clones.has(id);
  }

  private pathwayOf(url: string): string {
    const host = new URL(url).hostname;
    for (const [id, r] of this.clones) if (r.HOST === host) return id;
    return DEFAULT_PATHWAY;
  }

  private async load(): Promise<void> {
    const signal = this.signal;
    if (!signal || signal.aborted || this.uri === undefined) return;
    const url = steeringRequestUrl(this.uri, this.current, this.throughput?.() ?? 0);
    let nextMs = RETRY_MS;
    try {
      const res = await this.fetchManifest(url.href, signal);
      if (res.status === 410) {
        this.notes.push('steering server gone (410): keeping the last priority');
        return;
      }
      if (!res.ok) {
        const after = Number(res.headers.get('retry-after'));
        if (res.status === 429 && after > 0) nextMs = after * 1000;
        throw new Error(`HTTP ${res.status}`);
      }
      const m = parseSteeringManifest(await res.json());
      this.uri = nextSteeringUri(m, url, this.uri);
      this.apply(m);
      nextMs = m.TTL * 1000;
    } catch (e) {
      if (signal.aborted) return;
      this.notes.push(`steering manifest: ${e instanceof Error ? e.message : String(e)}`);
    }
    this.timer = setTimeout(() => void this.load(), nextMs);
  }
}
