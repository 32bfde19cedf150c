/**
 * The wasm driver (see driver.ts): node-sqlite3-wasm, SQLite compiled to WebAssembly, with a VFS
 * that reads and writes the file through Node's fs (fsync included, so FULL is as durable as the
 * native driver). What differs from better-sqlite3, and how this adapter meets it:
 *   - Its VFS has no shared memory, so WAL works only in locking_mode EXCLUSIVE: the connection
 *     takes the file at its first read and keeps it until it closes (the WAL index lives in its
 *     heap). Its lock is a `<db>.lock` folder, blocking every other connection, in any process —
 *     wasm-lock.ts records the holder so a killed process's lock can be told stale and removed.
 *     (Its rollback-journal mode is no alternative: the VFS reports a reserved lock whenever that
 *     folder exists, our own included, so a hot journal left by a crash would never be rolled back.)
 *   - No busy handler that sleeps: taking the file is retried here for `busyTimeoutMs`.
 *   - Errors carry SQLite's message only: the code is recovered from it (SQLITE_BUSY, …), and an
 *     I/O error with the volume (nearly) full is ENOSPC, as with the native VFS, or EROFS/EACCES
 *     when the folder cannot be written (a read-only volume cannot even be read: no lock folder).
 *   - Statements are not garbage collected: each is finalized once used, and any left at close.
 *   - Named values are bound as `@name` (better-sqlite3 takes the bare name).
 */
import { accessSync, constants } from 'node:fs';
import { dirname } from 'node:path';
import type { Database as WasmDatabase, Statement as WasmStatement } from 'node-sqlite3-wasm';
import type { Bind, OpenOptions, SqlDatabase, SqlStatement, SqlValue } from './driver';
import { freeBytes } from './files';
import { breakStaleLock, claimLock, lockDir, lockHolder, releaseLock } from './wasm-lock';

type Wasm = typeof import('node-sqlite3-wasm');
let wasm: Wasm | null = null;

/** SQLite's messages for its primary result codes (sqlite3ErrStr), the ones a store can meet. */
const CODES: readonly [RegExp, string][] = [
  [/^database is locked/, 'SQLITE_BUSY'],
  [/^database table is locked/, 'SQLITE_LOCKED'],
  [/^database or disk is full/, 'SQLITE_FULL'],
  [/^attempt to write a readonly database/, 'SQLITE_READONLY'],
  [/^database disk image is malformed/, 'SQLITE_CORRUPT'],
  [/^file is not a database/, 'SQLITE_NOTADB'],
  [/^(unable to open database file|Could not open the database)/, 'SQLITE_CANTOPEN'],
  [/^disk I\/O error/, 'SQLITE_IOERR'],
  [/^access permission denied/, 'SQLITE_PERM'],
  [/constraint failed/, 'SQLITE_CONSTRAINT'],
  [/^(interrupted|query aborted)/, 'SQLITE_INTERRUPT'],
];
const BUSY_WAIT_MS = 10;
/** Below this many free bytes, an I/O error while writing is a full disk. */
const NEARLY_FULL_BYTES = 64 * 1024;

function coded(e: unknown, path: string): Error {
  if (!(e instanceof Error) || typeof (e as { code?: unknown }).code === 'string') return e as Error;
  const code = CODES.find(([re]) => re.test(e.message))?.[1] ?? 'SQLITE_ERROR';
  return Object.assign(e, { code: code === 'SQLITE_IOERR' ? ioCause(path) : code });
}

/** The VFS turns every fs error into SQLITE_IOERR: a full volume, or a folder that cannot be written (no lock folder can be made), is told apart here. */
function ioCause(path: string): string {
  if ((freeBytes(dirname(path)) ?? Number.POSITIVE_INFINITY) < NEARLY_FULL_BYTES) return 'ENOSPC';
  try {
    accessSync(dirname(path), constants.W_OK);
    return 'SQLITE_IOERR';
  } catch (a) {
    const errno = (a as NodeJS.ErrnoException).code;
    return errno === 'EROFS' || errno === 'EACCES' ? errno : 'SQLITE_IOERR';
  }
}

function named(sql: string): string[] {
  return [...new Set([...sql.matchAll(/@([A-Za-z_][A-Za-z0-9_]*)/g)].map((m) => m[1] as string))];
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

export function openWasm(path: string, opts: OpenOptions): SqlDatabase {
  // Loaded at the first use only: it compiles 1.3 MB of WebAssembly when required.
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded only by a process that uses this driver
  wasm ??= require('node-sqlite3-wasm') as Wasm;
  let db: WasmDatabase;
  try {
    db = new wasm.Database(path, { readOnly: opts.readonly, fileMustExist: opts.fileMustExist });
  } catch (e) {
    throw coded(e, path);
  }
  const live = new Set<WasmStatement>();
  const guard = <T>(fn: () => T): T => {
    try {
      return fn();
    } catch (e) {
      throw coded(e, path);
    }
  };
  try {
    db.get('PRAGMA locking_mode = EXCLUSIVE');
    // The first read takes the file (and keeps it): wait for another holder, break a dead one's lock.
    // Counted in waits, not read off a clock: a held lock is retried busyTimeoutMs / 10 times.
    for (let waits = Math.ceil(opts.busyTimeoutMs / BUSY_WAIT_MS); ; waits--) {
      try {
        db.get('PRAGMA schema_version');
        break;
      } catch (e) {
        const err = coded(e, path);
        if ((err as { code?: string }).code !== 'SQLITE_BUSY') throw err;
        if (breakStaleLock(path)) continue;
        if (waits <= 0) {
          const h = lockHolder(path);
          const who =
            h === null || h.pid === 0 ? `the folder ${lockDir(path)} exists; remove it if no Peak Pressure uses this file` : `pid ${h.pid} on ${h.host}`;
          throw Object.assign(new Error(`database is locked (wasm driver; held by ${who})`), { code: 'SQLITE_BUSY' });
        }
        sleepSync(BUSY_WAIT_MS);
      }
    }
    claimLock(path);
  } catch (e) {
    db.close();
    throw e;
  }

  const bindOf = (sql: string): ((b: Bind | undefined) => Parameters<WasmStatement['run']>[0]) => {
    const names = named(sql);
    return (b) => {
      if (b === undefined || Array.isArray(b)) return b as SqlValue[] | undefined;
      const out: Record<string, SqlValue> = {};
      for (const n of names) out[`@${n}`] = (b as Record<string, SqlValue>)[n] as SqlValue;
      return out;
    };
  };
  const prepare = (sql: string): { st: WasmStatement; bind: ReturnType<typeof bindOf> } => {
    const st = guard(() => db.prepare(sql));
    live.add(st);
    return { st, bind: bindOf(sql) };
  };
  const finalize = (st: WasmStatement): void => {
    live.delete(st);
    if (!st.isFinalized) st.finalize();
  };
  const once = <T>(sql: string, use: (st: WasmStatement, bind: ReturnType<typeof bindOf>) => T): T => {
    const { st, bind } = prepare(sql);
    try {
      return guard(() => use(st, bind));
    } finally {
      finalize(st);
    }
  };
  const rows = (r: unknown): unknown => (r === null ? undefined : r);

  return {
    driver: 'wasm',
    get inTransaction() {
      return db.isOpen && db.inTransaction;
    },
    prepare: (sql): SqlStatement => {
      const { st, bind } = prepare(sql);
      return {
        run: (b) => guard(() => st.run(bind(b))),
        get: (b) => rows(guard(() => st.get(bind(b)))),
        all: (b) => guard(() => st.all(bind(b))),
      };
    },
    run: (sql, b) => once(sql, (st, bind) => st.run(bind(b))),
    get: (sql, b) => once(sql, (st, bind) => rows(st.get(bind(b)))),
    all: (sql, b) => once(sql, (st, bind) => st.all(bind(b))),
    *iterate(sql, b) {
      const { st, bind } = prepare(sql);
      try {
        const it = guard(() => st.iterate(bind(b)));
        for (;;) {
          const r = guard(() => it.next());
          if (r.done === true) return;
          yield r.value;
        }
      } finally {
        finalize(st);
      }
    },
    exec: (sql) => guard(() => db.exec(sql)),
    pragma: (text) => {
      const r = guard(() => db.get(`PRAGMA ${text}`));
      return r === null ? undefined : Object.values(r)[0];
    },
    transaction<T>(fn: () => T): T {
      guard(() => db.exec('BEGIN IMMEDIATE'));
      try {
        const r = fn();
        guard(() => db.exec('COMMIT'));
        return r;
      } catch (e) {
        if (db.inTransaction) {
          try {
            db.exec('ROLLBACK');
          } catch {
            // SQLite may have rolled back already (SQLITE_FULL does)
          }
        }
        throw e;
      }
    },
    close: () => {
      for (const st of [...live]) finalize(st);
      // The holder record goes first: a process that finds the folder without it waits, never breaks it.
      releaseLock(path);
      guard(() => db.close());
    },
  };
}
