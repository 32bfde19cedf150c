/**
 * `debug/latest_snapshot.json`, written atomically (SPEC §8.2): temp file, fsync, rename. On
 * Windows a reader holding the file open makes rename fail with EPERM/EBUSY/EACCES for a moment,
 * so those are retried with a short backoff before giving up (and the failure is reported, not
 * thrown: a support file must never take the collector down).
 *
 * After a crash: `removeStaleSnapshotTemps` deletes the temps a killed run left, and
 * `markUncleanEnd` turns the dead run's last snapshot (still saying OBSERVE) into one that says the
 * run ended uncleanly, before the new run's first write. The collector calls both at start.
 */
import { type FileHandle, open, rename, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { type Clock, sleep } from '../clock/clock';
import { readTextBounded } from '../files/bounded-read';
import { ensureDir } from '../files/dirs';
import { removeStaleTemps, type StaleTempOptions, type StaleTempResult, tempPathFor } from '../files/temp-files';

const RETRYABLE = new Set(['EPERM', 'EBUSY', 'EACCES']);
/** A snapshot with full buffers is a few MB; a larger file is not ours to rewrite. */
const MAX_SNAPSHOT_FILE_BYTES = 64 * 1024 * 1024;

/**
 * Writes the strings in order, each encoded once. Concatenating them first (`json + newline`) made
 * a cons string that writeFile flattened into a second few-MB copy before encoding it: for the
 * snapshot every 5 s, that copy was ~6 % of the collector worker's allocation, all of it in the
 * large-object space that drives its full GCs.
 */
async function writeAll(fh: FileHandle, parts: readonly string[]): Promise<void> {
  for (const part of parts) {
    const bytes = Buffer.from(part, 'utf8');
    for (let at = 0; at < bytes.length;) {
      const { bytesWritten } = await fh.write(bytes, at, bytes.length - at);
      if (bytesWritten <= 0) throw new Error(`writing ${bytes.length} bytes stopped after ${at}: is the disk full?`);
      at += bytesWritten;
    }
  }
}

/** `text` (or its parts, in order) into `path`, atomically: a temp file, fsync, rename. */
export async function writeFileAtomic(
  path: string,
  text: string | readonly string[],
  opts: { clock: Clock; retries?: number; retryDelayMs?: number },
): Promise<void> {
  await ensureDir(dirname(path));
  const tmp = tempPathFor(path, process.pid, opts.clock.now());
  const fh = await open(tmp, 'w');
  try {
    await writeAll(fh, typeof text === 'string' ? [text] : text);
    await fh.sync();
  } catch (e) {
    await fh.close().catch(() => undefined);
    await unlink(tmp).catch(() => undefined);
    throw e;
  }
  await fh.close();
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

/** Start-up: remove the `latest_snapshot.json.<pid>.<ms>.tmp` files of runs that are gone. */
export function removeStaleSnapshotTemps(snapshotPath: string, opts: StaleTempOptions = {}): StaleTempResult {
  return removeStaleTemps(snapshotPath, opts);
}

export type UncleanEndResult =
  { marked: true; previousRunId: string; previousStage: string } | { marked: false; why: 'no_file' | 'unreadable' | 'clean_shutdown' | 'same_run' };

/**
 * If the snapshot at `path` is from another run that never reached SHUTDOWN (killed, crashed,
 * power lost), rewrite it so nobody reads it as live: stage SHUTDOWN, health FAILED with
 * PREVIOUS_RUN_UNCLEAN, a detail naming the dead run, when it last committed and which run found it.
 * Everything else is kept (it is the best record of the dead run's last state) and the file still
 * validates as a Snapshot. Never throws for a missing or unreadable file; a failed rewrite throws.
 */
export async function markUncleanEnd(path: string, opts: { runId: string; clock: Clock }): Promise<UncleanEndResult> {
  let snap: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(readTextBounded(path, MAX_SNAPSHOT_FILE_BYTES));
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return { marked: false, why: 'unreadable' };
    snap = parsed as Record<string, unknown>;
  } catch (e) {
    return { marked: false, why: (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no_file' : 'unreadable' };
  }
  const runId = typeof snap.run_id === 'string' ? snap.run_id : '';
  const stage = typeof snap.stage === 'string' ? snap.stage : '';
  if (runId === opts.runId) return { marked: false, why: 'same_run' };
  if (stage === 'SHUTDOWN') return { marked: false, why: 'clean_shutdown' };
  const reasons = Array.isArray(snap.health_reasons) ? (snap.health_reasons as unknown[]).filter((r) => typeof r === 'string') : [];
  if (!reasons.includes('PREVIOUS_RUN_UNCLEAN')) reasons.push('PREVIOUS_RUN_UNCLEAN');
  // `timestamp` is the legacy key: seconds since the epoch, with the milliseconds as a fraction.
  const at =
    typeof snap.timestamp === 'number' && Number.isFinite(snap.timestamp) ? new Date(Math.round(snap.timestamp * 1000)).toISOString() : 'an unknown time';
  const detail =
    `run ${runId || '(unknown)'} ended uncleanly: its last snapshot (stage ${stage || 'unknown'}, committed ${at}) is kept below; ` +
    `no clean shutdown was recorded (killed, crashed or power lost). Found by run ${opts.runId} at ${new Date(opts.clock.now()).toISOString()}.`;
  const legacy = typeof snap.ingestion_health === 'object' && snap.ingestion_health !== null ? (snap.ingestion_health as Record<string, unknown>) : null;
  const marked = {
    ...snap,
    stage: 'SHUTDOWN',
    health_state: 'FAILED',
    health_reasons: reasons,
    health_detail: detail,
    ...(legacy ? { ingestion_health: { ...legacy, degraded: true, degraded_reason: reasons.join(';') } } : {}),
  };
  await writeFileAtomic(path, [JSON.stringify(marked, null, 2), '\n'], { clock: opts.clock });
  return { marked: true, previousRunId: runId, previousStage: stage };
}
