/**
 * Reads capture files (ours or foreign, plain or gzip) as frames, and merges several files by
 * receive time so that two recorders of the same period (e.g. one file per symbol) interleave as
 * they were received.
 */
import { createReadStream, openSync, readSync, closeSync, statSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { constants as zlibConstants, createGunzip } from 'node:zlib';
import type { Readable } from 'node:stream';
import type { Frame } from '../core/normalize';
import { type CaptureHeader, parseCaptureLine } from './format';

export type CaptureItem =
  | { kind: 'frame'; frame: Frame; file: number; line: number }
  | { kind: 'header'; header: CaptureHeader; file: number }
  | { kind: 'bad'; reason: string; raw: string; file: number; line: number };

export function isGzipFile(path: string): boolean {
  const fd = openSync(path, 'r');
  try {
    const b = Buffer.alloc(2);
    const n = readSync(fd, b, 0, 2, 0);
    return n === 2 && b[0] === 0x1f && b[1] === 0x8b;
  } finally {
    closeSync(fd);
  }
}

/** Compressed bytes read so far, for progress. */
export interface ReadProgress {
  bytesRead: number;
  totalBytes: number;
}

function openText(path: string, progress?: ReadProgress): Readable {
  const raw = createReadStream(path, { highWaterMark: 1 << 20 });
  if (progress) {
    progress.totalBytes += statSync(path).size;
    raw.on('data', (chunk: Buffer | string) => {
      progress.bytesRead += chunk.length;
    });
  }
  if (!isGzipFile(path)) return raw;
  // Sync-flush finishing reads a capture that is still being written (no gzip trailer yet).
  const gunzip = createGunzip({ finishFlush: zlibConstants.Z_SYNC_FLUSH });
  raw.on('error', (e) => gunzip.destroy(e));
  return raw.pipe(gunzip);
}

/** Every line of one capture file, parsed; comment/empty lines are skipped. */
export async function* readCapture(path: string, fileIndex = 0, progress?: ReadProgress): AsyncGenerator<CaptureItem> {
  const rl = createInterface({ input: openText(path, progress), crlfDelay: Infinity });
  let lineNo = 0;
  for await (const line of rl) {
    lineNo++;
    const r = parseCaptureLine(line);
    if (r.kind === 'frame') yield { kind: 'frame', frame: r.frame, file: fileIndex, line: lineNo };
    else if (r.kind === 'header') yield { kind: 'header', header: r.header, file: fileIndex };
    else if (r.kind === 'bad') yield { kind: 'bad', reason: r.reason, raw: line, file: fileIndex, line: lineNo };
    // A frame the live socket refused never reached the normalizer there; here it must not either.
    // It passes as a bad line, so replay counts it malformed and dead-letters it, as live did.
    else if (r.kind === 'refused') yield { kind: 'bad', reason: `refused:${r.reason}`, raw: line, file: fileIndex, line: lineNo };
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
