/**
 * The store as the sinks' outbox (schema 3, src/store/outbox.ts): every stored event and audit
 * record is numbered in commit order by the schema's triggers (promotion mirrors left out), a
 * duplicate insert numbers nothing, cursors only move forward, the committed schema-1 file gets its
 * rows numbered oldest first, and a row that vanished is counted, not delivered.
 */
import { copyFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { AuditEnvelopeSchema } from '../src/core/contracts/audit';
import { RULE_SET_ID } from '../src/core/constants';
import type { PromotedEvent } from '../src/core/contracts/promoted';
import { POLICY_ID } from '../src/core/policy/constants';
import { Outbox, OutboxError } from '../src/store/outbox';
import { EventStore } from '../src/store/store';
import { FIXTURE_DIR } from './fixtures/paths';
import { auditOf, syntheticPolicyEvents } from './sink-helpers';
import { describeEachDriver, fixtureEvents, runStart, tempDir } from './store-helpers';

const T0 = 1_723_161_400_000;
const tmp = tempDir('pp-outbox-');
afterAll(() => tmp.cleanup());

describeEachDriver('outbox', (driver) => {
  let events: PromotedEvent[];
  const path = join(tmp.dir, `store-${driver}.db`);

  beforeAll(async () => {
    events = await fixtureEvents();
  });

  it('numbers every stored event (M3 and policy) and audit record in commit order; promotion mirrors stay out', () => {
    const policy = syntheticPolicyEvents(events.slice(0, 2));
    const audit = auditOf('run-1', T0, events);
    const store = EventStore.open({ path, isRunAlive: () => false }, T0);
    store.startRun(runStart('run-1', T0), T0);
    expect(store.persist({ events: [...events, ...policy], audit }, T0 + 5)).toMatchObject({ ok: true });
    store.close(T0 + 6);

    const box = Outbox.open(path);
    const b = box.read(0, 10_000);
    expect(b.skipped).toBe(0);
    const wantAudit = audit.filter((a) => a.event_type !== 'PEAK_PRESSURE_PROMOTED');
    expect(b.items.map((i) => [i.kind, i.type, i.id])).toEqual([
      ...events.map((e) => ['event', RULE_SET_ID, e.event_id]),
      ...policy.map((e) => ['event', POLICY_ID, e.event_id]),
      ...wantAudit.map((a) => ['audit', a.event_type, `${a.run_id}:${a.seq}`]),
    ]);
    expect(b.items.map((i) => i.seq)).toEqual(b.items.map((_, k) => k + 1));
    expect(b.throughSeq).toBe(b.items.length);
    expect(box.head()).toBe(b.items.length);
    // The canonical JSON: events byte for byte as the core produced them, audit as the trail writes it.
    const ev = b.items.filter((i) => i.kind === 'event');
    expect(ev.map((i) => i.json)).toEqual([...events, ...policy].map((e) => JSON.stringify(e)));
    const au = b.items.filter((i) => i.kind === 'audit');
    expect(au.map((i) => AuditEnvelopeSchema.parse(JSON.parse(i.json)))).toEqual(wantAudit);
    expect(au.map((i) => i.json)).toEqual(wantAudit.map((a) => JSON.stringify(AuditEnvelopeSchema.parse(a))));
    expect(ev.every((i) => i.run_id === 'run-1' && i.at_ms === T0 + 5)).toBe(true);
    box.close();
  });

  it('an event stored again numbers nothing (the store keeps the first; so does the outbox)', () => {
    const before = Outbox.open(path);
    const head = before.head();
    before.close();
    const store = EventStore.open({ path, isRunAlive: () => false }, T0 + 10);
    store.startRun(runStart('run-2', T0 + 10), T0 + 10);
    expect(store.persist({ events }, T0 + 11)).toMatchObject({ ok: true, events_inserted: 0, duplicates: events.length });
    store.close(T0 + 12);
    const box = Outbox.open(path);
    expect(box.head()).toBe(head);
    box.close();
  });

  it('pages in order; cursors are per sink, stored, and never move back', () => {
    const box = Outbox.open(path);
    const head = box.head();
    const seen: number[] = [];
    let cursor = 0;
    for (;;) {
      const b = box.read(cursor, 3);
      if (b.items.length === 0) break;
      seen.push(...b.items.map((i) => i.seq));
      cursor = b.throughSeq;
    }
    expect(seen).toEqual(Array.from({ length: head }, (_, k) => k + 1));
    expect(box.cursor('redis://a:1')).toEqual({ delivered_seq: 0, delivered: 0 });
    box.advance('redis://a:1', 4, 4, T0);
    box.advance('redis://a:1', 2, 0, T0);
    box.advance('postgres://b:2/x', 1, 1, T0);
    box.close();
    const again = Outbox.open(path);
    expect(again.cursor('redis://a:1')).toEqual({ delivered_seq: 4, delivered: 4 });
    expect(again.cursor('postgres://b:2/x')).toEqual({ delivered_seq: 1, delivered: 1 });
    expect(again.oldestAfter(4)).toBe(T0 + 5);
    expect(again.oldestAfter(head)).toBeNull();
    again.close();
  });

  it('one observer id per store file, kept across opens', () => {
    const a = Outbox.open(path);
    const id = a.observerId;
    a.close();
    expect(id).toMatch(/^[0-9a-f]{32}$/);
    const b = Outbox.open(path);
    expect(b.observerId).toBe(id);
    b.close();
    const other = join(tmp.dir, `other-${driver}.db`);
    EventStore.open({ path: other }, T0).close(T0);
    const c = Outbox.open(other);
    expect(c.observerId).not.toBe(id);
    c.close();
  });

  it('a row that vanished from the events table is counted as skipped and the cursor passes it', () => {
    const p = join(tmp.dir, `vanished-${driver}.db`);
    const store = EventStore.open({ path: p, isRunAlive: () => false }, T0);
    store.startRun(runStart('run-v', T0), T0);
    store.persist({ events: events.slice(0, 3) }, T0 + 1);
    store.close(T0 + 2);
    const db = new Database(p);
    db.prepare('DELETE FROM events WHERE event_id = ?').run((events[1] as PromotedEvent).event_id);
    db.close();
    const box = Outbox.open(p);
    const b = box.read(0, 10);
    expect(b.items.map((i) => i.id)).toEqual([(events[0] as PromotedEvent).event_id, (events[2] as PromotedEvent).event_id]);
    expect(b).toMatchObject({ skipped: 1, throughSeq: 3 });
    box.close();
  });

  it('the committed schema-1 file: its rows are numbered oldest first when it is migrated', () => {
    const p = join(tmp.dir, `v1-${driver}.db`);
    copyFileSync(join(FIXTURE_DIR, 'store-v1.db'), p);
    const stored = new Database(p, { readonly: true });
    const rows = stored.prepare('SELECT event_id, stored_ms FROM events ORDER BY stored_ms, window_end_ms, symbol').all() as {
      event_id: string;
      stored_ms: number;
    }[];
    const audits = stored.prepare('SELECT ts_ms, event_type FROM audit ORDER BY id').all() as { ts_ms: number; event_type: string }[];
    stored.close();
    const box = Outbox.open(p);
    const b = box.read(0, 100);
    // The fixture: one event stored at T0 + 1 s in run 1, then run 2's three audit records (T0 + 60 s + 1…3 ms), then its events (T0 + 61 s).
    const want = [
      ...rows.filter((r) => r.stored_ms < (audits[0]?.ts_ms ?? 0)).map((r) => r.event_id),
      ...audits.map((a) => a.event_type),
      ...rows.filter((r) => r.stored_ms > (audits[0]?.ts_ms ?? 0)).map((r) => r.event_id),
    ];
    expect(b.items.map((i) => (i.kind === 'audit' ? i.type : i.id))).toEqual(want);
    expect(b.items.length).toBe(rows.length + audits.length);
    box.close();
  });

  it('a missing file is an error that names it (the outbox never creates a store)', () => {
    const p = join(tmp.dir, `nope-${driver}.db`);
    expect(() => Outbox.open(p)).toThrow(OutboxError);
    expect(() => Outbox.open(p)).toThrow(/nope-\w+\.db: open failed/);
    expect(existsSync(p)).toBe(false);
  });
});
