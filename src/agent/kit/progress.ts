/**
 * One line of progress on a terminal for long CLI work: a backup, a restore, a verify, a copy.
 *
 * Get one through `startProgress` of kit/cli.ts, never by importing this file: that answers `undefined`
 * when stdout or stderr is not a terminal or `--json` is given, and only loads this file when it is
 * drawn, so a command on a pipe, in a script or in the daemon never loads it.
 *
 * ```ts
 * import { startProgress } from '../../agent/kit/cli.js';
 *
 * const progress = await startProgress(ctx, `copy '${name}'`); // ProgressLine | undefined
 * progress?.update(bytesSoFar);             // as often as you like: drawn at most every 200 ms
 * progress?.update(bytesSoFar, totalBytes); // with a total: `120.0 MiB of 200.0 MiB (60%)` and the time left
 * progress?.update(bytesSoFar, undefined, 'verifying'); // a word after the label for the current step;
 *                                        // a new step, or bytes lower than before, starts the rate afresh
 * progress?.end();                          // erases the line; print the command's final output after it
 * ```
 *
 * The line goes to stderr, so stdout keeps only the command's result. The rate is taken over the last
 * five seconds of updates, so a stall shows as a falling rate rather than an average that hides it.
 * A small renderer rather than a library: the few progress packages that are kept up (cli-progress,
 * listr2) bring their own terminal handling and dependencies for what is ~80 lines here.
 */

/** What the line is drawn on: process.stderr, or a fake in tests. */
export interface ProgressStream {
  write(text: string): unknown;
  /** The terminal's width; the line is cut to fit so it never wraps (a wrapped line cannot be redrawn with \r). */
  readonly columns?: number;
}

const MIN_REDRAW_MS = 200;
const RATE_WINDOW_MS = 5000;
/** ESC [ K: erase from the cursor to the end of the line. */
const ERASE_LINE = '\u001b[K';

interface Sample {
  at: number;
  done: number;
}

export class ProgressLine {
  private samples: Sample[] = [];
  private lastDrawn = -Infinity;
  private drawn = false;
  private step: string | undefined;

  /** `formatBytes` is kit/cli.ts's, handed in: cli.ts loads this file, so this file cannot import it back. */
  constructor(
    private readonly stream: ProgressStream,
    private readonly label: string,
    private readonly formatBytes: (bytes: number) => string,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Records `done` bytes (of `total` when known) and redraws unless the last draw was under 200 ms ago (a new step is drawn at once). */
  update(done: number, total?: number, step?: string): void {
    const at = this.now();
    // Another step, or a count that went back (the next tool reading a file from its start), is a new
    // measure: drawn at once, its rate taken from its own samples only.
    const fresh = step !== this.step || done < (this.samples[this.samples.length - 1]?.done ?? 0);
    if (fresh) this.samples = [];
    this.step = step;
    this.samples.push({ at, done });
    while (this.samples.length > 2 && at - this.samples[0]!.at > RATE_WINDOW_MS) this.samples.shift();
    if (!fresh && at - this.lastDrawn < MIN_REDRAW_MS) return;
    this.lastDrawn = at;
    this.drawn = true;
    this.stream.write(`\r${this.fit(this.text(done, total, step))}${ERASE_LINE}`);
  }

  /** Erases the line, if one was drawn, and leaves the cursor at its start. */
  end(): void {
    if (this.drawn) this.stream.write(`\r${ERASE_LINE}`);
    this.drawn = false;
  }

  /** Bytes a second over the window, or undefined before two samples a moment apart. */
  private rate(): number | undefined {
    const first = this.samples[0]!;
    const last = this.samples[this.samples.length - 1]!;
    const seconds = (last.at - first.at) / 1000;
    return seconds > 0.1 ? Math.max(0, last.done - first.done) / seconds : undefined;
  }

  private text(done: number, total: number | undefined, step: string | undefined): string {
    const parts = [`${this.label}${step ? ` (${step})` : ''}:`];
    const rate = this.rate();
    if (total !== undefined && total > 0) {
      parts.push(`${this.formatBytes(done)} of ${this.formatBytes(total)} (${Math.min(100, Math.floor((done / total) * 100))}%)`);
    } else parts.push(this.formatBytes(done));
    if (rate !== undefined) parts.push(`${this.formatBytes(rate)}/s`);
    if (rate && total !== undefined && total > done) parts.push(`${formatSeconds((total - done) / rate)} left`);
    return parts.join('  ');
  }

  private fit(text: string): string {
    const width = this.stream.columns;
    return width && text.length >= width ? text.slice(0, Math.max(1, width - 1)) : text;
  }
}

/** `75` → `1 min 15 s`, for the time left. */
function formatSeconds(seconds: number): string {
  const s = Math.ceil(seconds);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}
