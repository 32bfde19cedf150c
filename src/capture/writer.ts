/**
 * The capture recorder: every received WS frame and REST body, appended in the replay format to
 * gzip files that rotate at a size cap, with the oldest deleted beyond a total cap. Flushed every
 * `flushEveryMs` (the collector: at least once per commit) so a SIGKILL loses at most that much; a capture being written is already replayable.
 * What waits for gzip and the disk is bounded: past the bound frames are counted, not queued, and
 * the gap is marked in the capture with its exact count.
 */
import { createWriteStream, readdirSync, statSync, unlinkSync, type WriteStream } from 'node:fs';
import type { Transform } from 'node:stream';
import { join } from 'node:path';
import { constants as zlibConstants, createGzip, type Gzip } from 'node:zlib';
import type { Clock, Timer } from '../clock/clock';
import type { CaptureSection } from '../core/contracts/snapshot';
import type { Frame } from '../core/source';
import { ensureDirSync } from '../files/dirs';
import { type CaptureGap, type CaptureHeader, formatCaptureHeader, formatCaptureLine, formatGapLine, formatRefusedLine } from './format';

export interface CaptureWriterOptions {
  dir: string;
  runId: string;
  header: CaptureHeader;
  maxFileBytes: number;
  maxTotalBytes: number;
  /** The flush cadence and the file names' UTC stamp. */
  clock: Clock;
  flushEveryMs?: number;
  /** Bytes waiting for gzip and the disk at most; beyond it frames are counted as not captured (default 8 MiB). */
  maxBacklogBytes?: number;
  onError?: (err: Error) => void;
  /** A gap closed (written into the capture): exactly how many frames are not in it, and when they came. */
  onGap?: (gap: CaptureGap) => void;
  /** The total cap deleted an old part (this run's or an earlier one's). */
  onRemoved?: (removed: CapturePartRemoved) => void;
  /**
   * A stage between gzip and each part's file, i.e. the disk as the writer sees it (tests: one that
   * can stop taking bytes, a disk that stalls, deterministically). Default: none.
   */
  disk?: () => Transform;
}

/**
 * A part the total cap deleted. `frames` is the frame lines it held (refused ones included) when it
 * is this run's, null for an earlier run's part (its count is not known without reading it).
 */
export interface CapturePartRemoved {
  file: string;
  bytes: number;
  frames: number | null;
}

/**
 * What the collector may tune of its capture besides the config (tests: a small bound, a stalling
 * disk, parts and a total far below the config's 1 MiB / 16 MiB floors so the cap acts in seconds).
 */
export type CaptureTuning = Partial<Pick<CaptureWriterOptions, 'maxBacklogBytes' | 'disk' | 'maxFileBytes' | 'maxTotalBytes'>>;

/**
 * The capture's memory bound. gzip runs on the thread pool; when it (or the disk) is slower than the
 * feed, what waits for it grew without limit (measured: +12 MB/s RSS at 450× simulator speed, and a
 * part of 94.9 MB over a 64 MiB cap). 8 MiB is about 4 s of a busy market's frames (~2 MB/s raw):
 * a short stall of the disk loses nothing, a lasting overload costs memory no more than this.
 */
export const CAPTURE_MAX_BACKLOG_BYTES = 8 * 1024 * 1024;

const PREFIX = 'capture-';
/**
 * gzip level 5, not 6: on the recorded hftbacktest frames level 6 compresses 50–53 MB/s of one
 * core and level 5 84 MB/s, for files 1.5 % larger (ratio 7.33 → 7.22). gzip runs on the thread
 * pool; when it is starved (a loaded machine, an accelerated simulator) its input queue fills to
 * CAPTURE_MAX_BACKLOG_BYTES — a heap snapshot of the soak rig at load 10 held 8.2 MB of queued
 * 64 KiB chunks — so a cheaper level keeps both the backlog's memory and the gaps rarer.
 */
export const CAPTURE_GZIP_LEVEL = 5;

function finished(out: WriteStream): Promise<void> {
  return new Promise((resolve) => {
    if (out.closed) return resolve();
    out.once('close', () => resolve());
    out.once('error', () => resolve());
  });
}
const SUFFIX = '.pp.gz';
/**
 * Lines reach gzip in chunks of about this many characters (at most an eighth of the backlog bound).
 * Every gzip write is a thread-pool job whose completion runs on this thread's event loop before the
 * next one starts, so gzip moves at most one batch per turn of a loop that is busy with detection:
 * on a starved machine its pool thread sits idle between jobs. With 64 KiB batches the books-on
 * memory-day rig (~5.6 MB/s of raw frames at speed 20, most of it depth) lost 5.6 % of its frames to
 * CAPTURE_BACKLOG while the collector kept up; a run of the same rig at nice 19 on a loaded machine
 * showed the pool threads with 4 s of CPU against the worker thread's 11 s while frames were being
 * dropped. 1 MiB batches, with an output chunk that holds one batch's compressed bytes, need 16×
 * fewer loop turns per byte. (One write per frame stopped keeping up near 50k frames/s, its queue
 * growing +6 MB/s, for the same reason.)
 */
export const CAPTURE_BATCH_CHARS = 1024 * 1024;
/** gzip's output chunk: one 1 MiB batch compresses to ~140 KiB (ratio ~7), so one job per batch. */
const GZIP_CHUNK_BYTES = 256 * 1024;

export class CaptureWriter {
  readonly files: string[] = [];
  /** Frames written (each one the normalizer saw live). */
  frames = 0;
  /** Frames the socket refused, written too so the capture holds everything received. */
  refused = 0;
  errors = 0;
  /** Frames (refused ones included) received but not captured because the backlog was full. */
  notCaptured = 0;
  /** Frames handed to the writer after close(): in notCaptured too, with no gap mark on disk. */
  lateFrames = 0;
  /** Gaps written into the capture so far. */
  gaps = 0;
  /**
   * Parts the total cap deleted, and the frame lines this run's deleted parts held: the retention
   * the user configured, so "received = captured" reads `frames + refused = on disk + framesRemoved`.
   */
  partsRemoved = 0;
  framesRemoved = 0;
  /** Frame lines per part of this run, so a deleted part says how many frames went with it. */
  private readonly partFrames = new Map<string, number>();
  private currentFrames = 0;
  /** The gap being counted (the backlog is still full), not yet written. */
  private openGap: CaptureGap | null = null;
  /** Input bytes handed to gzip for the current part, and how many gzip had consumed at the last check. */
  private partIn = 0;
  private gzip: Gzip | null = null;
  private out: WriteStream | null = null;
  private seq = 0;
  private flushTimer: Timer | null = null;
  private closed = false;
  /** Parts whose gzip was ended but whose file may not be fully written yet. */
  private readonly finishing: Promise<void>[] = [];
  /** Lines not yet handed to gzip (at most batchChars, or one flush interval). */
  private batch = '';
  private readonly batchChars: number;

  constructor(private readonly opts: CaptureWriterOptions) {
    // A batch is part of the backlog: a small bound (tests) gets small batches, so the bound still means "waiting for gzip".
    this.batchChars = Math.min(CAPTURE_BATCH_CHARS, Math.floor((opts.maxBacklogBytes ?? CAPTURE_MAX_BACKLOG_BYTES) / 8));
    ensureDirSync(opts.dir);
    this.open();
    this.flushTimer = opts.clock.every(opts.flushEveryMs ?? 1000, () => {
      this.drain();
      this.gzip?.flush(zlibConstants.Z_SYNC_FLUSH);
    });
  }

  /** Bytes received but not yet on their way to the disk: the batch and gzip's input queue. */
  get backlogBytes(): number {
    return this.batch.length + (this.gzip?.writableLength ?? 0);
  }

  /** The snapshot's `capture` section. */
  section(): CaptureSection {
    return {
      frames: this.frames,
      refused: this.refused,
      not_captured: this.notCaptured,
      gaps: this.gaps,
      parts_written: this.files.length,
      parts_removed: this.partsRemoved,
      frames_removed: this.framesRemoved,
      backlog_bytes: this.backlogBytes,
    };
  }

  /** Frames are being dropped right now (a gap is open). */
  get backlogged(): boolean {
    return this.openGap !== null;
  }

  get currentFile(): string | null {
    return this.files[this.files.length - 1] ?? null;
  }

  private open(): void {
    this.seq++;
    const stamp = new Date(this.opts.clock.now()).toISOString().replace(/[-:]/g, '').replace(/\..*$/, '');
    const path = join(this.opts.dir, `${PREFIX}${stamp}-${this.opts.runId}-${String(this.seq).padStart(4, '0')}${SUFFIX}`);
    const gzip = createGzip({ level: CAPTURE_GZIP_LEVEL, chunkSize: GZIP_CHUNK_BYTES });
    const out = createWriteStream(path);
    const onError = (e: Error): void => {
      this.errors++;
      this.opts.onError?.(e);
    };
    gzip.on('error', onError);
    out.on('error', onError);
    const disk = this.opts.disk?.();
    if (disk) {
      disk.on('error', onError);
      gzip.pipe(disk).pipe(out);
    } else gzip.pipe(out);
    this.partIn = 0;
    if (this.out !== null && this.currentFile !== null) this.partFrames.set(this.currentFile, this.currentFrames);
    this.currentFrames = 0;
    gzip.write(`${formatCaptureHeader({ ...this.opts.header, part: this.seq })}\n`);
    this.gzip = gzip;
    this.out = out;
    this.files.push(path);
    this.enforceTotal();
  }

  write(frame: Frame): void {
    if (this.afterClose(1) || this.full(frame.recv_ms)) return;
    this.frames++;
    this.append(formatCaptureLine(frame));
  }

  /**
   * Frames received but never handed to the capture (the intake's early bound): marked here with
   * their count and counted as not captured, like the writer's own gaps.
   */
  writeGap(gap: CaptureGap): void {
    if (gap.frames === 0 || this.afterClose(gap.frames)) return;
    this.closeGap();
    this.notCaptured += gap.frames;
    this.gaps++;
    this.batch += `${formatGapLine(gap)}\n`;
    this.opts.onGap?.(gap);
  }

  /** A frame the socket refused (`reason`: binary_frame, oversized_frame). */
  writeRefused(frame: Frame, reason: string): void {
    if (this.afterClose(1) || this.full(frame.recv_ms)) return;
    this.refused++;
    this.append(formatRefusedLine(frame, reason));
  }

  /**
   * True once closed: the frames are counted as not captured (and `lateFrames`), never dropped
   * unseen. The collector closes the capture only after its sources stop, so a count here is a bug
   * in that order, and it shows.
   */
  private afterClose(frames: number): boolean {
    if (!this.closed && this.gzip !== null) return false;
    this.notCaptured += frames;
    this.lateFrames += frames;
    return true;
  }

  /**
   * True (and the frame counted as not captured) while the backlog is at its bound. A gap ends once
   * the backlog is down to half the bound (so it does not flap per frame); its mark is then written
   * where the frames would have been.
   */
  private full(recvMs: number): boolean {
    const max = this.opts.maxBacklogBytes ?? CAPTURE_MAX_BACKLOG_BYTES;
    const backlog = this.backlogBytes;
    const gap = this.openGap;
    if (gap === null ? backlog >= max : backlog > max / 2) {
      this.notCaptured++;
      if (gap === null) this.openGap = { frames: 1, first_recv_ms: recvMs, last_recv_ms: recvMs, reason: 'capture_backlog' };
      else {
        gap.frames++;
        gap.last_recv_ms = recvMs;
      }
      return true;
    }
    if (gap !== null) this.closeGap();
    return false;
  }

  private closeGap(): void {
    const gap = this.openGap;
    if (gap === null) return;
    this.openGap = null;
    this.gaps++;
    this.batch += `${formatGapLine(gap)}\n`;
    this.opts.onGap?.(gap);
  }

  private append(line: string): void {
    this.currentFrames++;
    this.batch += `${line}\n`;
    if (this.batch.length >= this.batchChars) this.drain();
    if ((this.frames & 63) === 0 && this.projectedPartBytes() >= this.opts.maxFileBytes) this.rotate();
  }

  /**
   * The part's size once what waits for gzip is compressed too, at the part's ratio so far (1:1 until
   * gzip has output anything): rotating on bytes already written alone let a backlog carry a part
   * far past its cap.
   */
  private projectedPartBytes(): number {
    const out = this.out;
    const g = this.gzip;
    if (out === null || g === null) return 0;
    const written = out.bytesWritten + out.writableLength;
    const waiting = g.writableLength + this.batch.length;
    const consumed = this.partIn - g.writableLength;
    const ratio = consumed > 0 && written > 0 ? Math.min(1, written / consumed) : 1;
    return written + waiting * ratio;
  }

  /** Hand the batched lines to gzip. */
  private drain(): void {
    if (this.batch.length === 0 || this.gzip === null) return;
    this.partIn += Buffer.byteLength(this.batch);
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
        const frames = this.partFrames.get(x.f) ?? null;
        this.partFrames.delete(x.f);
        this.partsRemoved++;
        if (frames !== null) this.framesRemoved += frames;
        this.opts.onRemoved?.({ file: x.f, bytes: x.size, frames });
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
    // A gap still open at the end is marked too: the capture says how it ends.
    this.closeGap();
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
