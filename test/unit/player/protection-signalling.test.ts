/**
 * Our player reads Common Encryption's signalling into its source model, for the Clear Key path
 * (player-demo/player/protection.ts), from hand-written manifests served on loopback:
 * - DASH: ContentProtection on the AdaptationSet (mp4protection's scheme and cenc:default_KID, the
 *   DASH-IF Clear Key descriptor's dashif:Laurl) and on a Representation (the older
 *   clearkey:Laurl, a cenc:pssh listing the KID); the relative Laurl resolved against the MPD's URL
 *   with the `?token=` the player carries; an encrypted MPD that names no Clear Key license server
 *   is an error.
 * - HLS: EXT-X-SESSION-KEY in the multivariant playlist, EXT-X-KEY before the EXT-X-MAP of each
 *   media playlist (SAMPLE-AES is 'cbcs', SAMPLE-AES-CTR 'cenc'), URIs relative to the playlist
 *   naming them; METHOD=NONE ends the encryption; AES-128 and a FairPlay-only KEYFORMAT are errors
 *   the player shows, while FairPlay beside identity is fine.
 * - The init segment's tenc and schm, and a pssh's KIDs.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DashSource } from '../../../player-demo/player/dash-source.js';
import { HlsSource } from '../../../player-demo/player/hls-source.js';
import {
  CLEAR_KEY_SYSTEM_ID,
  fromBase64Url,
  normalizeKid,
  ProtectionError,
  readHlsKeyTag,
  readInitProtection,
  readPsshBoxes,
  resolveWithToken,
  toBase64Url,
} from '../../../player-demo/player/protection.js';
import { loopbackServer, type LoopbackServer } from '../../support/loopback-server.js';

const KID_V = '0a1b2c3d4e5f60718293a4b5c6d7e8f9';
const KID_A = 'f9e8d7c6b5a4938271605f4e3d2c1b0a';
const uuid = (k: string) => `${k.slice(0, 8)}-${k.slice(8, 12)}-${k.slice(12, 16)}-${k.slice(16, 20)}-${k.slice(20)}`;

/** A box: size, type, payload. */
function box(type: string, ...payload: Uint8Array[]): Uint8Array {
  const size = 8 + payload.reduce((n, p) => n + p.byteLength, 0);
  const out = new Uint8Array(size);
  new DataView(out.buffer).setUint32(0, size);
  out.set(new TextEncoder().encode(type), 4);
  let at = 8;
  for (const p of payload) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}
const hex = (h: string) => Uint8Array.from(h.match(/../g)!.map((b) => parseInt(b, 16)));
const u32 = (n: number) => hex(n.toString(16).padStart(8, '0'));

/** A v1 Clear Key pssh listing `kids`. */
function clearKeyPssh(...kids: string[]): Uint8Array {
  return box('pssh', hex('01000000'), hex(CLEAR_KEY_SYSTEM_ID), u32(kids.length), ...kids.map(hex), u32(0));
}

const served = new Map<string, string>();
let server: LoopbackServer;
let base = '';

beforeAll(async () => {
  server = await loopbackServer((req, res) => {
    const text = served.get(new URL(req.url ?? '/', 'http://x').pathname);
    if (text === undefined) return void res.writeHead(404).end();
    res.writeHead(200).end(text);
  });
  base = server.base;
});

afterAll(() => server.close());

const signal = new AbortController().signal;

function mpd(adaptationSets: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>
<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" xmlns:cenc="urn:mpeg:cenc:2013" xmlns:dashif="https://dashif.org/CPS"
  xmlns:clearkey="http://dashif.org/guidelines/clearKey"
  type="static" mediaPresentationDuration="PT8S" minBufferTime="PT2S" profiles="urn:mpeg:dash:profile:isoff-live:2011">
  <Period id="p0" start="PT0S">
${adaptationSets}
  </Period>
</MPD>
`;
}

const template = `<SegmentTemplate timescale="1000" duration="2000" startNumber="1" media="$RepresentationID$/seg-$Number$.m4s" initialization="$RepresentationID$/init.mp4"/>`;

function clearKeyDescriptor(scheme: string, kid: string, laurl = 'keys/clearkey'): string {
  return `
      <ContentProtection schemeIdUri="urn:mpeg:dash:mp4protection:2011" value="${scheme}" cenc:default_KID="${uuid(kid)}"/>
      <ContentProtection schemeIdUri="urn:uuid:e2719d58-a985-b3c9-781a-b030af78d30e" value="ClearKey1.0">
        <dashif:Laurl Lic_type="EME-1.0">${laurl}</dashif:Laurl>
        <cenc:pssh>${Buffer.from(clearKeyPssh(kid)).toString('base64')}</cenc:pssh>
      </ContentProtection>`;
}

async function openDash(path: string, text: string, query = ''): Promise<DashSource> {
  served.set(path, text);
  const source = new DashSource(`${base}${path}${query}`, {});
  await source.open(signal);
  return source;
}

describe('DASH ContentProtection', () => {
  it('on the AdaptationSets: the scheme, the default KID, the Laurl resolved against the MPD with its token', async () => {
    const text = mpd(`
    <AdaptationSet contentType="video" mimeType="video/mp4">${clearKeyDescriptor('cbcs', KID_V)}
      ${template}
      <Representation id="v0" bandwidth="800000" codecs="avc1.64001f" width="640" height="360"/>
      <Representation id="v1" bandwidth="2000000" codecs="avc1.64001f" width="1280" height="720"/>
    </AdaptationSet>
    <AdaptationSet contentType="audio" mimeType="audio/mp4" lang="en">${clearKeyDescriptor('cbcs', KID_A)}
      ${template}
      <Representation id="audio" bandwidth="128000" codecs="mp4a.40.2"/>
    </AdaptationSet>`);
    const source = await openDash('/vod/asset/manifest.mpd', text, '?token=abc.def');
    const license = { kind: 'license', url: `${base}/vod/asset/keys/clearkey?token=abc.def` };
    expect(source.video.map((v) => v.protection)).toEqual([
      { scheme: 'cbcs', kids: [KID_V], source: license },
      { scheme: 'cbcs', kids: [KID_V], source: license },
    ]);
    expect(source.audio?.protection).toEqual({ scheme: 'cbcs', kids: [KID_A], source: license });
    // every chunk says so too
    const v1 = source.video[1];
    const chunk = await source.chunkAt(v1.id, await source.startCursor(v1.id, signal), signal);
    expect(chunk?.url).toBe(`${base}/vod/asset/v1/seg-1.m4s`);
    expect(chunk?.protection).toEqual(v1.protection);
  });

  it('on a Representation: clearkey:Laurl, the KID from the pssh alone, its own scheme; the others clear', async () => {
    const pssh = Buffer.from(clearKeyPssh(KID_A)).toString('base64');
    const text = mpd(`
    <AdaptationSet contentType="video" mimeType="video/mp4">
      ${template}
      <Representation id="clear" bandwidth="800000" codecs="avc1.64001f" width="640" height="360"/>
      <Representation id="enc" bandwidth="2000000" codecs="avc1.64001f" width="1280" height="720">
        <ContentProtection schemeIdUri="urn:mpeg:dash:mp4protection:2011" value="cenc"/>
        <ContentProtection schemeIdUri="urn:uuid:1077efec-c0b2-4d02-ace3-3c1e52e2fb4b">
          <clearkey:Laurl Lic_type="EME-1.0">../license?kid=all</clearkey:Laurl>
          <cenc:pssh>${pssh}</cenc:pssh>
        </ContentProtection>
      </Representation>
    </AdaptationSet>`);
    const source = await openDash('/vod/two/manifest.mpd', text);
    const [clear, enc] = source.video;
    expect(clear.id).toBe('clear');
    expect(clear.protection).toBeUndefined();
    expect(enc.protection).toEqual({
      scheme: 'cenc',
      kids: [KID_A],
      source: { kind: 'license', url: `${base}/vod/license?kid=all` },
    });
    const chunk = await source.chunkAt(clear.id, { msn: 1, part: 0 }, signal);
    expect(chunk?.protection).toBeUndefined();
  });

  it('an absolute Laurl on another host keeps no token; a Representation descriptor wins over its AdaptationSet', async () => {
    const text = mpd(`
    <AdaptationSet contentType="video" mimeType="video/mp4">${clearKeyDescriptor('cbcs', KID_V, 'https://keys.example/ck')}
      ${template}
      <Representation id="v0" bandwidth="800000" codecs="avc1.64001f" width="640" height="360">
        <ContentProtection schemeIdUri="urn:mpeg:dash:mp4protection:2011" value="cenc" cenc:default_KID="${uuid(KID_A)}"/>
      </Representation>
    </AdaptationSet>`);
    const source = await openDash('/vod/three/manifest.mpd', text, '?token=t1');
    expect(source.video[0].protection).toEqual({
      scheme: 'cenc',
      kids: [KID_A, KID_V],
      source: { kind: 'license', url: 'https://keys.example/ck' },
    });
  });

  it('encrypted with no Clear Key license server named (Widevine only): an error, not a black screen', async () => {
    const text = mpd(`
    <AdaptationSet contentType="video" mimeType="video/mp4">
      <ContentProtection schemeIdUri="urn:mpeg:dash:mp4protection:2011" value="cenc" cenc:default_KID="${uuid(KID_V)}"/>
      <ContentProtection schemeIdUri="urn:uuid:edef8ba9-79d6-4ace-a3c8-27dcd51d21ed" value="Widevine"/>
      ${template}
      <Representation id="v0" bandwidth="800000" codecs="avc1.64001f" width="640" height="360"/>
    </AdaptationSet>`);
    const err = await openDash('/vod/wv/manifest.mpd', text).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProtectionError);
    expect((err as Error).message).toMatch(/no Clear Key license server.*Widevine/);
  });

  it("a scheme other than cenc and cbcs ('cens') is an error naming it", async () => {
    const text = mpd(`
    <AdaptationSet contentType="video" mimeType="video/mp4">${clearKeyDescriptor('cens', KID_V)}
      ${template}
      <Representation id="v0" bandwidth="800000" codecs="avc1.64001f" width="640" height="360"/>
    </AdaptationSet>`);
    await expect(openDash('/vod/cens/manifest.mpd', text)).rejects.toThrow(/"cens" is not supported/);
  });
});

/** An HLS presentation: a multivariant playlist and one media playlist per rendition (video v0, audio a0). */
function serveHls(dir: string, master: string, video: string, audio: string): void {
  served.set(`${dir}/master.m3u8`, master);
  served.set(`${dir}/v0/index.m3u8`, video);
  served.set(`${dir}/a0/index.m3u8`, audio);
}

function multivariant(sessionKey: string, query = ''): string {
  return `#EXTM3U
#EXT-X-VERSION:7
#EXT-X-INDEPENDENT-SEGMENTS
${sessionKey}
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aud",NAME="English",LANGUAGE="en",DEFAULT=YES,AUTOSELECT=YES,URI="a0/index.m3u8${query}"
#EXT-X-STREAM-INF:BANDWIDTH=800000,CODECS="avc1.64001f,mp4a.40.2",RESOLUTION=640x360,AUDIO="aud"
v0/index.m3u8${query}
`;
}

function media(keyLines: string, segments = ['seg-1.m4s', 'seg-2.m4s']): string {
  return `#EXTM3U
#EXT-X-VERSION:7
#EXT-X-TARGETDURATION:2
#EXT-X-MEDIA-SEQUENCE:1
#EXT-X-PLAYLIST-TYPE:VOD
${keyLines}
#EXT-X-MAP:URI="init.mp4"
${segments.map((s) => `#EXTINF:2.000,\n${s}`).join('\n')}
#EXT-X-ENDLIST
`;
}

const key = (method: string, uri: string, format = 'identity') =>
  `#EXT-X-KEY:METHOD=${method},URI="${uri}",KEYFORMAT="${format}",KEYFORMATVERSIONS="1"`;

async function openHls(dir: string, query = ''): Promise<HlsSource> {
  const source = new HlsSource(`${base}${dir}/master.m3u8${query}`, {});
  await source.open(signal);
  return source;
}

describe('HLS EXT-X-SESSION-KEY and EXT-X-KEY', () => {
  it("SAMPLE-AES identity: 'cbcs', the key URIs relative to the playlists naming them, the KID from keys/<kid>, the token carried", async () => {
    serveHls(
      '/vod/h1',
      multivariant(
        `#EXT-X-SESSION-KEY:METHOD=SAMPLE-AES,URI="keys/${KID_V}",KEYFORMAT="identity",KEYFORMATVERSIONS="1"`,
        '?token=tk',
      ),
      media(key('SAMPLE-AES', `../keys/${KID_V}`)),
      media(key('SAMPLE-AES', `../keys/${KID_A}?token=own`)),
    );
    const source = await openHls('/vod/h1', '?token=tk');
    expect(source.sessionKeys).toEqual([
      { scheme: 'cbcs', kids: [KID_V], source: { kind: 'key-uri', url: `${base}/vod/h1/keys/${KID_V}?token=tk` } },
    ]);
    const v = source.video[0];
    expect(v.protection).toEqual({
      scheme: 'cbcs',
      kids: [KID_V],
      source: { kind: 'key-uri', url: `${base}/vod/h1/keys/${KID_V}?token=tk` },
    });
    // a URI with its own token keeps it
    expect(source.audio?.protection?.source).toEqual({
      kind: 'key-uri',
      url: `${base}/vod/h1/keys/${KID_A}?token=own`,
    });
    expect(source.audio?.protection?.kids).toEqual([KID_A]);
    const chunk = await source.chunkAt(v.id, await source.startCursor(v.id, signal), signal);
    expect(chunk?.protection).toEqual(v.protection);
  });

  it("SAMPLE-AES-CTR: 'cenc'; METHOD=NONE: the segments after it are clear", async () => {
    serveHls(
      '/vod/h2',
      multivariant(''),
      media(`${key('SAMPLE-AES-CTR', `../keys/${KID_V}`)}`, [
        'seg-1.m4s',
        `seg-2.m4s\n#EXT-X-KEY:METHOD=NONE`,
        'seg-3.m4s',
      ]),
      media(''),
    );
    const source = await openHls('/vod/h2');
    expect(source.sessionKeys).toEqual([]);
    const v = source.video[0];
    expect(v.protection).toMatchObject({ scheme: 'cenc', kids: [KID_V] });
    const chunks = [];
    for (let c = await source.startCursor(v.id, signal); ;) {
      const chunk = await source.chunkAt(v.id, c, signal);
      if (!chunk) break;
      chunks.push(chunk);
      c = chunk.next;
    }
    expect(chunks.map((c) => c.protection?.scheme ?? 'clear')).toEqual(['cenc', 'cenc', 'clear']);
    expect(source.audio?.protection).toBeUndefined();
  });

  it('FairPlay beside identity: the identity key is used', async () => {
    serveHls(
      '/vod/h3',
      multivariant(''),
      media(
        `${key('SAMPLE-AES', 'skd://fairplay-key', 'com.apple.streamingkeydelivery')}\n${key('SAMPLE-AES', 'k.bin')}`,
      ),
      media(''),
    );
    const source = await openHls('/vod/h3');
    // (a key URI whose name is no KID: the KID comes from the init segment)
    expect(source.video[0].protection).toEqual({
      scheme: 'cbcs',
      kids: [],
      source: { kind: 'key-uri', url: `${base}/vod/h3/v0/k.bin` },
    });
  });

  it('METHOD=AES-128 (whole segments): an error naming it', async () => {
    serveHls(
      '/vod/h4',
      multivariant(''),
      media('#EXT-X-KEY:METHOD=AES-128,URI="key.bin",IV=0x0000000000000000000000000000000A'),
      media(''),
    );
    await expect(openHls('/vod/h4')).rejects.toThrow(/METHOD=AES-128 \(whole-segment AES-128\) is not supported/);
  });

  it('a FairPlay-only stream: an error naming the KEYFORMAT', async () => {
    serveHls(
      '/vod/h5',
      multivariant(''),
      media(key('SAMPLE-AES', 'skd://x', 'com.apple.streamingkeydelivery')),
      media(''),
    );
    const err = await openHls('/vod/h5').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProtectionError);
    expect((err as Error).message).toMatch(/KEYFORMAT "com.apple.streamingkeydelivery" is not supported/);
  });

  it('a FairPlay-only EXT-X-SESSION-KEY: an error before any media playlist', async () => {
    serveHls(
      '/vod/h6',
      multivariant('#EXT-X-SESSION-KEY:METHOD=SAMPLE-AES,URI="skd://x",KEYFORMAT="com.apple.streamingkeydelivery"'),
      media(''),
      media(''),
    );
    await expect(openHls('/vod/h6')).rejects.toThrow(/com.apple.streamingkeydelivery/);
  });

  it('readHlsKeyTag: NONE is clear, an unknown METHOD an error, KEYID when given', () => {
    const url = 'https://o.example/live/ch/v0/index.m3u8?token=x';
    expect(readHlsKeyTag('METHOD=NONE', url)).toBeNull();
    expect(readHlsKeyTag('METHOD=SAMPLE-AES-CBC,URI="k"', url)).toBeInstanceOf(ProtectionError);
    expect(readHlsKeyTag(`METHOD=SAMPLE-AES-CTR,URI="data:k",KEYID=0x${KID_A.toUpperCase()}`, url)).toEqual({
      scheme: 'cenc',
      kids: [KID_A],
      source: { kind: 'key-uri', url: 'data:k' },
    });
  });
});

describe('KIDs, URLs and the init segment', () => {
  it('KIDs as UUID, hex and 0x hex; base64url both ways', () => {
    expect(normalizeKid(uuid(KID_V).toUpperCase())).toBe(KID_V);
    expect(normalizeKid(`0x${KID_V}`)).toBe(KID_V);
    expect(normalizeKid('not-a-kid')).toBeUndefined();
    const b64 = toBase64Url(hex(KID_V));
    expect(b64).toBe(Buffer.from(hex(KID_V)).toString('base64url'));
    expect(Buffer.from(fromBase64Url(b64)).toString('hex')).toBe(KID_V);
  });

  it('the token carried to a same-origin relative URL only', () => {
    const mpdUrl = 'https://e.example/vod/a/manifest.mpd?token=T&x=1';
    expect(resolveWithToken('keys/clearkey', mpdUrl)).toBe('https://e.example/vod/a/keys/clearkey?token=T');
    expect(resolveWithToken('https://other.example/l', mpdUrl)).toBe('https://other.example/l');
    expect(resolveWithToken('l?token=mine', mpdUrl)).toBe('https://e.example/vod/a/l?token=mine');
    // path placement: relative resolution keeps it by itself
    expect(resolveWithToken('keys/clearkey', 'https://e.example/t/T/vod/a/manifest.mpd')).toBe(
      'https://e.example/t/T/vod/a/keys/clearkey',
    );
  });

  it("an init segment's tenc KID and schm scheme, and its moov's pssh", () => {
    const tenc = box('tenc', hex('01000000'), hex('00190110'), hex(KID_V), hex('10'), new Uint8Array(16));
    const sinf = box(
      'sinf',
      box('frma', new TextEncoder().encode('avc1')),
      box('schm', hex('00000000'), new TextEncoder().encode('cbcs'), hex('00010000')),
      box('schi', tenc),
    );
    const encv = box('encv', new Uint8Array(78), box('avcC', hex('01640028')), sinf);
    const stsd = box('stsd', hex('00000000'), u32(1), encv);
    const moov = box('moov', box('trak', box('mdia', box('minf', box('stbl', stsd)))), clearKeyPssh(KID_V, KID_A));
    const init = new Uint8Array([...box('ftyp', new TextEncoder().encode('iso6')), ...moov]);
    expect(readInitProtection(init)).toEqual({ scheme: 'cbcs', kids: [KID_V] });
    expect(readPsshBoxes(init)).toEqual([{ systemId: CLEAR_KEY_SYSTEM_ID, kids: [KID_V, KID_A] }]);
    expect(readInitProtection(box('moov', box('trak')))).toEqual({ kids: [] });
  });
});
