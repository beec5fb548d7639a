/**
 * Plays one live rendition the way an LL-HLS client does (RFC 8216bis 6.3.7/6.2.5.2): request the
 * part the EXT-X-PRELOAD-HINT names, and at the same time the blocking reload that waits for it;
 * then follow the new playlist's hint. Every hint is a promise; the audit records each one that
 * was broken (the hinted part answered 404, or any other non-200) and checks every kept one is
 * listed as an EXT-X-PART of the playlist that came back. Shared by the integration test (a short
 * run) and bench/preload-hint-bench.ts (five minutes).
 */
import { Pool } from 'undici';

export interface HintAudit {
  rendition: string;
  /** Hints followed. */
  hints: number;
  /** Hinted parts that arrived (200) and were then listed as parts. */
  kept: number;
  /** Hinted parts answered 404: a hint naming a part that never existed. */
  notFound: string[];
  /** Any other failure (status other than 200/404, or a 200 part missing from the playlist). */
  otherFailures: string[];
  /** Hints that named part 0 of the next segment / the next part of the segment in progress. */
  nextSegmentHints: number;
  nextPartHints: number;
  /** Per playlist followed: the segment in progress (number, parts listed, seconds listed). */
  inProgress: { msn: number; parts: number; seconds: number }[];
  /** Parts each segment ended with (segments seen complete with their parts listed). */
  finalParts: Map<number, number>;
}

/** The segment in progress of a playlist: after the last EXTINF, the EXT-X-PART lines of one msn. */
function inProgressOf(playlist: string): { msn: number; parts: number; seconds: number } | undefined {
  const tail = playlist.slice(playlist.lastIndexOf('#EXTINF'));
  const parts = [...tail.matchAll(/#EXT-X-PART:DURATION=([\d.]+),URI="seg-(\d+)\.(\d+)\.m4s/g)];
  if (parts.length === 0) return undefined;
  return {
    msn: Number(parts[0][2]),
    parts: parts.length,
    seconds: parts.reduce((a, m) => a + Number(m[1]), 0),
  };
}

/** Complete segments whose parts are listed: msn → number of parts. */
function completeParts(playlist: string, into: Map<number, number>): void {
  const body = playlist.slice(0, playlist.lastIndexOf('#EXTINF'));
  const counts = new Map<number, number>();
  for (const m of body.matchAll(/#EXT-X-PART:[^\n]*URI="seg-(\d+)\.(\d+)\.m4s/g)) {
    counts.set(Number(m[1]), Math.max(counts.get(Number(m[1])) ?? 0, Number(m[2]) + 1));
  }
  for (const [n, c] of counts) into.set(n, c);
}

const HINT = /#EXT-X-PRELOAD-HINT:TYPE=PART,URI="seg-(\d+)\.(\d+)\.m4s[^"]*"/;

function hintOf(playlist: string): [number, number] | undefined {
  const m = HINT.exec(playlist);
  return m ? [Number(m[1]), Number(m[2])] : undefined;
}

export async function auditHints(
  base: string,
  channel: string,
  rendition: string,
  durationMs: number,
): Promise<HintAudit> {
  const pool = new Pool(base, { connections: 4 });
  const get = async (path: string) => {
    const res = await pool.request({ path, method: 'GET', headersTimeout: 30_000, bodyTimeout: 30_000 });
    const body = Buffer.from(await res.body.arrayBuffer());
    return { status: res.statusCode, text: body.toString('latin1') };
  };
  const audit: HintAudit = {
    rendition,
    hints: 0,
    kept: 0,
    notFound: [],
    otherFailures: [],
    nextSegmentHints: 0,
    nextPartHints: 0,
    inProgress: [],
    finalParts: new Map(),
  };
  const prefix = `/live/${channel}/${rendition}`;
  try {
    const first = await get(`${prefix}/index.m3u8`);
    let hint = hintOf(first.text);
    if (first.status !== 200 || !hint) throw new Error(`${prefix}/index.m3u8: ${first.status}, no preload hint`);
    const end = Date.now() + durationMs;
    while (Date.now() < end) {
      const [n, p] = hint;
      const uri = `seg-${n}.${p}.m4s`;
      audit.hints++;
      if (p === 0) audit.nextSegmentHints++;
      else audit.nextPartHints++;
      const [part, playlist] = await Promise.all([
        get(`${prefix}/${uri}`),
        get(`${prefix}/index.m3u8?_HLS_msn=${n}&_HLS_part=${p}`),
      ]);
      if (part.status === 404) audit.notFound.push(uri);
      else if (part.status !== 200) audit.otherFailures.push(`${uri}: ${part.status}`);
      else if (!playlist.text.includes(`URI="${uri}"`)) audit.otherFailures.push(`${uri}: not listed after 200`);
      else audit.kept++;
      if (playlist.status !== 200) throw new Error(`blocking reload for ${uri}: ${playlist.status}`);
      const cur = inProgressOf(playlist.text);
      if (cur) audit.inProgress.push(cur);
      completeParts(playlist.text, audit.finalParts);
      const next = hintOf(playlist.text);
      if (!next) throw new Error(`playlist after ${uri} has no preload hint`);
      if (next[0] < n || (next[0] === n && next[1] <= p))
        throw new Error(`hint went backwards: ${uri} → seg-${next[0]}.${next[1]}.m4s`);
      hint = next;
    }
  } finally {
    await pool.close();
  }
  return audit;
}
