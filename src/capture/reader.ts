/**
 * Reads capture files (ours or foreign, plain or gzip) as frames, and merges several files by
 * receive time so that two recorders of the same period (e.g. one file per symbol) interleave as
 * they were received.
 */
import { closeSync, createReadStream, openSync, readSync, statSync } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
import { constants as zlibConstants, createGunzip } from 'node:zlib';
import type { Readable } from 'node:stream';
import type { Frame } from '../core/source';
import { describeFsError, errnoCode, PathError } from '../files/errors';
import { safeMessage } from '../text/safe';
import { type CaptureHeader, parseCaptureLine } from './format';

/** The reason of a bad item that is a frame the live socket refused: `refused:<why>`. */
export const REFUSED_PREFIX = 'refused:';

export type CaptureItem =
  | { kind: 'frame'; frame: Frame; file: number; line: number }
  | { kind: 'header'; header: CaptureHeader; file: number }
  | { kind: 'bad'; reason: string; raw: string; file: number; line: number };

/**
 * The longest line read: twice the largest REST body the collector accepts (16 MiB), so any line
 * it wrote fits. Past it the file is not a capture (`/dev/zero`, a binary): stop with the line
 * number, rather than grow one string until V8 gives up ("Invalid string length").
 */
export const MAX_LINE_CHARS = 32 * 1024 * 1024;

/** A capture file that cannot be read on: names the file, the line where reading stopped, and why. */
export class CaptureReadError extends PathError {
  override name = 'CaptureReadError';
}

function cannotRead(path: string, e: unknown): CaptureReadError {
  return new CaptureReadError(path, `cannot read ${safeMessage(path)}: ${describeFsError(e)}`, { cause: e });
}

/** Fails early, with the path, for a file that is missing, a directory or unreadable. */
export function checkReadable(path: string): void {
  let isDir: boolean;
  try {
    isDir = statSync(path).isDirectory();
  } catch (e) {
    throw cannotRead(path, e);
  }
  if (isDir) throw new CaptureReadError(path, `cannot read ${safeMessage(path)}: is a directory (give a capture file)`);
  try {
    closeSync(openSync(path, 'r'));
  } catch (e) {
    throw cannotRead(path, e);
  }
}

export function isGzipFile(path: string): boolean {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    throw cannotRead(path, e);
  }
  try {
    const b = Buffer.alloc(2);
    const n = readSync(fd, b, 0, 2, 0);
    return n === 2 && b[0] === 0x1f && b[1] === 0x8b;
  } catch (e) {
    // A device or pipe cannot be read at a position: then it is not one of our gzip files.
    if (errnoCode(e) === 'ESPIPE') return false;
    throw cannotRead(path, e);
  } finally {
    closeSync(fd);
  }
}

/** Compressed bytes read so far, for progress. */
export interface ReadProgress {
  bytesRead: number;
  totalBytes: number;
}

function openText(path: string, progress?: ReadProgress): { stream: Readable; gzip: boolean } {
  checkReadable(path);
  const gzip = isGzipFile(path);
  const raw = createReadStream(path, { highWaterMark: 1 << 20 });
  if (progress) {
    progress.totalBytes += statSync(path).size;
    raw.on('data', (chunk: Buffer | string) => {
      progress.bytesRead += chunk.length;
    });
  }
  if (!gzip) return { stream: raw, gzip };
  // Sync-flush finishing reads a capture that is still being written (no gzip trailer yet).
  const gunzip = createGunzip({ finishFlush: zlibConstants.Z_SYNC_FLUSH });
  raw.on('error', (e) => gunzip.destroy(e));
  return { stream: raw.pipe(gunzip), gzip };
}

/** The lines of a text stream, a chunk's worth at a time, each at most MAX_LINE_CHARS long. */
async function* lineBatches(stream: Readable, path: string, gzip: boolean, maxLine: number): AsyncGenerator<string[]> {
  const decoder = new StringDecoder('utf8');
  const pending: string[] = [];
  let pendingChars = 0;
  let lineNo = 0;
  const tooLong = (): CaptureReadError =>
    new CaptureReadError(path, `cannot read ${safeMessage(path)}: line ${lineNo + 1} is longer than ${maxLine} characters (not a capture file?)`);
  const push = (s: string): void => {
    pending.push(s);
    pendingChars += s.length;
  };
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      const text = decoder.write(chunk);
      const out: string[] = [];
      let start = 0;
      for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n', start)) {
        if (pendingChars + nl - start > maxLine) throw tooLong();
        let line = text.slice(start, nl);
        if (pending.length > 0) {
          push(line);
          line = pending.join('');
          pending.length = 0;
          pendingChars = 0;
        }
        out.push(line);
        lineNo++;
        start = nl + 1;
      }
      if (start < text.length) {
        // Pieces of a long line are joined once, when it ends: no quadratic re-copying.
        push(text.slice(start));
        if (pendingChars > maxLine) throw tooLong();
      }
      if (out.length > 0) yield out;
    }
  } catch (e) {
    if (e instanceof CaptureReadError) throw e;
    const after = `after line ${lineNo}`;
    if (gzip && typeof errnoCode(e) === 'string' && errnoCode(e)?.startsWith('Z_'))
      throw new CaptureReadError(path, `cannot read ${safeMessage(path)}: not a valid gzip file (${safeMessage((e as Error).message)}) ${after}`, { cause: e });
    throw new CaptureReadError(path, `cannot read ${safeMessage(path)} ${after}: ${describeFsError(e)}`, { cause: e });
  } finally {
    stream.destroy();
  }
  const last = pending.join('') + decoder.end();
  if (last.length > 0) yield [last];
}

/** Every line of one capture file, parsed; comment/empty lines are skipped. Throws CaptureReadError. */
export async function* readCapture(path: string, fileIndex = 0, progress?: ReadProgress, maxLine = MAX_LINE_CHARS): AsyncGenerator<CaptureItem> {
  const { stream, gzip } = openText(path, progress);
  let lineNo = 0;
  for await (const batch of lineBatches(stream, path, gzip, maxLine)) {
    for (const l of batch) {
      lineNo++;
      const line = l.charCodeAt(l.length - 1) === 13 ? l.slice(0, -1) : l;
      const r = parseCaptureLine(line);
      if (r.kind === 'frame') yield { kind: 'frame', frame: r.frame, file: fileIndex, line: lineNo };
      else if (r.kind === 'header') yield { kind: 'header', header: r.header, file: fileIndex };
      else if (r.kind === 'bad') yield { kind: 'bad', reason: r.reason, raw: line, file: fileIndex, line: lineNo };
      // A frame the live socket refused never reached the normalizer there; here it must not either.
      // It passes as a bad line, so replay counts it malformed and dead-letters it, as live did.
      else if (r.kind === 'refused') yield { kind: 'bad', reason: `${REFUSED_PREFIX}${r.reason}`, raw: line, file: fileIndex, line: lineNo };
    }
  }
}

/**
 * Merge several captures by `recv_ms` (ties: lower file index first, then line order). Headers and
 * bad lines pass through as soon as they are read.
 */
export async function* mergeCaptures(paths: readonly string[], progress?: ReadProgress): AsyncGenerator<CaptureItem> {
  const its = paths.map((p, i) => readCapture(p, i, progress));
  const heads: ((CaptureItem & { kind: 'frame' }) | null)[] = new Array(paths.length).fill(null);
  const done: boolean[] = new Array(paths.length).fill(false);
  const pull = async function* (i: number): AsyncGenerator<CaptureItem> {
    // Refill head i, yielding any non-frame items met on the way.
    while (!done[i] && heads[i] === null) {
      const r = await (its[i] as AsyncGenerator<CaptureItem>).next();
      if (r.done) {
        done[i] = true;
        break;
      }
      if (r.value.kind === 'frame') heads[i] = r.value;
      else yield r.value;
    }
  };
  for (let i = 0; i < paths.length; i++) yield* pull(i);
  for (;;) {
    let best = -1;
    for (let i = 0; i < heads.length; i++) {
      const h = heads[i];
      if (h && (best < 0 || h.frame.recv_ms < (heads[best] as CaptureItem & { kind: 'frame' }).frame.recv_ms)) best = i;
    }
    if (best < 0) return;
    const item = heads[best] as CaptureItem;
    heads[best] = null;
    yield item;
    yield* pull(best);
  }
}
