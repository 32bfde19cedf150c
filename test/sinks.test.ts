/**
 * The sinks against real servers (SPEC §22; Debian's redis-server and postgresql, started by
 * `bash scripts/services.sh start`): a store filled with the fixture replay's real promotions (plus
 * synthetic four-pillars events and a run's audit records) is delivered to Redis Streams and to
 * PostgreSQL, in order and byte for byte; the reference consumer acknowledges, resumes, de-duplicates,
 * takes over a crashed consumer's entries and dead-letters poison; PostgreSQL refuses to be written
 * at another schema, migrates idempotently, never duplicates, and sets aside a row it refuses as
 * data without blocking the rest; the delivery thread runs the same in a worker.
 */
import { join } from 'node:path';
import Database from 'better-sqlite3';
import Redis from 'ioredis';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RULE_SET_ID } from '../src/core/constants';
import type { PromotedEvent } from '../src/core/contracts/promoted';
import { Delivery, type DeliveryTuning } from '../src/sinks/delivery';
import { startSinks } from '../src/sinks/hub';
import { PostgresSink } from '../src/sinks/postgres-sink';
import { migratePg, PG_LATEST_VERSION, pgSchemaVersion } from '../src/sinks/postgres-schema';
import { StreamConsumer } from '../src/sinks/redis-consumer';
import { RedisSink } from '../src/sinks/redis-sink';
import { AUDIT_STREAM, EVENTS_STREAM, type StreamEntry } from '../src/sinks/redis-streams';
import { parseSinkUrl } from '../src/sinks/spec';
import { Outbox } from '../src/store/outbox';
import { EventStore } from '../src/store/store';
import { REPO_ROOT } from './fixtures/paths';
import { describeWithServices, flushRedis, freshPgDatabase, redisDb, until } from './services';
import { auditOf, fillStore, key, pgEventCounts, pgQuery, rekeyed, streamEntries, syntheticPolicyEvents } from './sink-helpers';
import { fixtureEvents, runStart, tempDir } from './store-helpers';

const T0 = 1_723_161_400_000;
const FAST: Partial<DeliveryTuning> = { idlePollMs: 20, retryMinMs: 20, retryMaxMs: 200, batchSize: 7, runsSyncMs: 50 };
const tmp = tempDir('pp-sinks-');
afterAll(() => tmp.cleanup());

async function drained(d: Delivery): Promise<void> {
  await until(() => d.status().every((s) => s.state === 'OK' && s.backlog === 0), 'the delivery to drain the outbox');
}

describeWithServices('sinks against real Redis and PostgreSQL', (urls) => {
  const redisUrl = redisDb(urls.redis, 1);
  let pgUrl: string;
  let events: PromotedEvent[];
  let allEvents: { event_id: string; type: string; json: string }[];
  const storePath = join(tmp.dir, 'observer.db');

  beforeAll(async () => {
    await flushRedis(redisUrl);
    pgUrl = await freshPgDatabase(urls.postgres, `pp_sinks_${process.pid}`);
    events = await fixtureEvents();
    const policy = syntheticPolicyEvents(events.slice(0, 2));
    // More events than one batch holds, so order across batches is tested too.
    const m3 = [...events, ...rekeyed(events, 'more', 20)];
    fillStore(storePath, 'run-a', T0, [...m3, ...policy], auditOf('run-a', T0, events));
    allEvents = [
      ...m3.map((e) => ({ event_id: e.event_id, type: RULE_SET_ID as string, json: JSON.stringify(e) })),
      ...policy.map((e) => ({ event_id: e.event_id, type: 'four-pillars-001', json: JSON.stringify(e) })),
    ];
  });

  describe('Redis Streams', () => {
    let observerId: string;

    it('delivers every event and audit record in outbox order, with id, type, canonical json, observer and run', async () => {
      const outbox = Outbox.open(storePath);
      observerId = outbox.observerId;
      const d = new Delivery({ outbox, sinks: [new RedisSink(parseSinkUrl(redisUrl))], tuning: FAST });
      d.start();
      await drained(d);
      const st = d.status()[0];
      await d.stop();
      outbox.close();
      const got = await streamEntries(redisUrl, 'events');
      expect(got.map((e) => [e.fields.id, e.fields.type, e.fields.json])).toEqual(allEvents.map((e) => [e.event_id, e.type, e.json]));
      expect(got.every((e) => e.fields.observer === observerId && e.fields.run === 'run-a')).toBe(true);
      const audit = await streamEntries(redisUrl, 'audit');
      expect(audit.map((e) => e.fields.type)).toEqual(['STAGE_CHANGED', 'HEALTH_CHANGED', 'ALERT_RAISED']);
      expect(audit.map((e) => e.fields.id)).toEqual(['run-a:1', 'run-a:2', 'run-a:4']);
      expect(st).toMatchObject({ state: 'OK', backlog: 0, delivered: allEvents.length + 3, failures: 0, last_error: null, warning: null });
    });

    it('the cursor is kept: a second delivery of the same store sends nothing again', async () => {
      const outbox = Outbox.open(storePath);
      const d = new Delivery({ outbox, sinks: [new RedisSink(parseSinkUrl(redisUrl))], tuning: FAST });
      expect(d.status()[0]).toMatchObject({ backlog: 0, delivered_total: allEvents.length + 3 });
      d.start();
      await drained(d);
      await d.stop();
      outbox.close();
      expect((await streamEntries(redisUrl, 'events')).length).toBe(allEvents.length);
    });

    it('the reference consumer handles each entry once, acknowledges, and resumes after a restart', async () => {
      const seen: StreamEntry[] = [];
      const mk = () =>
        new StreamConsumer({ url: redisUrl, group: 'g1', consumer: 'c1', streams: ['events', 'audit'], blockMs: 50, onEntry: (e) => void seen.push(e) });
      const a = mk();
      await a.init();
      await a.run(new AbortController().signal, true);
      a.close();
      expect(seen.filter((e) => e.stream === 'events').map((e) => e.json)).toEqual(allEvents.map((e) => e.json));
      expect(seen.filter((e) => e.stream === 'audit').map((e) => e.type)).toEqual(['STAGE_CHANGED', 'HEALTH_CHANGED', 'ALERT_RAISED']);
      expect(a.stats).toMatchObject({ handled: allEvents.length + 3, duplicates: 0, dead_lettered: 0 });
      // The same entries delivered again (a retried batch): recognised by type and id, acknowledged, not handled.
      const outbox = Outbox.open(storePath);
      const again = outbox.read(0, 5).items;
      await new RedisSink(parseSinkUrl(redisUrl)).deliver({ observerId: outbox.observerId, items: again, runs: [] });
      outbox.close();
      const b = mk();
      await b.init();
      await b.run(new AbortController().signal, true);
      b.close();
      expect(b.stats).toMatchObject({ handled: 0, duplicates: again.length });
      expect(seen.length).toBe(allEvents.length + 3);
      const r = new Redis(redisUrl);
      expect(((await r.call('XPENDING', EVENTS_STREAM, 'g1')) as unknown[])[0]).toBe(0);
      r.disconnect();
    });

    it('entries a crashed consumer read and never acknowledged are claimed by another (XAUTOCLAIM)', async () => {
      const r = new Redis(redisUrl);
      await r.xgroup('CREATE', EVENTS_STREAM, 'g2', '0');
      // The consumer that "crashes": reads five entries, then nothing more.
      await r.call('XREADGROUP', 'GROUP', 'g2', 'crashed', 'COUNT', 5, 'STREAMS', EVENTS_STREAM, '>');
      const seen: string[] = [];
      const b = new StreamConsumer({
        url: redisUrl,
        group: 'g2',
        consumer: 'b',
        streams: ['events'],
        blockMs: 50,
        claimIdleMs: 0,
        onEntry: (e) => void seen.push(e.id),
      });
      await b.init();
      await b.run(new AbortController().signal, true);
      b.close();
      expect(b.stats.claimed).toBe(5);
      expect([...seen].sort()).toEqual(allEvents.map((e) => e.event_id).sort());
      expect(((await r.call('XPENDING', EVENTS_STREAM, 'g2')) as unknown[])[0]).toBe(0);
      r.disconnect();
    });

    it('a consumer restarted under its name takes back what it had read but not acknowledged', async () => {
      const seen: string[] = [];
      let crash = true;
      const mk = () =>
        new StreamConsumer({
          url: redisUrl,
          group: 'g3',
          consumer: 'same',
          streams: ['events'],
          blockMs: 50,
          onEntry: (e) => {
            if (crash && seen.length === 3) throw new Error('killed mid-entry');
            seen.push(e.id);
          },
        });
      const a = mk();
      await a.init();
      await a.poll();
      a.close();
      expect(a.stats.handler_errors).toBeGreaterThan(0);
      crash = false;
      const b = mk();
      await b.init();
      await b.run(new AbortController().signal, true);
      b.close();
      expect(b.stats.claimed).toBe(a.stats.handler_errors);
      expect(seen).toEqual(allEvents.map((e) => e.event_id));
    });

    it('poison entries go to the dead-letter stream with the reason, are acknowledged, and never block the group', async () => {
      const r = new Redis(redisUrl);
      const good = allEvents[0] as { event_id: string; type: string; json: string };
      const poison: [string, string[]][] = [
        ['not JSON', ['id', 'x', 'type', RULE_SET_ID, 'json', '{oops']],
        ['missing field json', ['id', 'x', 'type', RULE_SET_ID]],
        ['unknown event type', ['id', good.event_id, 'type', 'other-policy', 'json', good.json]],
        ['not a peak-pressure-m3 event', ['id', 'x', 'type', RULE_SET_ID, 'json', '{"event_id":"x"}']],
        ['differs from the event', ['id', 'someone-else', 'type', RULE_SET_ID, 'json', good.json]],
      ];
      await r.xgroup('CREATE', EVENTS_STREAM, 'g4', '$');
      for (const [, f] of poison) await r.xadd(EVENTS_STREAM, '*', ...f);
      await r.xadd(EVENTS_STREAM, '*', 'id', good.event_id, 'type', good.type, 'json', good.json);
      const seen: string[] = [];
      const dead: string[] = [];
      const c = new StreamConsumer({
        url: redisUrl,
        group: 'g4',
        consumer: 'p',
        streams: ['events'],
        blockMs: 50,
        onEntry: (e) => void seen.push(e.id),
        onDeadLetter: (_s, _id, reason) => void dead.push(reason),
      });
      await c.init();
      await c.run(new AbortController().signal, true);
      c.close();
      expect(seen).toEqual([good.event_id]);
      expect(dead).toHaveLength(poison.length);
      poison.forEach(([want], i) => expect(dead[i]).toContain(want));
      const dlq = await r.xrange(`${EVENTS_STREAM}:dlq`, '-', '+');
      expect(dlq.map(([, f]) => f[1])).toEqual(dead);
      expect(JSON.parse(dlq[0]?.[1][11] ?? '{}')).toEqual({ id: 'x', type: RULE_SET_ID, json: '{oops' });
      expect(((await r.call('XPENDING', EVENTS_STREAM, 'g4')) as unknown[])[0]).toBe(0);
      r.disconnect();
    });

    it('an entry whose handler fails every time is dead-lettered after maxDeliveries', async () => {
      const r = new Redis(redisUrl);
      await r.xgroup('CREATE', AUDIT_STREAM, 'g5', '0');
      r.disconnect();
      const c = new StreamConsumer({
        url: redisUrl,
        group: 'g5',
        consumer: 'h',
        streams: ['audit'],
        blockMs: 20,
        claimIdleMs: 0,
        claimEveryMs: 0,
        maxDeliveries: 2,
        onEntry: (e) => {
          if (e.type === 'HEALTH_CHANGED') throw new Error('handler bug');
        },
      });
      await c.init();
      for (let i = 0; i < 5; i++) await c.poll();
      c.close();
      expect(c.stats).toMatchObject({ handled: 2, dead_lettered: 1 });
      const r2 = new Redis(redisUrl);
      const dlq = await r2.xrange(`${AUDIT_STREAM}:dlq`, '-', '+');
      r2.disconnect();
      expect(dlq.map(([, f]) => JSON.parse(f[11] ?? '{}').type)).toEqual(['HEALTH_CHANGED']);
      expect(dlq[0]?.[1][1]).toBe('delivered 3 times without being acknowledged (its handler failed or crashed each time)');
    });

    it('a Redis without an append-only file is reported as a warning on the sink', async () => {
      const r = new Redis(redisUrl);
      await r.config('SET', 'appendonly', 'no');
      const sink = new RedisSink(parseSinkUrl(redisUrl));
      await sink.deliver({ observerId, items: [], runs: [] });
      await r.config('SET', 'appendonly', 'yes');
      r.disconnect();
      await sink.close();
      expect(sink.warning()).toMatch(/appendonly no.*--appendonly yes/);
    });
  });

  describe('PostgreSQL', () => {
    it('a database without the schema is refused with what to run; after `db migrate` the backlog is delivered', async () => {
      const outbox = Outbox.open(storePath);
      const d = new Delivery({ outbox, sinks: [new PostgresSink(parseSinkUrl(pgUrl))], tuning: FAST });
      d.start();
      await until(() => d.status()[0]?.state === 'DEGRADED', 'the sink to refuse the database');
      const st = d.status()[0];
      expect(st?.last_error).toContain(
        `is at schema v0, this build writes v${PG_LATEST_VERSION}: run \`peak-pressure db migrate ${parseSinkUrl(pgUrl).name}\``,
      );
      expect(st?.backlog).toBe(allEvents.length + 3);
      const c = new pg.Client({ connectionString: pgUrl });
      await c.connect();
      expect(await migratePg(c, 'test', 'test')).toEqual({ from: 0, to: PG_LATEST_VERSION });
      await c.end();
      await drained(d);
      await d.stop();
      outbox.close();
      const counts = await pgEventCounts(pgUrl);
      expect(counts.size).toBe(allEvents.length);
      expect([...counts.values()].every((n) => n === 1)).toBe(true);
      const rows = await pgQuery<{ event_id: string; json: string; sym: string }>(
        pgUrl,
        "SELECT event_id, json, doc->>'symbol' AS sym FROM events ORDER BY observer_seq",
      );
      expect(rows.map((x) => x.json)).toEqual(allEvents.map((e) => e.json));
      expect(rows.every((x) => x.sym === JSON.parse(x.json).symbol)).toBe(true);
      const audit = await pgQuery<{ event_type: string; seq: number }>(pgUrl, 'SELECT event_type, seq FROM audit ORDER BY seq');
      expect(audit).toEqual([
        { event_type: 'STAGE_CHANGED', seq: 1 },
        { event_type: 'HEALTH_CHANGED', seq: 2 },
        { event_type: 'ALERT_RAISED', seq: 4 },
      ]);
      const runs = await pgQuery<{ run_id: string; end_kind: string | null; observer_id: string }>(pgUrl, 'SELECT run_id, end_kind, observer_id FROM runs');
      expect(runs).toEqual([{ run_id: 'run-a', end_kind: 'clean', observer_id: outbox.observerId }]);
      expect(await pgQuery(pgUrl, 'SELECT observer_id FROM observers')).toEqual([{ observer_id: outbox.observerId }]);
    });

    it('migrations are idempotent, also when two run at once', async () => {
      const cs = [new pg.Client({ connectionString: pgUrl }), new pg.Client({ connectionString: pgUrl })];
      await Promise.all(cs.map((c) => c.connect()));
      const r = await Promise.all(cs.map((c) => migratePg(c, 'test', 'test')));
      expect(r).toEqual([
        { from: PG_LATEST_VERSION, to: PG_LATEST_VERSION },
        { from: PG_LATEST_VERSION, to: PG_LATEST_VERSION },
      ]);
      expect(await pgQuery(pgUrl, 'SELECT version FROM peak_pressure_schema ORDER BY version')).toEqual(
        Array.from({ length: PG_LATEST_VERSION }, (_, i) => ({ version: i + 1 })),
      );
      await Promise.all(cs.map((c) => c.end()));
    });

    it('a batch delivered again inserts nothing (idempotent by policy and event id)', async () => {
      const outbox = Outbox.open(storePath);
      const b = outbox.read(0, 1_000);
      const sink = new PostgresSink(parseSinkUrl(pgUrl));
      await sink.deliver({ observerId: outbox.observerId, items: b.items, runs: outbox.runs() });
      await sink.close();
      outbox.close();
      const counts = await pgEventCounts(pgUrl);
      expect([...counts.values()].every((n) => n === 1)).toBe(true);
      expect(counts.size).toBe(allEvents.length);
    });

    it('a row PostgreSQL refuses as data is counted and set aside; the rows around it are delivered', async () => {
      const p = join(tmp.dir, 'bad-row.db');
      const evs = rekeyed(events, 'bad', 3);
      const store = EventStore.open({ path: p, isRunAlive: () => false }, T0);
      store.startRun(runStart('run-bad', T0), T0);
      store.persist({ events: evs.slice(0, 1) }, T0 + 1);
      store.close(T0 + 2);
      // A row the store never writes (its JSON is not JSON), as damage or a foreign writer would leave it.
      const db = new Database(p);
      db.prepare(
        "INSERT INTO events (policy_id, event_id, policy_version, run_id, symbol, window_start_ms, window_end_ms, stored_ms, json) VALUES ('peak-pressure-m3', 'broken', 1, 'run-bad', 'BTCUSDT', 1, 2, 3, '{not json')",
      ).run();
      db.close();
      const s2 = EventStore.open({ path: p, isRunAlive: () => false }, T0 + 10);
      s2.startRun(runStart('run-bad-2', T0 + 10), T0 + 10);
      s2.persist({ events: evs.slice(1) }, T0 + 11);
      s2.close(T0 + 12);
      const outbox = Outbox.open(p);
      const d = new Delivery({ outbox, sinks: [new PostgresSink(parseSinkUrl(pgUrl))], tuning: { ...FAST, batchSize: 100 } });
      d.start();
      await drained(d);
      const st = d.status()[0];
      await d.stop();
      outbox.close();
      expect(st).toMatchObject({ rejected: 1, delivered: 3, backlog: 0 });
      const counts = await pgEventCounts(pgUrl);
      for (const e of evs) expect(counts.get(key(RULE_SET_ID, e.event_id))).toBe(1);
      expect(counts.has(key(RULE_SET_ID, 'broken'))).toBe(false);
    });

    it('a database at a newer schema is refused and left untouched', async () => {
      const newer = await freshPgDatabase(urls.postgres, `pp_sinks_newer_${process.pid}`);
      const c = new pg.Client({ connectionString: newer });
      await c.connect();
      await migratePg(c, 'test', 'test');
      await c.query("INSERT INTO peak_pressure_schema (version, what, app_version) VALUES ($1, 'from the future', 'future')", [PG_LATEST_VERSION + 1]);
      await expect(migratePg(c, 'newer', 'test')).rejects.toThrow(/newer than this build's v1: it is left as it is/);
      const outbox = Outbox.open(storePath);
      const d = new Delivery({ outbox, sinks: [new PostgresSink(parseSinkUrl(newer))], tuning: FAST });
      d.start();
      await until(() => d.status()[0]?.state === 'DEGRADED', 'the sink to refuse the database');
      expect(d.status()[0]?.last_error).toMatch(/is at schema v2, newer than this build's v1: nothing is written to it/);
      await d.stop();
      outbox.close();
      expect(await pgSchemaVersion(c)).toBe(PG_LATEST_VERSION + 1);
      expect((await c.query('SELECT count(*)::int AS n FROM events')).rows[0]).toEqual({ n: 0 });
      await c.end();
    });
  });

  it('the delivery thread (worker) drains to both sinks, reports status, and stops cleanly', async () => {
    const p = join(tmp.dir, 'worker.db');
    const evs = rekeyed(events, 'worker', 40);
    fillStore(p, 'run-w', T0, evs);
    const hub = startSinks({
      storePath: p,
      sinks: [parseSinkUrl(redisUrl), parseSinkUrl(pgUrl)],
      thread: 'worker',
      tuning: FAST,
      statusEveryMs: 20,
      workerFile: join(REPO_ROOT, 'src', 'sinks', 'sink-worker.ts'),
      workerPreload: join(REPO_ROOT, 'test', 'fixtures', 'ts-register.cjs'),
    });
    expect(hub.status().map((s) => s.state)).toEqual(['CONNECTING', 'CONNECTING']);
    await until(() => hub.status().every((s) => s.state === 'OK' && s.backlog === 0 && s.delivered === evs.length), 'the worker to drain both sinks', 60_000);
    await hub.stop(1_000);
    const counts = await pgEventCounts(pgUrl);
    for (const e of evs) expect(counts.get(key(RULE_SET_ID, e.event_id))).toBe(1);
    const ids = new Set((await streamEntries(redisUrl, 'events')).map((e) => e.fields.id));
    for (const e of evs) expect(ids.has(e.event_id)).toBe(true);
  }, 90_000);
});
