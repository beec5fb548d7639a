/**
 * Our player's keys for Common Encryption, through EME with the W3C Clear Key system
 * (org.w3.clearkey, W3C EME §9.1):
 * - MediaKeys on the element before the first encrypted init segment is appended: Clear Key
 *   asked for with the renditions' real codecs and the scheme (cenc/cbcs), `keyids` and `cenc`
 *   init data. No EME, or no Clear Key for those codecs, is an error the viewer is shown.
 * - The keys are asked for from the manifest's KIDs up front (one temporary session for all of
 *   them, `generateRequest('keyids', {"kids":[…]})`), not on the `encrypted` event, which is
 *   listened to for KIDs the manifest did not name; an init segment's tenc KIDs are asked for
 *   too. Each KID is asked for once: renditions sharing a KID never ask again.
 * - A session's license request (its `message`): DASH POSTs it to the Laurl with the player's
 *   fetcher (a signed URL's token, retries of 5xx and no answer); HLS identity GETs each key URI
 *   (raw 16 bytes) and builds the Clear Key license JSON here. Then `session.update`.
 * - A `waitingforkey` that lasts WAITING_FOR_KEY_MS without playback moving on is an error
 *   naming the KIDs not usable; a failed license or key request is one naming its status.
 */
import { fetchBytes, type FetchOptions } from './fetcher.js';
import { describeFailure, MEDIA_TIMEOUT, withRetries, type RetryNote } from './request-retry.js';
import type { PlayerRendition } from './source-model.js';
import {
  bytesToHex,
  CLEAR_KEY,
  CLEAR_KEY_SYSTEM_ID,
  fromBase64Url,
  hexToBytes,
  readPsshBoxes,
  toBase64Url,
  type KeySource,
  type ProtectionScheme,
  type TrackProtection,
} from './protection.js';

/** How long the element may wait for a key, playback not moving, before it is the player's error. */
export const WAITING_FOR_KEY_MS = 10_000;

/** What the player's stats say about the protection (null in them: a clear stream). */
export interface ProtectionStats {
  keySystem: string;
  /** cenc or cbcs (both, comma-separated, if the renditions differ). */
  scheme: string | null;
  /** The KIDs asked for (32 lowercase hex), in order. */
  kids: string[];
  /** Requests for keys sent: license POSTs (DASH) and key GETs (HLS identity). */
  licenseRequests: number;
  /** Each KID's status in its session (usable, expired, internal-error, …) once the CDM says. */
  keyStatuses: Record<string, string>;
}

export interface ClearKeyOptions {
  /** The player's request options for its own requests (the log, the throttle, steering). */
  request: Pick<FetchOptions, 'log' | 'throttle' | 'steering'>;
  signal: AbortSignal;
  /** The renditions MediaKeys are asked for (their codecs), read when it is first needed. */
  renditions: () => PlayerRendition[];
  /** An error for the viewer (license failed, key never arrived, …). */
  onError: (message: string) => void;
  onRetry?: (n: RetryNote) => void;
}

const LICENSE_CONTENT_TYPE = 'application/json';

export class ClearKeyProtection {
  private mediaKeys?: Promise<MediaKeys>;
  /** KIDs a session was made for. */
  private readonly asked = new Set<string>();
  /** Where each KID's key comes from. */
  private readonly sources = new Map<string, KeySource>();
  private readonly sessions: MediaKeySession[] = [];
  /** HLS identity keys fetched, by URI (one GET per key, whatever asks for it). */
  private readonly keyFetches = new Map<string, Promise<Uint8Array>>();
  private readonly schemes = new Set<ProtectionScheme>();
  private readonly statuses = new Map<string, string>();
  /** KIDs whose license or key request failed (reported already). */
  private readonly failed = new Set<string>();
  private licenseRequests = 0;
  private keyWait?: ReturnType<typeof setTimeout>;

  constructor(
    private readonly video: HTMLVideoElement,
    private readonly o: ClearKeyOptions,
  ) {
    video.addEventListener('waitingforkey', this.onWaitingForKey);
    video.addEventListener('encrypted', this.onEncrypted);
  }

  /** Whether MediaKeys were asked for (the stream is encrypted). */
  get active(): boolean {
    return this.mediaKeys !== undefined;
  }

  /**
   * Clear Key's MediaKeys on the element, once (later calls get the same promise). Rejects with an
   * error for the viewer when the browser has no EME or no Clear Key for the renditions' codecs.
   */
  attach(): Promise<MediaKeys> {
    this.mediaKeys ??= this.createMediaKeys();
    return this.mediaKeys;
  }

  private async createMediaKeys(): Promise<MediaKeys> {
    if (typeof navigator.requestMediaKeySystemAccess !== 'function')
      throw new Error(
        'encrypted stream, but this browser offers no EME (navigator.requestMediaKeySystemAccess: it needs a secure context, https or localhost)',
      );
    const renditions = this.o.renditions();
    const scheme = this.schemes.size === 1 ? [...this.schemes][0] : undefined;
    const capabilities = (kind: 'video' | 'audio') =>
      [...new Set(renditions.filter((r) => r.kind === kind && r.codecs).map((r) => r.codecs))].map((codecs) => ({
        contentType: `${kind}/mp4; codecs="${codecs}"`,
        ...(scheme ? { encryptionScheme: scheme } : {}),
      }));
    const config: MediaKeySystemConfiguration = {
      initDataTypes: ['keyids', 'cenc'],
      videoCapabilities: capabilities('video'),
      audioCapabilities: capabilities('audio'),
      distinctiveIdentifier: 'optional',
      persistentState: 'optional',
      sessionTypes: ['temporary'],
    };
    let access: MediaKeySystemAccess;
    try {
      access = await navigator.requestMediaKeySystemAccess(CLEAR_KEY, [config]);
    } catch (e) {
      const types = [...(config.videoCapabilities ?? []), ...(config.audioCapabilities ?? [])]
        .map((c) => c.contentType)
        .join(', ');
      throw new Error(
        `encrypted stream, but this browser does not support Clear Key (${CLEAR_KEY}) for ${types}${scheme ? ` under '${scheme}'` : ''}: ${(e as Error).message ?? e}`,
        { cause: e },
      );
    }
    const keys = await access.createMediaKeys();
    await this.video.setMediaKeys(keys);
    return keys;
  }

  /**
   * The keys of these protections' KIDs not asked for yet, and of `mediaKids` (an init segment's
   * tenc, the `encrypted` event's pssh), whose key comes from `mediaSource` (else from the one key
   * source the manifests name): one session for all of them. Resolves once the request is made,
   * not when the keys arrive.
   */
  async need(protections: readonly TrackProtection[], mediaKids: readonly string[] = [], mediaSource?: KeySource) {
    for (const p of protections) {
      this.schemes.add(p.scheme);
      for (const kid of p.kids) if (!this.sources.has(kid)) this.sources.set(kid, p.source);
    }
    const fallback = mediaSource ?? protections[0]?.source ?? this.onlySource();
    for (const kid of mediaKids) if (!this.sources.has(kid) && fallback) this.sources.set(kid, fallback);
    const fresh = [...new Set([...protections.flatMap((p) => p.kids), ...mediaKids])].filter((k) => !this.asked.has(k));
    if (!fresh.length) {
      if (protections.length) await this.attach();
      return;
    }
    const keys = await this.attach();
    if (this.o.signal.aborted) return;
    for (const kid of fresh) this.asked.add(kid);
    const unknown = fresh.filter((k) => !this.sources.has(k));
    if (unknown.length)
      this.report(
        unknown,
        `the media names KID ${unknown.join(', ')}, for which no manifest gives a license server or key URI`,
      );
    const wanted = fresh.filter((k) => this.sources.has(k));
    if (!wanted.length) return;
    const session = keys.createSession('temporary');
    this.sessions.push(session);
    session.addEventListener('message', (e) => void this.onMessage(session, e));
    session.addEventListener('keystatuseschange', () => this.noteStatuses(session));
    const initData = new TextEncoder().encode(JSON.stringify({ kids: wanted.map((k) => toBase64Url(hexToBytes(k))) }));
    await session.generateRequest('keyids', initData);
  }

  /** The one key source the manifests named so far (undefined when none, or several). */
  private onlySource(): KeySource | undefined {
    const all = new Map([...this.sources.values()].map((s) => [`${s.kind} ${s.url}`, s]));
    return all.size === 1 ? [...all.values()][0] : undefined;
  }

  stats(): ProtectionStats | null {
    if (!this.mediaKeys) return null;
    return {
      keySystem: CLEAR_KEY,
      scheme: this.schemes.size ? [...this.schemes].join(',') : null,
      kids: [...this.asked],
      licenseRequests: this.licenseRequests,
      keyStatuses: Object.fromEntries(this.statuses),
    };
  }

  close(): void {
    clearTimeout(this.keyWait);
    this.video.removeEventListener('waitingforkey', this.onWaitingForKey);
    this.video.removeEventListener('encrypted', this.onEncrypted);
    for (const s of this.sessions) s.close().catch(() => {});
  }

  /** A session's license request: its KIDs' keys fetched (grouped by where they come from), then `update`. */
  private async onMessage(session: MediaKeySession, e: MediaKeyMessageEvent): Promise<void> {
    if (e.messageType !== 'license-request' && e.messageType !== 'license-renewal') return;
    let kids: string[];
    try {
      const request = JSON.parse(new TextDecoder().decode(e.message)) as { kids?: string[] };
      kids = (request.kids ?? []).map((k) => bytesToHex(fromBase64Url(k)));
    } catch {
      return this.report([], 'the Clear Key CDM sent a license request that is not JSON');
    }
    const groups = new Map<string, { source: KeySource; kids: string[] }>();
    for (const kid of kids) {
      const source = this.sources.get(kid);
      if (!source) continue;
      const key = `${source.kind} ${source.url}`;
      const g = groups.get(key) ?? { source, kids: [] };
      g.kids.push(kid);
      groups.set(key, g);
    }
    const license: { kty: 'oct'; kid: string; k: string }[] = [];
    await Promise.all(
      [...groups.values()].map(async ({ source, kids: group }) => {
        try {
          const keys =
            source.kind === 'license'
              ? await this.postLicense(source.url, group, groups.size === 1 ? new Uint8Array(e.message) : undefined)
              : await this.identityKeys(source.url, group);
          license.push(...keys);
        } catch (err) {
          if (this.o.signal.aborted) return;
          const what = source.kind === 'license' ? 'license request' : 'key request';
          const why = describeFailure(err);
          this.report(
            group,
            `${what} for KID ${group.join(', ')} failed: ${why}${why.includes(source.url) ? '' : ` (${source.url})`}`,
          );
        }
      }),
    );
    if (!license.length || this.o.signal.aborted) return;
    try {
      const body = new TextEncoder().encode(JSON.stringify({ keys: license, type: 'temporary' }));
      await session.update(body);
    } catch (err) {
      this.report(
        kids,
        `the Clear Key CDM refused the license for KID ${kids.join(', ')}: ${(err as Error).message ?? err}`,
      );
    }
  }

  /** DASH: the Clear Key license request POSTed to the Laurl, its answer's keys (W3C EME §9.1.4). */
  private async postLicense(url: string, kids: string[], message?: Uint8Array<ArrayBuffer>) {
    const body =
      message ??
      new TextEncoder().encode(
        JSON.stringify({ kids: kids.map((k) => toBase64Url(hexToBytes(k))), type: 'temporary' }),
      );
    const res = await this.fetch(url, { body, contentType: LICENSE_CONTENT_TYPE });
    let answer: { keys?: { kty?: string; kid?: string; k?: string }[] };
    try {
      answer = JSON.parse(new TextDecoder().decode(res)) as typeof answer;
    } catch {
      throw new Error(`the license from ${url} is not JSON`);
    }
    const keys = (answer.keys ?? []).filter(
      (k): k is { kty: 'oct'; kid: string; k: string } =>
        k.kty === 'oct' && typeof k.kid === 'string' && typeof k.k === 'string',
    );
    const got = new Set(keys.map((k) => bytesToHex(fromBase64Url(k.kid))));
    const missing = kids.filter((k) => !got.has(k));
    if (missing.length) this.report(missing, `the license from ${url} has no key for KID ${missing.join(', ')}`);
    return keys;
  }

  /** HLS identity: each KID's key URI answers the raw 16-byte key; the Clear Key license is made of them here. */
  private async identityKeys(url: string, kids: string[]) {
    let fetching = this.keyFetches.get(url);
    if (!fetching) {
      fetching = this.fetch(url).then((bytes) => {
        if (bytes.byteLength !== 16) throw new Error(`the key at ${url} is ${bytes.byteLength} bytes, not 16`);
        return bytes;
      });
      fetching.catch(() => this.keyFetches.delete(url));
      this.keyFetches.set(url, fetching);
    }
    const key = toBase64Url(await fetching);
    return kids.map((kid) => ({ kty: 'oct' as const, kid: toBase64Url(hexToBytes(kid)), k: key }));
  }

  /** One license or key request through the player's fetcher, tried again as media are (5xx, no answer). */
  private async fetch(url: string, post?: FetchOptions['post']): Promise<Uint8Array> {
    const signal = this.o.signal;
    const res = await withRetries(
      url,
      () => {
        this.licenseRequests += 1;
        return fetchBytes(url, { ...this.o.request, signal, post, timeout: MEDIA_TIMEOUT });
      },
      { signal, onRetry: this.o.onRetry },
    );
    return res.bytes;
  }

  private noteStatuses(session: MediaKeySession): void {
    session.keyStatuses.forEach((status, keyId) => {
      const bytes = ArrayBuffer.isView(keyId)
        ? new Uint8Array(keyId.buffer, keyId.byteOffset, keyId.byteLength)
        : new Uint8Array(keyId);
      this.statuses.set(bytesToHex(bytes), status);
    });
  }

  /** KIDs the media names that the manifests did not (a pssh listing them): asked for like the rest. */
  private readonly onEncrypted = (e: MediaEncryptedEvent): void => {
    if (!e.initData) return;
    let kids: string[] = [];
    if (e.initDataType === 'cenc')
      kids = readPsshBoxes(new Uint8Array(e.initData))
        .filter((p) => p.systemId === CLEAR_KEY_SYSTEM_ID)
        .flatMap((p) => p.kids);
    else if (e.initDataType === 'keyids') {
      try {
        const json = JSON.parse(new TextDecoder().decode(e.initData)) as { kids?: string[] };
        kids = (json.kids ?? []).map((k) => bytesToHex(fromBase64Url(k)));
      } catch {
        return;
      }
    }
    if (kids.some((k) => !this.asked.has(k)))
      this.need([], kids).catch((err: unknown) => this.report([], String((err as Error).message ?? err)));
  };

  /** The element waits for a key: an error if playback has not moved on WAITING_FOR_KEY_MS later. */
  private readonly onWaitingForKey = (): void => {
    if (this.keyWait !== undefined) return;
    const at = this.video.currentTime;
    this.keyWait = setTimeout(() => {
      this.keyWait = undefined;
      // (playback moved on, or the viewer paused it: no key is missing for that)
      if (this.o.signal.aborted || this.video.paused || this.video.currentTime > at + 0.05) return;
      const waiting = [...this.asked].filter((k) => this.statuses.get(k) !== 'usable' && !this.failed.has(k));
      if (waiting.length)
        this.report(
          waiting,
          `no key arrived for KID ${waiting.join(', ')} within ${WAITING_FOR_KEY_MS / 1000} s (waitingforkey)`,
        );
      else if (![...this.asked].some((k) => this.failed.has(k)))
        this.report(
          [],
          `the media waits for a key for ${WAITING_FOR_KEY_MS / 1000} s, though every KID asked for (${[...this.asked].join(', ') || 'none'}) is usable`,
        );
    }, WAITING_FOR_KEY_MS);
  };

  private report(kids: readonly string[], message: string): void {
    for (const k of kids) this.failed.add(k);
    if (!this.o.signal.aborted) this.o.onError(message);
  }
}
