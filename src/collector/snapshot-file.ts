/**
 * `debug/latest_snapshot.json`, written atomically (SPEC §8.2): temp file, fsync, rename. On
 * Windows a reader holding the file open makes rename fail with EPERM/EBUSY/EACCES for a moment,
 * so those are retried with a short backoff before giving up (and the failure is reported, not
 * thrown: a support file must never take the collector down).
 */
import { mkdir, open, rename, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { type Clock, sleep } from '../clock/clock';

const RETRYABLE = new Set(['EPERM', 'EBUSY', 'EACCES']);

export async function writeFileAtomic(path: string, text: string, opts: { clock: Clock; retries?: number; retryDelayMs?: number }): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.${opts.clock.now()}.tmp`;
  const fh = await open(tmp, 'w');
  try {
    await fh.writeFile(text);
    await fh.sync();
  } finally {
    await fh.close();
  }
  const retries = opts.retries ?? 8;
  for (let attempt = 0; ; attempt++) {
    try {
      await rename(tmp, path);
      return;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code ?? '';
      if (!RETRYABLE.has(code) || attempt >= retries) {
        await unlink(tmp).catch(() => undefined);
        throw new Error(`could not replace ${path} (${code || (e as Error).message}) after ${attempt + 1} tries; is another program holding it open?`, {
          cause: e,
        });
      }
      await sleep(opts.clock, (opts.retryDelayMs ?? 25) * 2 ** attempt);
    }
  }
}
