/**
 * What can go wrong with the store, as data: the store never throws into its caller's hot path; it
 * reports a `StoreFault` that the collector turns into a health reason and an alert.
 */
import type { ReasonCode } from '../core/contracts/vocabulary';

export type StoreFaultKind = 'DISK_FULL' | 'READ_ONLY' | 'BUSY' | 'CORRUPT' | 'SCHEMA_TOO_NEW' | 'CANT_OPEN' | 'IO' | 'OTHER';

export type StoreOp = 'open' | 'migrate' | 'start_run' | 'persist' | 'end_run' | 'read';

export interface StoreFault {
  kind: StoreFaultKind;
  /** SQLite's extended code (SQLITE_FULL, SQLITE_READONLY_DBMOVED, …) or the errno (ENOSPC, EROFS, …). */
  code: string;
  op: StoreOp;
  path: string;
  /** What failed and what to do, in one line. */
  message: string;
}

/** Thrown inside the store only (never out of it) when a file is at a schema this build does not know. */
export class SchemaTooNewError extends Error {
  readonly code = 'SCHEMA_TOO_NEW';
  constructor(
    readonly found: number,
    readonly latest: number,
  ) {
    super(`schema v${found} is newer than this build's v${latest}`);
    this.name = 'SchemaTooNewError';
  }
}

function kindOf(code: string): StoreFaultKind {
  if (code === 'SCHEMA_TOO_NEW') return 'SCHEMA_TOO_NEW';
  if (code.startsWith('SQLITE_FULL') || code === 'ENOSPC' || code === 'EDQUOT') return 'DISK_FULL';
  if (code.startsWith('SQLITE_READONLY') || code === 'EROFS' || code === 'EACCES' || code === 'EPERM') return 'READ_ONLY';
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) return 'BUSY';
  if (code.startsWith('SQLITE_CORRUPT') || code === 'SQLITE_NOTADB') return 'CORRUPT';
  if (code.startsWith('SQLITE_CANTOPEN') || code === 'SQLITE_PERM' || code === 'SQLITE_AUTH' || code === 'EISDIR' || code === 'ENOTDIR') return 'CANT_OPEN';
  if (code.startsWith('SQLITE_IOERR') || code === 'EIO') return 'IO';
  return 'OTHER';
}

const ADVICE: Record<StoreFaultKind, string> = {
  DISK_FULL: 'free space on the disk that holds it; events wait in memory and are written when space returns',
  READ_ONLY: 'make the file and its folder writable, or start with --db pointing to a writable place',
  BUSY: 'another process holds a write lock on it (a second Peak Pressure on the same file?); stop it or use another --db',
  CORRUPT: 'it is not a Peak Pressure store or it is damaged; move it aside (a new store is created at the next start)',
  SCHEMA_TOO_NEW: 'it was written by a newer Peak Pressure; run that version, or use another --db',
  CANT_OPEN: 'check that the path is a file in a folder that exists and can be written',
  IO: 'the disk reported an I/O error; check the disk and the system log',
  OTHER: 'see the log for the full error',
};

export function describeFault(err: unknown, op: StoreOp, path: string): StoreFault {
  const raw = (err as { code?: unknown } | null)?.code;
  const code = typeof raw === 'string' ? raw : 'UNKNOWN';
  const kind = kindOf(code);
  const detail = err instanceof Error ? err.message : String(err);
  return { kind, code, op, path, message: `event store ${path}: ${op} failed (${code}: ${detail}); ${ADVICE[kind]}` };
}

/** The health reason a fault shows as (SPEC §8.4 reasons, §21 store). */
export function storeReasonCode(kind: StoreFaultKind): ReasonCode {
  switch (kind) {
    case 'DISK_FULL':
      return 'STORE_DISK_FULL';
    case 'READ_ONLY':
      return 'STORE_READ_ONLY';
    case 'BUSY':
      return 'STORE_BUSY';
    default:
      return 'STORE_UNAVAILABLE';
  }
}
