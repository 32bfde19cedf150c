/**
 * The store's SQLite connection behind one small interface, with two drivers (SPEC §21):
 *   native — better-sqlite3, SQLite compiled into a Node addon: WAL shared between connections, the
 *            fastest; needs a build of the addon for the platform it runs on.
 *   wasm   — node-sqlite3-wasm, SQLite compiled to WebAssembly, reading and writing the file
 *            through Node's fs: runs wherever Node runs (the portable Windows bundle built on Linux
 *            carries no win32 addon); one connection holds the file at a time (wasm-driver.ts).
 * Both write the same SQLite file format: a file written by one opens with the other.
 *
 * The native driver is used when its addon loads; the wasm driver otherwise, or when asked for with
 * `PEAK_PRESSURE_STORE_DRIVER=native|wasm` (tests run the store tests with both).
 */
import Database from 'better-sqlite3';
import type { StoreDriver } from '../core/contracts/snapshot';
import { openWasm } from './wasm-driver';
import { lockHolder } from './wasm-lock';

export type DriverName = StoreDriver;
export type SqlValue = string | number | bigint | null | Uint8Array;
/** Positional values, or named ones (`@name` in the SQL, `name` as the key). */
export type Bind = readonly SqlValue[] | Readonly<Record<string, SqlValue>>;

export interface SqlStatement {
  run(bind?: Bind): { changes: number };
  get(bind?: Bind): unknown;
  all(bind?: Bind): unknown[];
}

export interface SqlDatabase {
  readonly driver: DriverName;
  readonly inTransaction: boolean;
  /** A statement kept for the life of the connection (finalized by `close`). */
  prepare(sql: string): SqlStatement;
  /** One-off queries: the statement is finalized before they return (iterate: once iterated or left). */
  run(sql: string, bind?: Bind): { changes: number };
  get(sql: string, bind?: Bind): unknown;
  all(sql: string, bind?: Bind): unknown[];
  iterate(sql: string, bind?: Bind): IterableIterator<unknown>;
  exec(sql: string): void;
  /** `PRAGMA <text>`; the first column of the first row (undefined when none). */
  pragma(text: string): unknown;
  /** Runs `fn` in one BEGIN IMMEDIATE transaction: committed when it returns, rolled back when it throws. */
  transaction<T>(fn: () => T): T;
  close(): void;
}

export interface OpenOptions {
  readonly: boolean;
  fileMustExist: boolean;
  /** How long opening (wasm: taking the file) and a write (native) wait for another connection's lock. */
  busyTimeoutMs: number;
}

export const DRIVER_ENV = 'PEAK_PRESSURE_STORE_DRIVER';

let nativeProbe: { ok: true } | { ok: false; error: string } | null = null;

/**
 * Whether better-sqlite3's addon loads here. It is loaded by the first `new Database`, not by
 * `require`, so the probe opens an in-memory database once per process.
 */
export function nativeAvailable(): { ok: true } | { ok: false; error: string } {
  if (nativeProbe === null) {
    try {
      new Database(':memory:').close();
      nativeProbe = { ok: true };
    } catch (e) {
      const code = (e as { code?: unknown }).code;
      nativeProbe = { ok: false, error: `${typeof code === 'string' ? `${code}: ` : ''}${e instanceof Error ? e.message.split('\n')[0] : String(e)}` };
    }
  }
  return nativeProbe;
}

/** The driver this process uses: the one asked for, else native when its addon loads, else wasm. */
export function chosenDriver(env: NodeJS.ProcessEnv = process.env): DriverName {
  const asked = env[DRIVER_ENV];
  if (asked === 'native' || asked === 'wasm') return asked;
  if (asked !== undefined && asked !== '' && asked !== 'auto') throw new Error(`${DRIVER_ENV}=${asked}: use native, wasm or auto`);
  return nativeAvailable().ok ? 'native' : 'wasm';
}

export function openDatabase(path: string, opts: OpenOptions, driver: DriverName = chosenDriver()): SqlDatabase {
  return driver === 'wasm' ? openWasm(path, opts) : openNative(path, opts);
}

function spread(bind: Bind | undefined): unknown[] {
  if (bind === undefined) return [];
  return Array.isArray(bind) ? bind : [bind];
}

function openNative(path: string, opts: OpenOptions): SqlDatabase {
  // A wasm connection's lock is a folder that better-sqlite3's POSIX/Windows locks do not see:
  // refuse the file while a live process holds it that way (SQLite would let both write).
  const holder = lockHolder(path);
  if (holder !== null && holder.alive) {
    throw Object.assign(new Error(`database is locked (held by the wasm driver of pid ${holder.pid} on ${holder.host})`), { code: 'SQLITE_BUSY' });
  }
  const db = new Database(path, { readonly: opts.readonly, fileMustExist: opts.fileMustExist, timeout: opts.busyTimeoutMs });
  const wrap = (s: Database.Statement): SqlStatement => ({
    run: (b) => s.run(...spread(b)),
    get: (b) => s.get(...spread(b)),
    all: (b) => s.all(...spread(b)),
  });
  return {
    driver: 'native',
    get inTransaction() {
      return db.inTransaction;
    },
    prepare: (sql) => wrap(db.prepare(sql)),
    run: (sql, b) => db.prepare(sql).run(...spread(b)),
    get: (sql, b) => db.prepare(sql).get(...spread(b)),
    all: (sql, b) => db.prepare(sql).all(...spread(b)),
    iterate: (sql, b) => db.prepare(sql).iterate(...spread(b)),
    exec: (sql) => void db.exec(sql),
    pragma: (text) => db.pragma(text, { simple: true }),
    transaction: <T>(fn: () => T): T => db.transaction(fn).immediate(),
    close: () => db.close(),
  };
}
