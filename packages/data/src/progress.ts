// A terminal progress bar with rate and ETA. On a terminal it redraws one line; elsewhere
// (CI logs, pipes) it prints a line every `logEverySeconds` so logs stay readable.

export interface ProgressOptions {
  total: number;
  label: string;
  /** Unit for the rate, e.g. 'steps', 'img'. */
  unit?: string;
  /** Counts are bytes: shown as 108.7 kB / 2.1 MB, the rate as MB/s. */
  bytes?: boolean;
  stream?: NodeJS.WriteStream;
  logEverySeconds?: number;
}

function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '--:--';
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  const mm = String(m).padStart(2, '0');
  const ss = String(r).padStart(2, '0');
  return h > 0 ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
}

/** A byte count in decimal units: 512 B, 108.7 kB, 2.10 MB, 1.25 GB. */
export function formatBytes(n: number): string {
  if (n < 1000) return `${Math.round(n)} B`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let v = n / 1000;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${v.toFixed(v < 10 ? 2 : 1)} ${units[i]}`;
}

export class ProgressBar {
  private done = 0;
  private readonly start = performance.now();
  private lastDraw = 0;
  private lastLog = 0;
  private readonly stream: NodeJS.WriteStream;
  private readonly tty: boolean;
  private info = '';

  constructor(private readonly o: ProgressOptions) {
    this.stream = o.stream ?? process.stderr;
    this.tty = this.stream.isTTY === true;
  }

  /** Advances by `n` and sets the trailing text (e.g. the current loss). */
  tick(n = 1, info?: string): void {
    this.done += n;
    if (info !== undefined) this.info = info;
    const now = performance.now();
    if (this.tty && now - this.lastDraw > 100) {
      this.lastDraw = now;
      this.stream.write(`\r\x1b[K${this.line()}`);
    } else if (!this.tty && now - this.lastLog > (this.o.logEverySeconds ?? 10) * 1000) {
      this.lastLog = now;
      this.stream.write(`${this.line()}\n`);
    }
  }

  /** Elapsed seconds since the bar started. */
  get elapsedSeconds(): number {
    return (performance.now() - this.start) / 1000;
  }

  line(): string {
    const elapsed = this.elapsedSeconds;
    const rate = this.done / Math.max(elapsed, 1e-9);
    const frac = this.o.total > 0 ? Math.min(1, this.done / this.o.total) : 0;
    const width = 24;
    const filled = Math.round(frac * width);
    const bar = `${'█'.repeat(filled)}${'░'.repeat(width - filled)}`;
    const eta = (this.o.total - this.done) / rate;
    const counts = this.o.bytes
      ? `${formatBytes(this.done)}/${formatBytes(this.o.total)} ${formatBytes(rate)}/s`
      : `${this.done}/${this.o.total} ${rate.toFixed(rate < 10 ? 2 : 0)} ${this.o.unit ?? 'it'}/s`;
    return `${this.o.label} ${bar} ${counts} ETA ${formatDuration(eta)} ${this.info}`.trimEnd();
  }

  /** Final line, with the total time. */
  finish(info?: string): void {
    if (info !== undefined) this.info = info;
    const text = `${this.line().replace(/ETA \S+/, `in ${formatDuration(this.elapsedSeconds)}`)}\n`;
    this.stream.write(this.tty ? `\r\x1b[K${text}` : text);
  }
}
