/**
 * Dead-letter sink (SPEC §2.4): one JSONL line per input we could not use, with why, where from,
 * when, and the raw text truncated. Opened lazily so a clean run leaves no file behind.
 *
 * Off the hot path and bounded everywhere (issue 9: 200k bad frames written synchronously one by
 * one put the watermark 11 s behind and grew the file to 75 MB):
 *   - `write()` only appends a line to an in-memory queue; the disk is written in batches, one
 *     asynchronous write at a time, after the caller's synchronous work yields;
 *   - the queue holds at most `maxQueuedChars`: past that, letters are counted as `dropped` and
 *     not even serialised: the caller never blocks and memory never grows with the input rate;
 *   - the file rotates at `maxPartBytes` into `<path>.1`, `<path>.2`, … and only `maxParts` parts
 *     are kept, so the disk use is bounded by maxParts × maxPartBytes.
 * Every letter is accounted for: accepted = written + dropped + failed + queued.
 */
import { type FileHandle, open, rename, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { LIMITS } from '../core/constants';
import { ensureDir } from '../files/dirs';
import { describeFsError, errnoCode } from '../files/errors';
import { safeJson } from '../text/safe';

export interface DeadLetter {
  recv_ms: number;
  source: string;
  reason: string;
  raw: string;
}

export interface DeadLetterOptions {
  /** Rotate after this many bytes in the current part (default 8 MiB). */
  maxPartBytes?: number;
  /** Parts kept, the current one included (default 4: at most 32 MiB on disk). */
  maxParts?: number;
  /** Characters of serialised letters waiting for the disk before new ones are dropped (default 1 MiB). */
  maxQueuedChars?: number;
  /** Start the file afresh rather than appending to it (a replay writes one file per run). */
  truncate?: boolean;
}

/** What the collector shows (snapshot, health) and a replay reports. */
export interface DeadLetterStats {
  /** write() calls. */
  accepted: number;
  /** Lines on disk (or handed to a device such as /dev/null). */
  written: number;
  /** Not written because the queue was full: the price of never blocking the caller. */
  dropped: number;
  /** Lost to a disk error (see last_error). */
  failed: number;
  /** Waiting in the queue or in the write under way. */
  queued: number;
  /** Bytes written by this sink. */
  bytes: number;
  /** Times the file rotated; parts beyond maxParts were deleted. */
  rotations: number;
  last_error: string | null;
}

const DEFAULTS = { maxPartBytes: 8 * 1024 * 1024, maxParts: 4, maxQueuedChars: 1024 * 1024 } as const;

/** `<path>` for part 0 (the one being written), `<path>.N` for older ones. */
export function deadLetterPart(path: string, i: number): string {
  return i === 0 ? path : `${path}.${i}`;
}

export class DeadLetterFile {
  accepted = 0;
  written = 0;
  dropped = 0;
  failed = 0;
  bytes = 0;
  rotations = 0;
  lastError: string | null = null;

  private readonly maxPartBytes: number;
  private readonly maxParts: number;
  private readonly maxQueuedChars: number;
  private queue: string[] = [];
  private queuedChars = 0;
  /** Lines in the write under way. */
  private inFlight = 0;
  private fh: FileHandle | null = null;
  /** Bytes in the current part. */
  private size = 0;
  /** False for devices and pipes (/dev/null, a FIFO): they cannot be renamed. */
  private rotatable = true;
  private truncateNext: boolean;
  /** The file was created or opened at least once. */
  private opened = false;
  private scheduled = false;
  private running: Promise<void> | null = null;

  constructor(
    readonly path: string,
    opts: DeadLetterOptions = {},
  ) {
    this.maxPartBytes = opts.maxPartBytes ?? DEFAULTS.maxPartBytes;
    this.maxParts = opts.maxParts ?? DEFAULTS.maxParts;
    this.maxQueuedChars = opts.maxQueuedChars ?? DEFAULTS.maxQueuedChars;
    this.truncateNext = opts.truncate ?? false;
    if (!(this.maxParts >= 1 && this.maxQueuedChars >= 1 && this.maxPartBytes >= this.maxQueuedChars)) {
      // One batch must fit a part, or a part could exceed its cap by a whole batch.
      throw new RangeError(`dead letters ${path}: need maxParts >= 1 and maxPartBytes >= maxQueuedChars >= 1`);
    }
  }

  /** Queue one letter; never blocks, never throws. */
  write(d: DeadLetter): void {
    this.accepted++;
    if (this.queuedChars >= this.maxQueuedChars) {
      this.dropped++;
      return;
    }
    const raw = d.raw.length > LIMITS.DEAD_LETTER_RAW_CHARS ? d.raw.slice(0, LIMITS.DEAD_LETTER_RAW_CHARS) : d.raw;
    const line = `${safeJson({ recv_ms: d.recv_ms, source: d.source, reason: d.reason, raw_length: d.raw.length, raw })}\n`;
    this.queue.push(line);
    this.queuedChars += line.length;
    if (!this.scheduled && this.running === null) {
      this.scheduled = true;
      // After the caller's synchronous burst, so that a burst becomes one batch.
      setImmediate(() => {
        this.scheduled = false;
        void this.pump();
      });
    }
  }

  /** True while new letters would be dropped: a caller that may wait (replay) awaits flush() then. */
  get full(): boolean {
    return this.queuedChars >= this.maxQueuedChars;
  }

  stats(): DeadLetterStats {
    return {
      accepted: this.accepted,
      written: this.written,
      dropped: this.dropped,
      failed: this.failed,
      queued: this.queue.length + this.inFlight,
      bytes: this.bytes,
      rotations: this.rotations,
      last_error: this.lastError,
    };
  }

  /** Resolves once every letter accepted so far is written or counted as failed. */
  async flush(): Promise<void> {
    while (this.queue.length > 0 || this.running !== null) await this.pump();
  }

  /** flush(), then release the file. Letters written later reopen it. */
  async close(): Promise<void> {
    await this.flush();
    await this.closeHandle();
  }

  /** How many parts this sink has on disk: `path`, then `path.1` … */
  partCount(): number {
    return this.opened ? Math.min(this.maxParts, this.rotations + 1) : 0;
  }

  /**
   * Rename this sink's parts to `final`'s part names (a replay writes to a temp path and moves the
   * result into place only when it succeeded). Older parts of `final` beyond the new count go.
   */
  async moveTo(final: string): Promise<void> {
    await this.close();
    const n = this.partCount();
    for (let i = 0; i < n; i++) await rename(deadLetterPart(this.path, i), deadLetterPart(final, i)).catch(ignoreMissing);
    for (let i = n; i < this.maxParts; i++) await unlink(deadLetterPart(final, i)).catch(ignoreMissing);
  }

  /** Delete this sink's parts (a failed replay leaves nothing half-written). */
  async discard(): Promise<void> {
    await this.close();
    for (let i = 0; i < this.maxParts; i++) await unlink(deadLetterPart(this.path, i)).catch(ignoreMissing);
  }

  private pump(): Promise<void> {
    if (this.running !== null) return this.running;
    if (this.queue.length === 0) return Promise.resolve();
    this.running = (async () => {
      try {
        while (this.queue.length > 0) {
          const lines = this.queue;
          this.queue = [];
          this.queuedChars = 0;
          this.inFlight = lines.length;
          await this.writeBatch(lines);
          this.inFlight = 0;
        }
      } finally {
        this.running = null;
      }
    })();
    return this.running;
  }

  private async writeBatch(lines: string[]): Promise<void> {
    const text = lines.join('');
    const bytes = Buffer.byteLength(text);
    try {
      let fh = await this.handle();
      if (this.rotatable && this.size > 0 && this.size + bytes > this.maxPartBytes) fh = await this.rotate();
      await fh.appendFile(text);
      this.size += bytes;
      this.bytes += bytes;
      this.written += lines.length;
    } catch (e) {
      // Counted and shown, never thrown: a failing disk must not take the collector down. The
      // next batch tries again from a fresh open.
      this.failed += lines.length;
      this.lastError = `${this.path}: ${describeFsError(e)}`;
      await this.closeHandle();
    }
  }

  private async handle(): Promise<FileHandle> {
    if (this.fh !== null) return this.fh;
    await ensureDir(dirname(this.path));
    const fh = await open(this.path, this.truncateNext ? 'w' : 'a');
    this.truncateNext = false;
    this.opened = true;
    const st = await fh.stat();
    this.rotatable = st.isFile();
    this.size = st.isFile() ? st.size : 0;
    this.fh = fh;
    return fh;
  }

  private async rotate(): Promise<FileHandle> {
    await this.closeHandle();
    const last = this.maxParts - 1;
    if (last === 0) await unlink(this.path).catch(ignoreMissing);
    else {
      await unlink(deadLetterPart(this.path, last)).catch(ignoreMissing);
      for (let i = last - 1; i >= 0; i--) await rename(deadLetterPart(this.path, i), deadLetterPart(this.path, i + 1)).catch(ignoreMissing);
    }
    this.rotations++;
    const fh = await open(this.path, 'a');
    this.fh = fh;
    this.size = 0;
    return fh;
  }

  private async closeHandle(): Promise<void> {
    const fh = this.fh;
    this.fh = null;
    await fh?.close().catch(() => undefined);
  }
}

function ignoreMissing(e: unknown): void {
  if (errnoCode(e) !== 'ENOENT') throw e;
}
