/**
 * The event store on real SQLite files in temp dirs: WAL, idempotent inserts of real promoted
 * events, the run table's clean and unclean ends, and the failure modes the collector must survive
 * (locked, disk full, read-only, unopenable, corrupt, too new) — each a typed fault, never a throw.
 */
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, closeSync, copyFileSync, mkdirSync, openSync, readFileSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEnvelope } from '../src/core/contracts/audit';
import type { PromotedEvent } from '../src/core/contracts/promoted';
import { PromotedEventSchema } from '../src/core/contracts/promoted';
import { AuditTrail } from '../src/collector/audit';
import { AuditEnvelopeSchema } from '../src/core/contracts/audit';
import { eventLine } from '../src/replay/replay';
import { storeReasonCode } from '../src/store/faults';
import { configHash } from '../src/store/run-info';
import { LATEST_SCHEMA_VERSION } from '../src/store/schema';
import { EventStore, type StoreOptions } from '../src/store/store';
import { openDatabase } from '../src/store/driver';
import { describeEachDriver, fixtureEvents, runStart, tempDir } from './store-helpers';

const T0 = 1_723_161_400_000;
const tmp = tempDir('pp-store-');
afterAll(() => tmp.cleanup());
let events: PromotedEvent[] = [];
beforeAll(async () => {
  events = await fixtureEvents();
});

let n = 0;
function freshPath(): string {
  const d = join(tmp.dir, `s${++n}`);
  mkdirSync(d, { recursive: true });
  return join(d, 'peak-pressure.db');
}

function open(path: string, extra: Partial<StoreOptions> = {}): EventStore {
  return EventStore.open({ path, isRunAlive: () => false, ...extra }, T0);
}

function rawRows(path: string, sql: string): unknown[] {
  const db = new Database(path, { readonly: true });
  try {
    return db.prepare(sql).all();
  } finally {
    db.close();
  }
}

function integrity(path: string): string {
  const db = new Database(path, { readonly: true });
  try {
    return db.pragma('integrity_check', { simple: true }) as string;
  } finally {
    db.close();
  }
}

const audit = (seq: number): AuditEnvelope => ({
  ts_ms: T0 + seq,
  run_id: 'run-a',
  seq,
  stage: 'OBSERVE',
  event_type: 'HEALTH_CHANGED',
  symbol: '',
  reasons: ['OI_STALE'],
  severity: 'WARN',
  payload: { state: 'DEGRADED', detail: 'a "quoted", detail\nwith a newline' },
});

describeEachDriver('event store', (driver) => {
  describe('writing', () => {
    it('creates the file in WAL mode at the latest schema and stores each event once, byte for byte', () => {
      const path = freshPath();
      const store = open(path);
      expect(store.status.state).toBe('OK');
      expect(store.status.schema_version).toBe(LATEST_SCHEMA_VERSION);
      expect(store.status.migrated_from).toBe(0);
      expect(store.startRun(runStart('run-a', T0), T0)).toEqual({ ok: true, unclean: [] });
      const half = Math.ceil(events.length / 2);
      const first = store.persist({ events: events.slice(0, half), audit: [audit(1), audit(2)] }, T0 + 1);
      expect(first).toEqual({ ok: true, events_inserted: half, duplicates: 0, audit_inserted: 2, alerts_inserted: 0 });
      // The whole list again, and one event twice in the same batch: only the new ones are written.
      const second = store.persist({ events: [...events, events[0] as PromotedEvent] }, T0 + 2);
      expect(second).toEqual({ ok: true, events_inserted: events.length - half, duplicates: half + 1, audit_inserted: 0, alerts_inserted: 0 });
      expect(store.status.events_written).toBe(events.length);
      const rows = [...store.iterateEvents()];
      expect(rows.map((r) => `${r.json}\n`).join('')).toBe(
        [...events]
          .sort((a, b) => a.window_end_ms - b.window_end_ms || (a.symbol < b.symbol ? -1 : 1))
          .map(eventLine)
          .join(''),
      );
      for (const r of rows) {
        const e = PromotedEventSchema.parse(JSON.parse(r.json));
        expect(r).toMatchObject({
          event_id: e.event_id,
          symbol: e.symbol,
          policy_id: 'peak-pressure-m3',
          policy_version: 1,
          run_id: 'run-a',
          stored_ms: expect.any(Number),
        });
      }
      expect(store.auditRows()).toEqual([audit(1), audit(2)]);
      expect(store.select('PRAGMA journal_mode')).toEqual([{ journal_mode: 'wal' }]);
      const files = store.files();
      expect(files.db_bytes).toBe(statSync(path).size);
      expect(files.wal_bytes).toBe(statSync(`${path}-wal`).size);
      expect(files.wal_bytes).toBeGreaterThan(0);
      expect(files.free_bytes).toBeGreaterThan(0);
      store.close(T0 + 3);
      // Closed cleanly: one self-contained file (no -wal beside it).
      expect(rawRows(path, 'PRAGMA journal_mode')).toEqual([{ journal_mode: 'delete' }]);
      expect(rawRows(path, 'SELECT run_id, end_kind, ended_ms, last_seen_ms FROM runs')).toEqual([
        { run_id: 'run-a', end_kind: 'clean', ended_ms: T0 + 3, last_seen_ms: T0 + 3 },
      ]);
      expect(integrity(path)).toBe('ok');
    });

    it('stores an M6 policy event beside the M3 event of the same window (the key is policy and event id)', () => {
      const store = open(freshPath());
      store.startRun(runStart('run-p', T0), T0);
      const m3 = events[0] as PromotedEvent;
      const { rule_set: _r, ...rest } = m3;
      const m6 = { ...rest, policy: { id: 'four-pillars-001', version: 1 }, dominant_share: 0.81 };
      expect(store.persist({ events: [m3, m6] }, T0 + 1)).toMatchObject({ ok: true, events_inserted: 2 });
      expect([...store.iterateEvents({ policy: { id: 'four-pillars-001' } })].map((r) => JSON.parse(r.json) as unknown)).toEqual([m6]);
      expect([...store.iterateEvents({ policy: { id: 'peak-pressure-m3', version: 2 } })]).toEqual([]);
      store.close(T0 + 2);
    });

    it("stores the audit trail's own JSONL envelopes unchanged (the contract matches src/collector/audit.ts)", async () => {
      const jsonl = join(tmp.dir, `audit-${driver}.jsonl`);
      let t = T0;
      const trail = new AuditTrail(
        jsonl,
        'run-j',
        () => ++t,
        () => 'WARMUP',
      );
      trail.record({ event_type: 'STAGE_CHANGED', payload: { stage: 'WARMUP', detail: 'baselines, "60" windows' } });
      trail.record({ event_type: 'PEAK_PRESSURE_PROMOTED', symbol: 'BTCUSDT', severity: 'INFO', payload: events[0] as unknown as Record<string, unknown> });
      trail.record({ event_type: 'HEALTH_CHANGED', reasons: ['OI_STALE', 'WS_RECONNECTING'], severity: 'WARN', payload: { state: 'DEGRADED' } });
      await trail.close();
      const lines = readFileSync(jsonl, 'utf8').trimEnd().split('\n');
      const envs = lines.map((l) => AuditEnvelopeSchema.parse(JSON.parse(l)));
      const store = open(freshPath());
      expect(store.persist({ audit: envs }, T0)).toMatchObject({ ok: true, audit_inserted: 3 });
      expect(store.auditRows().map((a) => JSON.stringify(a))).toEqual(lines);
      store.close(T0);
    });

    it('rejects (counts, never writes) an event without the fields it is indexed by', () => {
      const store = open(freshPath());
      const bad = { ...(events[0] as PromotedEvent), event_id: '' };
      const noPolicy = { event_id: 'X-1', symbol: 'BTCUSDT', window_start_ms: 1, window_end_ms: 2 };
      expect(store.persist({ events: [bad, noPolicy as unknown as PromotedEvent] }, T0)).toMatchObject({ ok: true, events_inserted: 0 });
      expect(store.status.rejected).toBe(2);
      store.close(T0);
    });

    it('filters by time (window end, half-open), symbol, policy and run; newest first on request', () => {
      const store = open(freshPath());
      store.startRun(runStart('run-q', T0), T0);
      store.persist({ events }, T0);
      const ends = events.map((e) => e.window_end_ms).sort((a, b) => a - b);
      const mid = ends[Math.floor(ends.length / 2)] as number;
      const since = [...store.iterateEvents({ sinceMs: mid })];
      expect(since.every((r) => r.window_end_ms >= mid)).toBe(true);
      expect(since.length + [...store.iterateEvents({ untilMs: mid })].length).toBe(events.length);
      const eth = [...store.iterateEvents({ symbols: ['ETHUSDT'] })];
      expect(eth.length).toBe(events.filter((e) => e.symbol === 'ETHUSDT').length);
      const desc = [...store.iterateEvents({ order: 'desc', limit: 2 })];
      expect(desc.map((r) => r.window_end_ms)).toEqual([...ends].reverse().slice(0, 2));
      expect([...store.iterateEvents({ excludeRunId: 'run-q' })]).toEqual([]);
      store.close(T0);
    });
  });

  describe('history for the window', () => {
    it("returns earlier runs' events newest first with their run's start and mode, bounded, never this run's", () => {
      const path = freshPath();
      const a = open(path);
      a.startRun(runStart('old', T0, { mode: 'DEMO' }), T0);
      a.persist({ events }, T0 + 1);
      a.close(T0 + 2);
      const b = open(path);
      b.startRun(runStart('new', T0 + 10), T0 + 10);
      const mine = { ...(events[0] as PromotedEvent), event_id: 'NEW-1', window_end_ms: (events[0] as PromotedEvent).window_end_ms + 1e6 };
      b.persist({ events: [mine] }, T0 + 11);
      const h = b.history('new', 2);
      expect(h.map((r) => [r.run_id, r.run_mode, r.run_started_ms])).toEqual([
        ['old', 'DEMO', T0],
        ['old', 'DEMO', T0],
      ]);
      const ends = events.map((e) => e.window_end_ms).sort((x, y) => y - x);
      expect(h.map((r) => r.window_end_ms)).toEqual(ends.slice(0, 2));
      expect(b.history('old', 10).map((r) => r.event_id)).toEqual(['NEW-1']);
      b.close(T0 + 12);
    });
  });

  describe('runs', () => {
    it('config hash: the same configuration in any key order gives the same hash, another value another', () => {
      const a = configHash({ restUrl: 'https://fapi.binance.com', capture: { enabled: true, dir: 'captures' }, symbols: ['BTCUSDT'] });
      expect(a).toMatch(/^[0-9a-f]{16}$/);
      expect(configHash({ symbols: ['BTCUSDT'], capture: { dir: 'captures', enabled: true }, restUrl: 'https://fapi.binance.com' })).toBe(a);
      expect(configHash({ symbols: ['ETHUSDT'], capture: { dir: 'captures', enabled: true }, restUrl: 'https://fapi.binance.com' })).not.toBe(a);
    });

    it('marks a run left open by a killed process as an unclean end, dated by its last write', () => {
      const path = freshPath();
      const a = open(path);
      a.startRun(runStart('run-1', T0), T0);
      a.setRunSymbols(['BTCUSDT', 'ETHUSDT']);
      a.persist({ events: events.slice(0, 1) }, T0 + 5_000);
      // No close: the process "dies" here (the connection is dropped without the run's end). A wasm
      // connection holds its file until it closes, so it lets go without ending the run, as the
      // lock of a killed process is let go (src/store/wasm-lock.ts; store-kill.test.ts kills one).
      if (driver === 'wasm') a.close(T0 + 5_000, 'open');
      const b = open(path);
      const started = b.startRun(runStart('run-2', T0 + 60_000), T0 + 60_000);
      expect(started.ok).toBe(true);
      if (!started.ok) return;
      expect(started.unclean.map((r) => [r.run_id, r.end_kind, r.ended_ms, r.symbols])).toEqual([['run-1', 'unclean', T0 + 5_000, ['BTCUSDT', 'ETHUSDT']]]);
      b.close(T0 + 70_000);
      const runs = open(path).runs();
      expect(runs.map((r) => [r.run_id, r.end_kind, r.ended_ms])).toEqual([
        ['run-2', 'clean', T0 + 70_000],
        ['run-1', 'unclean', T0 + 5_000],
      ]);
    });

    it('leaves a run open while its process is alive on this host (default liveness check), and closes it once the process is gone', async () => {
      const path = freshPath();
      const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
      try {
        const a = EventStore.open({ path }, T0);
        a.startRun(runStart('other', T0), T0);
        a.close(T0, 'open');
        const db = new Database(path);
        db.prepare('UPDATE runs SET pid = ?, host = ? WHERE run_id = ?').run(child.pid, hostname(), 'other');
        db.close();
        const b = EventStore.open({ path }, T0);
        expect(b.startRun(runStart('me-1', T0 + 1), T0 + 1)).toEqual({ ok: true, unclean: [] });
        b.close(T0 + 2);
        const exited = new Promise((res) => child.once('exit', res));
        child.kill('SIGKILL');
        await exited;
        const c = EventStore.open({ path }, T0);
        const r = c.startRun(runStart('me-2', T0 + 3), T0 + 3);
        expect(r.ok && r.unclean.map((u) => u.run_id)).toEqual(['other']);
        c.close(T0 + 4);
      } finally {
        child.kill('SIGKILL');
      }
    });
  });

  describe('failures are typed faults, never throws; rows wait and are written once', () => {
    it.runIf(driver === 'native')('locked by another connection: BUSY, then written after the lock is released', () => {
      const path = freshPath();
      const store = open(path, { busyTimeoutMs: 20, retryEveryMs: 1_000 });
      store.startRun(runStart('run-b', T0), T0);
      const other = new Database(path);
      other.exec('BEGIN IMMEDIATE');
      const r = store.persist({ events: events.slice(0, 2) }, T0 + 10);
      expect(r.ok).toBe(false);
      if (r.ok) return;
      expect(r.fault.kind).toBe('BUSY');
      expect(r.fault.code).toMatch(/^SQLITE_BUSY/);
      expect(r.fault.message).toContain('another process holds a write lock');
      expect(storeReasonCode(r.fault.kind)).toBe('STORE_BUSY');
      expect(store.status).toMatchObject({ state: 'FAILING', since_ms: T0 + 10, failures: 1, pending_events: 2 });
      // Within the retry interval nothing is attempted (the hot path does not wait on the lock again).
      expect(store.persist({ events: events.slice(2, 3) }, T0 + 500)).toMatchObject({ ok: false, deferred: true });
      other.exec('COMMIT');
      other.close();
      expect(store.persist({ events: events.slice(0, 1) }, T0 + 1_010)).toEqual({
        ok: true,
        events_inserted: 3,
        duplicates: 1,
        audit_inserted: 0,
        alerts_inserted: 0,
      });
      expect(store.status).toMatchObject({ state: 'OK', fault: null, since_ms: null, failures: 0, pending_events: 0 });
      store.close(T0 + 2_000);
      expect(rawRows(path, 'SELECT count(*) AS n FROM events')).toEqual([{ n: 3 }]);
    });

    it.runIf(driver === 'wasm')('held by another wasm connection: BUSY at open, then opened and written once it is released', () => {
      const path = freshPath();
      open(path).close(T0);
      const other = openDatabase(path, { readonly: false, fileMustExist: true, busyTimeoutMs: 0 }, 'wasm');
      const store = open(path, { busyTimeoutMs: 20, retryEveryMs: 1_000 });
      expect(store.status).toMatchObject({ state: 'UNAVAILABLE', since_ms: T0, failures: 1 });
      expect(store.status.fault).toMatchObject({ kind: 'BUSY', code: 'SQLITE_BUSY', op: 'open' });
      expect(store.status.fault?.message).toContain(`held by pid ${process.pid}`);
      expect(store.status.fault?.message).toContain('another process holds a write lock');
      store.startRun(runStart('run-w', T0), T0);
      expect(store.persist({ events: events.slice(0, 2) }, T0 + 500)).toMatchObject({ ok: false, deferred: true });
      other.close();
      expect(store.persist({ events: events.slice(0, 1) }, T0 + 1_010)).toEqual({
        ok: true,
        events_inserted: 2,
        duplicates: 1,
        audit_inserted: 0,
        alerts_inserted: 0,
      });
      expect(store.runs().map((r) => r.run_id)).toEqual(['run-w']);
      store.close(T0 + 2_000);
      expect(rawRows(path, 'SELECT count(*) AS n FROM events')).toEqual([{ n: 2 }]);
    });

    it('full (SQLite max_page_count): DISK_FULL, nothing partial is written, detection-side calls keep returning', () => {
      const path = freshPath();
      const store = open(path, { maxPageCount: 40, retryEveryMs: 0 });
      expect(store.status.state).toBe('OK');
      store.startRun(runStart('run-f', T0), T0);
      let fault = null;
      for (let i = 0; i < 500 && fault === null; i++) {
        const e = { ...(events[i % events.length] as PromotedEvent), event_id: `FILL-${i}`, symbol: 'BTCUSDT', padding: 'x'.repeat(2_000) };
        const r = store.persist({ events: [e] }, T0 + i);
        if (!r.ok) fault = r.fault;
      }
      expect(fault).toMatchObject({ kind: 'DISK_FULL', code: 'SQLITE_FULL', op: 'persist' });
      expect(store.status.events_written).toBeGreaterThan(0);
      expect(storeReasonCode('DISK_FULL')).toBe('STORE_DISK_FULL');
      const written = store.status.events_written;
      expect(store.status.pending_events).toBe(1);
      store.close(T0 + 1_000);
      expect(rawRows(path, 'SELECT count(*) AS n FROM events')).toEqual([{ n: written }]);
      expect(integrity(path)).toBe('ok');
    });

    it('path is a directory: UNAVAILABLE (CANT_OPEN); persist returns the fault and keeps the rows', () => {
      const path = freshPath();
      mkdirSync(path);
      const store = open(path, { retryEveryMs: 100 });
      expect(store.status.state).toBe('UNAVAILABLE');
      expect(store.status.fault?.kind).toBe('CANT_OPEN');
      expect(store.startRun(runStart('run-d', T0), T0).ok).toBe(false);
      const r = store.persist({ events: events.slice(0, 2) }, T0 + 200);
      expect(r).toMatchObject({ ok: false, deferred: false, fault: { kind: 'CANT_OPEN', op: 'open' } });
      expect(store.status.pending_events).toBe(2);
      // Once the path becomes usable, the next attempt opens it and writes the run and the rows.
      rmSync(path, { recursive: true });
      expect(store.persist({}, T0 + 400)).toMatchObject({ ok: true, events_inserted: 2 });
      expect(store.runs().map((x) => x.run_id)).toEqual(['run-d']);
      store.close(T0 + 500);
    });

    it('not a database: CORRUPT, and the file is left exactly as it was', () => {
      const path = freshPath();
      const junk = Buffer.from('this is not a sqlite file, it is a note the user saved here\n'.repeat(100));
      writeFileSync(path, junk);
      const store = open(path);
      expect(store.status.state).toBe('UNAVAILABLE');
      expect(store.status.fault).toMatchObject({ kind: 'CORRUPT', code: 'SQLITE_NOTADB' });
      expect(store.persist({ events: events.slice(0, 1) }, T0 + 5_000).ok).toBe(false);
      store.close(T0 + 6_000);
      expect(readFileSync(path).equals(junk)).toBe(true);
    });

    it('written by a newer build: SCHEMA_TOO_NEW, untouched', () => {
      const path = freshPath();
      const db = new Database(path);
      db.exec('CREATE TABLE future (x)');
      db.pragma(`user_version = ${LATEST_SCHEMA_VERSION + 1}`);
      db.close();
      const before = readFileSync(path);
      for (const readonly of [false, true]) {
        const store = open(path, { readonly });
        expect(store.status.fault).toMatchObject({ kind: 'SCHEMA_TOO_NEW', code: 'SCHEMA_TOO_NEW' });
        expect(store.status.fault?.message).toContain('newer Peak Pressure');
        store.close(T0);
      }
      expect(readFileSync(path).equals(before)).toBe(true);
    });

    it('read-only file (chmod 0444; only meaningful when not root, root bypasses file modes)', () => {
      if (process.getuid?.() === 0) {
        console.warn('[skip] chmod read-only: running as root, file modes do not stop writes; the read-only filesystem test covers it');
        return;
      }
      const path = freshPath();
      const a = open(path);
      a.startRun(runStart('ro', T0), T0);
      a.close(T0);
      chmodSync(path, 0o444);
      const store = open(path, { retryEveryMs: 0 });
      const r = store.persist({ events: events.slice(0, 1) }, T0 + 1);
      expect(r.ok).toBe(false);
      expect(!r.ok && r.fault.kind).toBe('READ_ONLY');
      store.close(T0 + 2);
    });
  });

  // ---- a real small filesystem (tmpfs) for disk full and read-only, when this machine lets us mount one

  function tryMount(dir: string, sizeBytes: number): boolean {
    if (process.platform !== 'linux' || process.getuid?.() !== 0) return false;
    mkdirSync(dir, { recursive: true });
    return spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeBytes}`, 'tmpfs', dir], { stdio: 'ignore' }).status === 0;
  }

  describe('on a real tmpfs (needs root on Linux; otherwise the max_page_count test above stands in)', () => {
    const mnt = join(tmp.dir, `mnt-${driver}`);
    let mounted = false;
    beforeAll(() => {
      mounted = tryMount(mnt, 1 << 20);
      if (!mounted) console.warn('[skip] tmpfs tests: cannot mount a tmpfs here (not root, or no mount permission)');
    });
    afterAll(() => {
      if (mounted) spawnSync('umount', ['-l', mnt], { stdio: 'ignore' });
    });

    it('disk full (ENOSPC): DISK_FULL, pending rows are written after space is freed, none twice, file intact', () => {
      if (!mounted) return;
      const path = join(mnt, 'full', 'peak-pressure.db');
      const store = EventStore.open({ path, isRunAlive: () => false, retryEveryMs: 0 }, T0);
      store.startRun(runStart('run-t', T0), T0);
      expect(store.persist({ events: events.slice(0, 1) }, T0).ok).toBe(true);
      // Fill the filesystem to the last byte with a file we can delete again.
      const filler = join(mnt, 'filler');
      const chunk = Buffer.alloc(4096, 1);
      const fd = openSync(filler, 'w');
      try {
        for (;;) writeSync(fd, chunk);
      } catch (e) {
        expect((e as NodeJS.ErrnoException).code).toBe('ENOSPC');
      } finally {
        closeSync(fd);
      }
      let fault = null;
      const batch: PromotedEvent[] = [];
      for (let i = 0; i < 200 && fault === null; i++) {
        const e = { ...(events[i % events.length] as PromotedEvent), event_id: `T-${i}`, padding: 'y'.repeat(3_000) };
        batch.push(e);
        const r = store.persist({ events: [e] }, T0 + 1 + i);
        if (!r.ok) fault = r.fault;
      }
      expect(fault?.kind).toBe('DISK_FULL');
      expect(store.status.state).toBe('FAILING');
      const pending = store.status.pending_events;
      expect(pending).toBeGreaterThan(0);
      rmSync(filler);
      const r = store.persist({ events: batch.slice(0, 1) }, T0 + 1_000);
      expect(r.ok).toBe(true);
      expect(store.status.state).toBe('OK');
      store.close(T0 + 2_000);
      const ids = (rawRows(path, 'SELECT event_id FROM events') as { event_id: string }[]).map((x) => x.event_id);
      expect(new Set(ids).size).toBe(ids.length);
      expect(ids.length).toBe(1 + batch.length);
      expect(integrity(path)).toBe('ok');
    });

    it('read-only filesystem (EROFS): the store opens for reading, a write is READ_ONLY, the history stays readable', () => {
      if (!mounted) return;
      const dir = join(mnt, 'ro');
      const path = join(dir, 'peak-pressure.db');
      const a = EventStore.open({ path, isRunAlive: () => false }, T0);
      a.startRun(runStart('before', T0), T0);
      a.persist({ events: events.slice(0, 2) }, T0);
      a.close(T0 + 1);
      copyFileSync(path, join(tmp.dir, 'ro-copy.db'));
      expect(spawnSync('mount', ['-o', 'remount,ro', mnt]).status).toBe(0);
      try {
        const store = EventStore.open({ path, isRunAlive: () => false, retryEveryMs: 0 }, T0 + 2);
        const r = store.persist({ events: events.slice(2, 3) }, T0 + 3);
        expect(r.ok).toBe(false);
        expect(r).toMatchObject({ ok: false, fault: { kind: 'READ_ONLY', code: expect.stringMatching(/^(SQLITE_READONLY|EROFS)/) } });
        expect(storeReasonCode('READ_ONLY')).toBe('STORE_READ_ONLY');
        expect(store.status.pending_events).toBe(1);
        const reader = EventStore.open({ path, readonly: true }, T0 + 4);
        if (driver === 'native') expect([...reader.iterateEvents()].length).toBe(2);
        // The wasm driver's lock is a folder beside the file, which a read-only volume cannot take:
        // such a store is unreadable with it, and says so (README, Windows).
        else expect(reader.status).toMatchObject({ state: 'UNAVAILABLE', fault: { kind: 'READ_ONLY', code: 'EROFS' } });
        reader.close(T0 + 5);
        store.close(T0 + 6);
        expect(statSync(path).size).toBe(statSync(join(tmp.dir, 'ro-copy.db')).size);
      } finally {
        spawnSync('mount', ['-o', 'remount,rw', mnt]);
      }
    });
  });
});
