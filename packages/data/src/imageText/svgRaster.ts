// SVGs drawn by resvg in a child process (svgWorker.mjs). resvg 2.6.2 can panic on some files
// (its text layout did on openclipart drawings with text on a path), and a panic aborts the
// whole process: the child takes that, the file it was drawing is reported as not drawable,
// and a fresh child draws the rest. The child is started on the first SVG and does not keep
// the command alive once nothing is pending.
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { DataFormatError } from '../errors.js';

interface Pending {
  id: number;
  svg: string;
  size: number;
  resolve: (png: Buffer) => void;
  reject: (e: Error) => void;
}

export class SvgRasterizer {
  private child: ChildProcess | null = null;
  private readonly pending: Pending[] = [];
  private nextId = 0;
  /** How many times a child died under a file (each such file was reported, not retried). */
  crashes = 0;

  /** `worker`: the child's script (tests give one that crashes on purpose). */
  constructor(private readonly worker = fileURLToPath(new URL('./svgWorker.mjs', import.meta.url))) {}

  /** The SVG as a PNG, its longer side `size` pixels, on white (no text is drawn). */
  draw(svg: string, size: number): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const p: Pending = { id: this.nextId++, svg, size, resolve, reject };
      this.pending.push(p);
      this.send(p);
    });
  }

  /** Stops the child (pending drawings fail). */
  close(): void {
    const c = this.child;
    this.child = null;
    c?.kill();
    for (const p of this.pending.splice(0)) p.reject(new DataFormatError('the SVG rasterizer was closed'));
  }

  private send(p: Pending): void {
    const c = this.ensureChild();
    c.ref();
    c.channel?.ref();
    c.send({ id: p.id, svg: p.svg, size: p.size });
  }

  private ensureChild(): ChildProcess {
    if (this.child) return this.child;
    // No loader flags: the child is plain JavaScript.
    const c = fork(this.worker, [], { execArgv: [], serialization: 'advanced', stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
    let stderr = '';
    c.stderr?.on('data', (d: Buffer) => void (stderr = (stderr + d.toString()).slice(-2000)));
    // Only pending drawings keep the command alive (the IPC channel, ref'd while they are).
    (c.stderr as unknown as { unref?: () => void } | null)?.unref?.();
    c.on('message', (m: { id: number; png?: Uint8Array; error?: string }) => {
      const i = this.pending.findIndex((p) => p.id === m.id);
      if (i < 0) return;
      const [p] = this.pending.splice(i, 1);
      if (m.png) p!.resolve(Buffer.from(m.png));
      else p!.reject(new DataFormatError(m.error ?? 'the SVG did not draw'));
      if (this.pending.length === 0) this.idle(c);
    });
    c.on('exit', (code, signal) => {
      if (this.child !== c) return;
      this.child = null;
      if (this.pending.length === 0) return;
      // The child works through requests in order: the oldest one is the file it died on.
      this.crashes++;
      const [bad, ...rest] = this.pending.splice(0);
      const why =
        stderr
          .split('\n')
          .find((l) => /panicked|error/i.test(l))
          ?.trim() ?? '';
      bad!.reject(new DataFormatError(`resvg crashed drawing this SVG (${signal ?? `exit ${code}`}${why ? `: ${why}` : ''})`));
      for (const p of rest) {
        this.pending.push(p);
        this.send(p);
      }
    });
    this.child = c;
    return c;
  }

  private idle(c: ChildProcess): void {
    c.unref();
    c.channel?.unref();
  }
}

let shared: SvgRasterizer | null = null;
/** The process's rasterizer. */
export const svgRasterizer = (): SvgRasterizer => (shared ??= new SvgRasterizer());
