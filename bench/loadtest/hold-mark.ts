/**
 * The hold of a viewer run: from a second after the ramp ended (the last viewers' start-up done) to
 * the end, when every viewer plays. Its CPU is the tester's steady cost per viewer and per request;
 * the whole run's adds the process's start-up (worker threads loading their modules) and the ramp's
 * first fetches. Used by a local run (run.ts) and by each agent (nats-agent.ts) alike.
 */
export interface HoldFigures {
  /** Seconds from the mark to finish(). */
  sec: number;
  /** CPU of this process (every thread) over the hold, µs. */
  cpuUs: number;
  requests: number;
}

export interface HoldMark {
  /** The hold's figures now, or null when the run ended before its hold began. */
  finish(): HoldFigures | null;
}

/** Marks the hold's start `rampSec + min(1, durationSec / 2)` seconds from now; `requests()` counts so far. */
export function markHold(rampSec: number, durationSec: number, requests: () => number): HoldMark {
  let mark: { cpu: NodeJS.CpuUsage; at: number; requests: number } | undefined;
  const timer = setTimeout(
    () => (mark = { cpu: process.cpuUsage(), at: performance.now(), requests: requests() }),
    (rampSec + Math.min(1, durationSec / 2)) * 1000,
  );
  timer.unref();
  return {
    finish() {
      clearTimeout(timer);
      if (!mark) return null;
      const cpu = process.cpuUsage(mark.cpu);
      return {
        sec: (performance.now() - mark.at) / 1000,
        cpuUs: cpu.user + cpu.system,
        requests: requests() - mark.requests,
      };
    },
  };
}
