import { log } from './logger.ts';

/**
 * A progress bar on stderr when it is a terminal; otherwise a debug log line every tenth of the
 * way (callers log one info line when a step finishes), so piped logs stay readable.
 */
export class Progress {
  private done = 0;
  private lastDecile = -1;
  private readonly start = performance.now();

  constructor(private readonly label: string, private readonly total: number) {}

  /** Advances by `n` and redraws with optional extra text (loss, speed, …). */
  tick(n = 1, extra = ''): void {
    this.done = Math.min(this.total, this.done + n);
    const frac = this.total === 0 ? 1 : this.done / this.total;
    if (process.stderr.isTTY) {
      const width = 24;
      const bar = '█'.repeat(Math.round(frac * width)).padEnd(width, '·');
      process.stderr.write(`\r${this.label} ${bar} ${this.done}/${this.total} ${extra}`.slice(0, process.stderr.columns ?? 120).padEnd(Math.min(process.stderr.columns ?? 120, 100)));
      if (this.done === this.total) process.stderr.write('\n');
    } else {
      const decile = Math.floor(frac * 10);
      if (decile !== this.lastDecile) {
        this.lastDecile = decile;
        log.debug(`${this.label} ${this.done}/${this.total} ${extra}`.trim());
      }
    }
  }

  /** Seconds since the bar was created. */
  elapsed(): number {
    return (performance.now() - this.start) / 1000;
  }
}
