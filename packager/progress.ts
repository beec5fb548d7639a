/**
 * Progress display for a packaging run: a cli-progress bar on a terminal, otherwise a plain line
 * every 10% (logs and pipes stay readable). Driven by ffmpeg's out_time.
 */
import cliProgress from 'cli-progress';

export interface ProgressReporter {
  /** Media seconds encoded so far. */
  update(doneSec: number): void;
  /** Final state: complete (true) or abandoned (false). */
  stop(completed: boolean): void;
}

export interface ProgressOptions {
  /** Source duration in seconds (unknown → seconds only, no percentage). */
  totalSec?: number;
  label: string;
  stream?: NodeJS.WriteStream;
  /** Override TTY detection (tests). */
  tty?: boolean;
}

export function createProgressReporter(opts: ProgressOptions): ProgressReporter {
  const stream = opts.stream ?? process.stdout;
  const tty = opts.tty ?? Boolean(stream.isTTY);
  const total = opts.totalSec && opts.totalSec > 0 ? opts.totalSec : undefined;
  const started = Date.now();

  if (tty) {
    const bar = new cliProgress.SingleBar(
      {
        stream,
        format: `${opts.label} [{bar}] {percentage}% | {value}/{total} s | {speed}x | ETA {eta_formatted}`,
        hideCursor: true,
        clearOnComplete: false,
        etaBuffer: 20,
      },
      cliProgress.Presets.shades_classic,
    );
    bar.start(round1(total ?? 0), 0, { speed: '0.0' });
    return {
      update(doneSec) {
        const elapsed = (Date.now() - started) / 1000;
        const speed = elapsed > 0 ? (doneSec / elapsed).toFixed(1) : '0.0';
        const value = total ? Math.min(round1(doneSec), round1(total)) : round1(doneSec);
        if (!total) bar.setTotal(value);
        bar.update(value, { speed });
      },
      stop(completed) {
        if (completed && total) bar.update(round1(total));
        bar.stop();
      },
    };
  }

  let nextDecile = 1;
  let lastSec = 0;
  return {
    update(doneSec) {
      lastSec = doneSec;
      if (!total) return;
      const pct = Math.min(100, (doneSec / total) * 100);
      if (pct >= nextDecile * 10 && pct < 100) {
        while (pct >= nextDecile * 10) nextDecile++;
        stream.write(`${opts.label}: ${Math.floor(pct)}% (${doneSec.toFixed(1)}/${total.toFixed(1)} s)\n`);
      }
    },
    stop(completed) {
      if (completed) stream.write(`${opts.label}: 100% (${(total ?? lastSec).toFixed(1)} s encoded)\n`);
    },
  };
}

function round1(n: number): number {
  return Math.round(n * 10) / 10;
}
