/**
 * The event store and the alerts inside the real collector (SPEC §21, issue 10 items 2, 3, 5),
 * against the loopback simulator's demo scenario (recorded real flow and scripted liquidation
 * cascades) on the rig's manual clock:
 *
 *   - durable before visible: every event any snapshot (and debug/latest_snapshot.json) shows is
 *     already in the store, once, byte for byte; the audit trail and the alerts are in it too;
 *   - a store that cannot be written — unusable from the start, or locked by another connection
 *     mid-run — is a health reason and a CRIT alert, never a crash; detection goes on, the events
 *     wait (counted in the snapshot, not shown) and appear, in order, once the store works again;
 *   - the next run sees this run's events as history, newest first, labelled with their run.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { AuditEnvelopeSchema } from '../src/core/contracts/audit';
import { type Snapshot, SnapshotSchema } from '../src/core/contracts/snapshot';
import { eventLine } from '../src/replay/replay';
import { EventStore } from '../src/store/store';
import { type Rig, startRig } from './collector-harness';

let rig: Rig | null = null;
afterEach(async () => {
  await rig?.stop();
  rig = null;
});

const DEMO = { sim: { scenario: 'demo' as const, seed: 11 }, config: { mode: 'DEMO' as const } };

/** event_id → canonical JSON line of every event in the store, read through a second connection. */
function stored(path: string): Map<string, string> {
  const db = new Database(path, { readonly: true });
  try {
    const rows = db.prepare('SELECT event_id, json FROM events ORDER BY window_end_ms, symbol').all() as { event_id: string; json: string }[];
    return new Map(rows.map((r) => [r.event_id, r.json]));
  } finally {
    db.close();
  }
}

function storedEventCount(path: string): { n: number; uniq: number } {
  const db = new Database(path, { readonly: true });
  try {
    return db.prepare('SELECT count(*) AS n, count(DISTINCT policy_id || event_id) AS uniq FROM events').get() as { n: number; uniq: number };
  } finally {
    db.close();
  }
}

const shownIds = (s: Snapshot): string[] => s.promoted_events.map((e) => e.event_id);
const canonicalJson = (line: string): string => line.trimEnd();

describe('durable before visible', () => {
  it('every event a snapshot or latest_snapshot.json shows is already in the store, once, byte for byte', async () => {
    rig = await startRig(DEMO);
    const r = rig;
    const db = join(r.dir, 'data', 'peak-pressure.db');
    let checkedSnapshots = 0;
    let lastChecked = -1;
    // After every step: each snapshot published since the last look holds only stored events.
    const check = (): void => {
      const fresh = r.snapshots.filter((s) => s.snapshot_seq > lastChecked);
      if (fresh.length === 0) return;
      const inStore = stored(db);
      for (const s of fresh) {
        for (const e of s.promoted_events) expect(inStore.get(e.event_id), `${e.event_id} of snapshot ${s.snapshot_seq}`).toBe(canonicalJson(eventLine(e)));
        checkedSnapshots++;
        lastChecked = s.snapshot_seq;
      }
    };
    await r.until(
      'three promotions shown',
      () => {
        check();
        return r.latest().promoted_events.length >= 3;
      },
      900_000,
    );
    await r.collector.writeSnapshotFile();
    const file = SnapshotSchema.parse(JSON.parse(readFileSync(join(r.dir, 'debug', 'latest_snapshot.json'), 'utf8')));
    const inStore = stored(db);
    for (const id of shownIds(file)) expect(inStore.has(id)).toBe(true);
    expect(file.store).toMatchObject({ state: 'OK', reason: null, fault: null, pending_events: 0, dropped_events: 0 });
    expect(file.store?.events_written).toBe(inStore.size);
    expect(file.store?.persist.writes).toBeGreaterThan(0);
    expect(file.store?.persist.p99_ms).toBeGreaterThanOrEqual(file.store?.persist.p50_ms ?? Infinity);
    expect(checkedSnapshots).toBeGreaterThan(100);

    const detected = r.collector.promotions().map((e) => e.event_id);
    await r.stop();
    rig = null;
    // After the stop every detected event is stored, once, and the run ended cleanly.
    const final = stored(db);
    expect([...final.keys()].sort()).toEqual([...detected].sort());
    expect(storedEventCount(db)).toEqual({ n: detected.length, uniq: detected.length });
    const store = EventStore.open({ path: db, readonly: true });
    try {
      const runs = store.runs();
      expect(runs).toHaveLength(1);
      expect(runs[0]).toMatchObject({ run_id: 'test', mode: 'DEMO', end_kind: 'clean', symbols: [...r.sim.symbols] });
      // The audit trail is mirrored into the store: the same envelopes as debug/audit.jsonl.
      const jsonl = readFileSync(join(r.dir, 'debug', 'audit.jsonl'), 'utf8')
        .trimEnd()
        .split('\n')
        .map((l) => AuditEnvelopeSchema.parse(JSON.parse(l)));
      expect(store.auditRows()).toEqual(jsonl);
      const types = new Set(jsonl.map((a) => a.event_type));
      for (const t of ['STAGE_CHANGED', 'SYMBOLS_SELECTED', 'PEAK_PRESSURE_PROMOTED', 'ALERT_RAISED', 'COUNTERS_SAMPLED'] as const)
        expect(types.has(t), t).toBe(true);
      // Promotion alerts: one per symbol per 60 s cooldown, each a row of the alerts table and a console line.
      const alerts = store.alertRows().filter((a) => a.reason_code === 'PEAK_PRESSURE_PROMOTED');
      expect(alerts.length).toBeGreaterThan(0);
      expect(alerts.reduce((n, a) => n + a.count, 0)).toBeLessThanOrEqual(detected.length);
      expect(r.lines.some((l) => / !! ALERT INFO PEAK_PRESSURE_PROMOTED [A-Z0-9]+USDT — PEAK PRESSURE /.test(l))).toBe(true);
    } finally {
      store.close(0);
    }

    // The next run on the same store gets these events as history, newest first, labelled with their run.
    rig = await startRig({ ...DEMO, sim: { scenario: 'demo', seed: 12 }, dir: r.dir, runId: 'second' });
    const h = rig.collector.history();
    expect(h.skipped).toBe(0);
    const newestFirst = [...final.values()]
      .map((j) => JSON.parse(j) as { event_id: string; symbol: string; window_end_ms: number })
      .sort((a, b) => b.window_end_ms - a.window_end_ms || (a.symbol < b.symbol ? 1 : -1))
      .map((e) => e.event_id);
    expect(h.entries.map((x) => x.event.event_id)).toEqual(newestFirst);
    expect(h.entries.every((x) => x.run_id === 'test' && x.run_mode === 'DEMO' && x.run_started_ms !== null)).toBe(true);
    expect(h.entries.map((x) => canonicalJson(eventLine(x.event)))).toEqual(h.entries.map((x) => final.get(x.event.event_id)));
  }, 300_000);
});

describe('a store that cannot be written', () => {
  it('unusable from the start: STORE_UNAVAILABLE and a CRIT alert, detection goes on, events wait unseen, then appear once it opens', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pp-rig-nostore-'));
    // The store's folder cannot be made: a file holds its name.
    const blocker = join(dir, 'data');
    writeFileSync(blocker, 'not a folder');
    rig = await startRig({ ...DEMO, dir });
    const r = rig;
    await r.until('health says why', () => r.latest().health_reasons.includes('STORE_UNAVAILABLE'), 5_000);
    const s0 = r.latest();
    expect(s0.store).toMatchObject({ state: 'UNAVAILABLE', reason: 'STORE_UNAVAILABLE' });
    expect(s0.store?.fault).toContain(join(dir, 'data', 'peak-pressure.db'));
    expect(s0.health_detail).toContain('event store');
    expect(r.lines.some((l) => l.includes('!! ALERT CRIT STORE_UNAVAILABLE'))).toBe(true);
    expect(r.lines.some((l) => l.includes('event store cannot be written (STORE_UNAVAILABLE)'))).toBe(true);

    await r.until('two promotions detected', () => r.collector.promotions().length >= 2, 900_000);
    await r.run(1_000);
    const held = r.latest();
    const detected = r.collector.promotions().map((e) => e.event_id);
    // Detection went on and counts every event; none is shown before it is stored.
    expect(held.counters.peak_pressure_events).toBe(detected.length);
    expect(held.promoted_events).toEqual([]);
    expect(held.store?.pending_events).toBe(detected.length);
    expect(held.health_state).toBe('DEGRADED');
    expect(held.health_detail).toMatch(new RegExp(`${detected.length} promoted events? wait to be stored and shown`));
    await r.collector.writeSnapshotFile();
    const file = SnapshotSchema.parse(JSON.parse(readFileSync(join(dir, 'debug', 'latest_snapshot.json'), 'utf8')));
    expect(file.promoted_events).toEqual([]);

    // The folder can be made again: the next retry opens the store and writes everything that waited.
    rmSync(blocker);
    await r.until('the waiting events are shown', () => r.latest().promoted_events.length >= detected.length, 10_000);
    const after = r.latest();
    expect(shownIds(after).slice(0, detected.length)).toEqual(detected);
    expect(after.store).toMatchObject({ state: 'OK', reason: null, pending_events: 0, dropped_events: 0 });
    expect(after.health_reasons).not.toContain('STORE_UNAVAILABLE');
    expect(r.lines.some((l) => /event store writable again after \d+ s; \d+ waiting events? stored/.test(l))).toBe(true);
    const db = join(dir, 'data', 'peak-pressure.db');
    const inStore = stored(db);
    for (const e of after.promoted_events) expect(inStore.get(e.event_id)).toBe(canonicalJson(eventLine(e)));
    await r.stop();
    rig = null;
    const runs = EventStore.open({ path: db, readonly: true }).runs();
    expect(runs.map((x) => [x.run_id, x.end_kind])).toEqual([['test', 'clean']]);
    // The alert of the fault reached the audit trail too (and, once the store opened, its table).
    const alertRows = EventStore.open({ path: db, readonly: true }).alertRows();
    expect(alertRows.some((a) => a.reason_code === 'STORE_UNAVAILABLE' && a.severity === 'CRIT')).toBe(true);
  }, 300_000);

  it('locked by another connection mid-run: STORE_BUSY and a CRIT alert, detection goes on, written once the lock is gone', async () => {
    rig = await startRig(DEMO);
    const r = rig;
    const db = join(r.dir, 'data', 'peak-pressure.db');
    await r.until('flowing and written', () => (r.latest().store?.persist.writes ?? 0) > 5 && r.latest().counters.windows_processed > 100, 120_000);
    const other = new Database(db, { timeout: 0 });
    other.exec('BEGIN IMMEDIATE');
    let released = false;
    try {
      const windows0 = r.latest().counters.windows_processed;
      await r.until('health says the store is locked', () => r.latest().health_reasons.includes('STORE_BUSY'), 10_000);
      expect(r.latest().store).toMatchObject({ state: 'FAILING', reason: 'STORE_BUSY' });
      expect(r.latest().health_detail).toContain('another process holds a write lock');
      expect(r.lines.some((l) => l.includes('!! ALERT CRIT STORE_BUSY'))).toBe(true);
      await r.run(3_000);
      // Detection went on while the store was locked.
      expect(r.latest().counters.windows_processed).toBeGreaterThan(windows0);
      expect(r.latest().health_reasons).toContain('STORE_BUSY');
      other.exec('ROLLBACK');
      released = true;
    } finally {
      if (!released) other.exec('ROLLBACK');
      other.close();
    }
    await r.until('written again', () => r.latest().store?.state === 'OK', 10_000);
    expect(r.latest().health_reasons).not.toContain('STORE_BUSY');
    expect(r.lines.some((l) => /event store writable again after \d+ s/.test(l))).toBe(true);
    // The audit records of the locked spell were written after it: the store's audit matches the JSONL so far.
    await r.run(1_000);
    const jsonlCount = readFileSync(join(r.dir, 'debug', 'audit.jsonl'), 'utf8')
      .trimEnd()
      .split('\n').length;
    const store = EventStore.open({ path: db, readonly: true });
    expect(store.auditRows().length).toBeGreaterThan(0);
    expect(store.auditRows().length).toBeLessThanOrEqual(jsonlCount);
    expect(store.auditRows().some((a) => a.event_type === 'ALERT_RAISED' && a.reasons.includes('STORE_BUSY'))).toBe(true);
    store.close(0);
    expect(storedEventCount(db).n).toBe(storedEventCount(db).uniq);
  }, 300_000);
});
