/**
 * The top frames of a V8 CPU profile (`node --cpu-prof`) by self time, for the bench JSON notes:
 *
 *   node bin/run-ts.js bench/cpu-profile-top.ts <file.cpuprofile> [--top 15]
 *
 * Prints JSON: [{ frame: "name (file:line)", selfPercent }], idle and GC frames included (they say
 * how busy the process was).
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples?: number[];
  /** Microseconds on the monotonic clock (process.hrtime's). */
  startTime?: number;
  timeDeltas?: number[];
}

export interface TopFrame {
  frame: string;
  selfPercent: number;
}

/**
 * Self-time share of each frame (same name and location merged), highest first. `window`: only the
 * samples taken within [from, to] (microseconds of process.hrtime's clock, as the profile's times).
 */
export function topFrames(profile: CpuProfile, top: number, window?: { from: number; to: number }): TopFrame[] {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const counts = new Map<number, number>();
  if (profile.samples && profile.samples.length > 0) {
    let t = profile.startTime ?? 0;
    profile.samples.forEach((id, i) => {
      t += profile.timeDeltas?.[i] ?? 0;
      if (window && (t < window.from || t > window.to)) return;
      counts.set(id, (counts.get(id) ?? 0) + 1);
    });
  } else {
    for (const n of profile.nodes) counts.set(n.id, n.hitCount ?? 0);
  }
  let total = 0;
  const merged = new Map<string, number>();
  for (const [id, c] of counts) {
    const f = byId.get(id)?.callFrame;
    if (!f) continue;
    total += c;
    const where = f.url ? ` (${basename(f.url)}:${f.lineNumber + 1})` : '';
    const name = `${f.functionName || '(anonymous)'}${where}`;
    merged.set(name, (merged.get(name) ?? 0) + c);
  }
  return [...merged.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([frame, c]) => ({ frame, selfPercent: Math.round((c / Math.max(1, total)) * 1000) / 10 }));
}

if (process.argv[1] && process.argv[1].endsWith('cpu-profile-top.ts')) {
  const args = process.argv.slice(2);
  const file = args[0];
  if (!file) {
    process.stderr.write('usage: cpu-profile-top <file.cpuprofile> [--top N]\n');
    process.exit(2);
  }
  const t = args.indexOf('--top');
  const top = t === -1 ? 15 : Number(args[t + 1]);
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  process.stdout.write(`${JSON.stringify(topFrames(profile, top), null, 2)}\n`);
}
