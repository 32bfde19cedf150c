/**
 * The capture recorder: every received WS frame and REST body, appended in the replay format to
 * gzip files that rotate at a size cap, with the oldest deleted beyond a total cap. Flushed every
 * second so a crash loses at most that second; a capture being written is already replayable.
 */
import { createWriteStream, readdirSync, statSync, unlinkSync, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import { constants as zlibConstants, createGzip, type Gzip } from 'node:zlib';
import type { Clock, Timer } from '../clock/clock';
import type { Frame } from '../core/source';
import { ensureDirSync } from '../files/dirs';
import { type CaptureHeader, formatCaptureHeader, formatCaptureLine, formatRefusedLine } from './format';

export interface CaptureWriterOptions {
  dir: string;
  runId: string;
  header: CaptureHeader;
  maxFileBytes: number;
  maxTotalBytes: number;
  /** The flush cadence and the file names' UTC stamp. */
  clock: Clock;
  flushEveryMs?: number;
  onError?: (err: Error) => void;
}

const PREFIX = 'capture-';

function finished(out: WriteStream): Promise<void> {
  return new Promise((resolve) => {
    if (out.closed) return resolve();
    out.once('close', () => resolve());
    out.once('error', () => resolve());
  });
}
const SUFFIX = '.pp.gz';
/**
 * Lines reach gzip in chunks of about this many characters. Every gzip write is a thread-pool
 * round trip (~15 µs); one write per frame stops keeping up near 50k frames/s, and its queue
 * then grows without bound (measured: +6 MB/s at 60k frames/s; batched, the queue stays empty).
 */
const BATCH_CHARS = 64 * 1024;

export class CaptureWriter {
  readonly files: string[] = [];
  /** Frames written (each one the normalizer saw live). */
  frames = 0;
  /** Frames the socket refused, written too so the capture holds everything received. */
  refused = 0;
  errors = 0;
  private gzip: Gzip | null = null;
  private out: WriteStream | null = null;
  private seq = 0;
  private flushTimer: Timer | null = null;
  private closed = false;
  /** Parts whose gzip was ended but whose file may not be fully written yet. */
  private readonly finishing: Promise<void>[] = [];
  /** Lines not yet handed to gzip (at most BATCH_CHARS, or one flush interval). */
  private batch = '';

  constructor(private readonly opts: CaptureWriterOptions) {
    ensureDirSync(opts.dir);
    this.open();
    this.flushTimer = opts.clock.every(opts.flushEveryMs ?? 1000, () => {
      this.drain();
      this.gzip?.flush(zlibConstants.Z_SYNC_FLUSH);
    });
  }

  get currentFile(): string | null {
    return this.files[this.files.length - 1] ?? null;
  }

  private open(): void {
    this.seq++;
    const stamp = new Date(this.opts.clock.now()).toISOString().replace(/[-:]/g, '').replace(/\..*$/, '');
    const path = join(this.opts.dir, `${PREFIX}${stamp}-${this.opts.runId}-${String(this.seq).padStart(4, '0')}${SUFFIX}`);
    const gzip = createGzip({ level: 6 });
    const out = createWriteStream(path);
    const onError = (e: Error): void => {
      this.errors++;
      this.opts.onError?.(e);
    };
    gzip.on('error', onError);
    out.on('error', onError);
    gzip.pipe(out);
    gzip.write(`${formatCaptureHeader({ ...this.opts.header, part: this.seq })}\n`);
    this.gzip = gzip;
    this.out = out;
    this.files.push(path);
    this.enforceTotal();
  }

  write(frame: Frame): void {
    if (this.closed || this.gzip === null) return;
    this.frames++;
    this.append(formatCaptureLine(frame));
  }

  /** A frame the socket refused (`reason`: binary_frame, oversized_frame). */
  writeRefused(frame: Frame, reason: string): void {
    if (this.closed || this.gzip === null) return;
    this.refused++;
    this.append(formatRefusedLine(frame, reason));
  }

  private append(line: string): void {
    this.batch += `${line}\n`;
    if (this.batch.length >= BATCH_CHARS) this.drain();
    if ((this.frames & 63) === 0 && (this.out?.bytesWritten ?? 0) >= this.opts.maxFileBytes) this.rotate();
  }

  /** Hand the batched lines to gzip. */
  private drain(): void {
    if (this.batch.length === 0 || this.gzip === null) return;
    this.gzip.write(this.batch);
    this.batch = '';
  }

  private rotate(): void {
    this.drain();
    const g = this.gzip;
    const out = this.out;
    // The cap is enforced again once the ended part has its final size on disk.
    if (g && out) this.finishing.push(finished(out).then(() => this.enforceTotal()));
    g?.end();
    this.open();
  }

  /** Delete our oldest captures while the directory holds more than the cap. */
  private enforceTotal(): void {
    try {
      const ours = readdirSync(this.opts.dir)
        .filter((f) => f.startsWith(PREFIX) && f.endsWith(SUFFIX))
        .map((f) => ({ f: join(this.opts.dir, f), size: statSync(join(this.opts.dir, f)).size }))
        .sort((a, b) => (a.f < b.f ? -1 : 1));
      let total = ours.reduce((s, x) => s + x.size, 0);
      for (const x of ours) {
        if (total <= this.opts.maxTotalBytes || x.f === this.currentFile) break;
        unlinkSync(x.f);
        total -= x.size;
      }
    } catch (e) {
      this.errors++;
      this.opts.onError?.(e as Error);
    }
  }

  /** Finish every part (gzip trailers written, files closed), the rotated ones included. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.flushTimer?.cancel();
    this.drain();
    this.closed = true;
    const out = this.out;
    const g = this.gzip;
    this.gzip = null;
    if (g && out) {
      this.finishing.push(finished(out));
      g.end();
    }
    await Promise.all(this.finishing);
    this.enforceTotal();
  }
}
