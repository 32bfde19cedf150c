/**
 * Reading a whole file whose size we do not control (a config file given on the command line, the
 * snapshot a dead run left) without letting it decide our memory: `/dev/zero`, a FIFO or a huge
 * file stops at `maxBytes` with an error naming the file, instead of growing one buffer until V8
 * gives up.
 */
import { closeSync, openSync, readSync } from 'node:fs';

export class TooLargeError extends Error {
  override name = 'TooLargeError';
  constructor(
    readonly path: string,
    readonly maxBytes: number,
  ) {
    super(`${path} is larger than ${maxBytes} bytes`);
  }
}

/** The file as UTF-8 text; throws TooLargeError past `maxBytes`, the fs error otherwise. */
export function readTextBounded(path: string, maxBytes: number): string {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.allocUnsafe(maxBytes + 1);
    let n = 0;
    for (;;) {
      const got = readSync(fd, buf, n, buf.length - n, null);
      if (got === 0) break;
      n += got;
      if (n > maxBytes) throw new TooLargeError(path, maxBytes);
    }
    return buf.toString('utf8', 0, n);
  } finally {
    closeSync(fd);
  }
}
