/**
 * Disk and WAL judgement (seed 002 alert sources "low disk / abnormal SQLite/WAL growth"), pure:
 * callers pass the sizes they read (store.files(), statfs, the captures' total). The same
 * functions build the snapshot's storage section, judge `peak-pressure doctor`'s disk checks and
 * the collector's periodic check, so all three say the same thing about the same numbers.
 */
import type { Storage } from '../core/contracts/storage';
import type { StoreFiles } from '../store/files';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const HOUR_MS = 3_600_000;

export const DISK_LIMITS = Object.freeze({
  /** Always keep this much free beside the store and the captures: the OS, logs and SQLite's checkpoints need room too. */
  MIN_FREE_BYTES: 1 * GiB,
  /** Free space must also hold the store's measured growth for this long: a week unattended. */
  GROWTH_HORIZON_MS: 7 * 24 * HOUR_MS,
  /**
   * SQLite checkpoints its WAL back into the database at about 4 MiB (1000 pages); a WAL this much
   * larger means checkpoints cannot finish, typically because a reader holds an old snapshot open.
   */
  WAL_MAX_BYTES: 64 * MiB,
  /** Growth is only projected from samples at least this far apart (shorter spans are noise). */
  MIN_GROWTH_SPAN_MS: 10 * 60_000,
});

export type DiskLimits = typeof DISK_LIMITS;

export interface StorageSample {
  nowMs: number;
  storePath: string;
  files: StoreFiles;
  capturesDir: string;
  /** Total bytes of the capture files (null: unknown or captures off). */
  capturesBytes: number | null;
  capturesFreeBytes: number | null;
  /** The sample growth is measured from (the run's first); null for a one-off reading. */
  reference: Storage | null;
}

/** The snapshot's storage section from one reading of the disks. */
export function storageSection(s: StorageSample, limits: DiskLimits = DISK_LIMITS): Storage {
  const ref = s.reference;
  const bytes = s.files.db_bytes + s.files.wal_bytes;
  const span = ref === null ? 0 : s.nowMs - ref.sampled_ms;
  const growth =
    ref !== null && ref.store_path === s.storePath && span >= limits.MIN_GROWTH_SPAN_MS ? ((bytes - ref.db_bytes - ref.wal_bytes) * HOUR_MS) / span : null;
  return {
    sampled_ms: s.nowMs,
    store_path: s.storePath,
    db_bytes: s.files.db_bytes,
    wal_bytes: s.files.wal_bytes,
    store_free_bytes: s.files.free_bytes,
    captures_dir: s.capturesDir,
    captures_bytes: s.capturesBytes,
    captures_free_bytes: s.capturesFreeBytes,
    store_growth_bytes_per_hour: growth,
  };
}

export interface DiskFinding {
  reason: 'DISK_LOW' | 'STORE_WAL_GROWING';
  /** Which volume or file: `store`, `captures` or `wal`. */
  subject: 'store' | 'captures' | 'wal';
  /** What was found, one line with the figures. */
  summary: string;
  /** What to do. */
  fix: string;
}

/** `1536 MiB` → `1.5 GiB`: sizes as a person reads them. */
export function humanBytes(n: number): string {
  const abs = Math.abs(n);
  if (abs >= GiB) return `${(n / GiB).toFixed(1)} GiB`;
  if (abs >= MiB) return `${(n / MiB).toFixed(1)} MiB`;
  if (abs >= 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${n} bytes`;
}

/** Free space the store's volume must keep: the floor plus a horizon of its measured growth. */
function storeNeedsBytes(s: Storage, limits: DiskLimits = DISK_LIMITS): number {
  const growth = Math.max(0, s.store_growth_bytes_per_hour ?? 0);
  return limits.MIN_FREE_BYTES + Math.ceil((growth * limits.GROWTH_HORIZON_MS) / HOUR_MS);
}

/** Free space the captures' volume must keep: the floor plus what the capture budget may still take. */
function capturesNeedBytes(s: Storage, captureBudgetBytes: number, limits: DiskLimits = DISK_LIMITS): number {
  return limits.MIN_FREE_BYTES + Math.max(0, captureBudgetBytes - (s.captures_bytes ?? 0));
}

/**
 * What is wrong with the disks of a storage reading. `captureBudgetBytes` is `capture.maxTotalBytes`
 * (null: captures off). A volume whose free space cannot be read is not judged (the write checks
 * say whether it can be used at all).
 */
export function storageFindings(s: Storage, captureBudgetBytes: number | null, limits: DiskLimits = DISK_LIMITS): DiskFinding[] {
  const out: DiskFinding[] = [];
  const storeNeeds = storeNeedsBytes(s, limits);
  if (s.store_free_bytes !== null && s.store_free_bytes < storeNeeds) {
    const growth = s.store_growth_bytes_per_hour;
    out.push({
      reason: 'DISK_LOW',
      subject: 'store',
      summary: `${humanBytes(s.store_free_bytes)} free beside the store ${s.store_path} (${humanBytes(s.db_bytes + s.wal_bytes)}${
        growth !== null ? `, growing ${humanBytes(Math.round(growth))}/h` : ''
      }); it needs ${humanBytes(storeNeeds)}`,
      fix: 'free space on that disk, or start with --db on a disk with room; when it is full, events wait in memory (STORE_DISK_FULL)',
    });
  }
  if (captureBudgetBytes !== null && s.captures_free_bytes !== null) {
    const needs = capturesNeedBytes(s, captureBudgetBytes, limits);
    if (s.captures_free_bytes < needs) {
      out.push({
        reason: 'DISK_LOW',
        subject: 'captures',
        summary: `${humanBytes(s.captures_free_bytes)} free for captures in ${s.captures_dir} (${humanBytes(s.captures_bytes ?? 0)} of a ${humanBytes(captureBudgetBytes)} budget used); it needs ${humanBytes(needs)}`,
        fix: 'free space, lower capture.maxTotalBytes, point capture.dir at a larger disk, or turn captures off (PEAK_PRESSURE_CAPTURE=0)',
      });
    }
  }
  if (s.wal_bytes >= limits.WAL_MAX_BYTES) {
    out.push({
      reason: 'STORE_WAL_GROWING',
      subject: 'wal',
      summary: `the store's write-ahead log ${s.store_path}-wal is ${humanBytes(s.wal_bytes)} (checkpoints normally keep it near 4 MiB)`,
      fix: 'close programs that keep the store open for reading (sqlite3 shells, DB browsers, a stuck `events` export); the WAL is folded back once they let go',
    });
  }
  return out;
}

/** A lasting health reason of the disks, with what was found and what to do. */
export interface DiskNote {
  reason: DiskFinding['reason'];
  detail: string;
}

/** One note per reason: a second finding of the same reason (store and captures both low) joins the first's detail. */
export function addNotes<N extends { reason: string; detail: string }>(into: N[], notes: readonly N[]): N[] {
  for (const n of notes) {
    const same = into.find((x) => x.reason === n.reason);
    if (same === undefined) into.push({ ...n });
    else same.detail = `${same.detail} | ${n.detail}`;
  }
  return into;
}

/**
 * The periodic disk and WAL check of a run: each reading becomes the snapshot's storage section,
 * judged against the run's first reading (for growth). Findings that were not there at the
 * previous reading are returned as `fresh`, to be alerted; the alert engine's cooldown does the rest.
 */
export class DiskWatch {
  private reference: Storage | null = null;
  private findings: DiskFinding[] = [];
  latest: Storage | null = null;

  constructor(
    private readonly captureBudgetBytes: number | null,
    private readonly limits: DiskLimits = DISK_LIMITS,
  ) {}

  update(sample: Omit<StorageSample, 'reference'>): { storage: Storage; findings: DiskFinding[]; fresh: DiskFinding[]; lasting: DiskNote[] } {
    const storage = storageSection({ ...sample, reference: this.reference }, this.limits);
    this.reference ??= storage;
    const before = new Set(this.findings.map((f) => `${f.reason}|${f.subject}`));
    const findings = storageFindings(storage, this.captureBudgetBytes, this.limits);
    this.findings = findings;
    this.latest = storage;
    const lasting = addNotes<DiskNote>(
      [],
      findings.map((f) => ({ reason: f.reason, detail: `${f.summary}; fix: ${f.fix}` })),
    );
    return { storage, findings, fresh: findings.filter((f) => !before.has(`${f.reason}|${f.subject}`)), lasting };
  }
}
