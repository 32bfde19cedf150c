/**
 * The daily summary (`peak-pressure report`). Events per symbol and stress source come from real
 * promoted events. The live parts come from audit rows in exactly the shapes the collector writes
 * (HEALTH_CHANGED `{state, detail}`, WS_CONNECTED/WS_DISCONNECTED) plus COUNTERS_SAMPLED, which the
 * collector does not record yet: those rows are written here by the test, so the arithmetic of
 * time in state, reconnects, partition deltas and coverage across midnight is checked exactly.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { AuditEnvelope, CountersSample } from '../src/core/contracts/audit';
import type { PromotedEvent } from '../src/core/contracts/promoted';
import { emptySymbolCounters } from '../src/core/contracts/counters';
import { boundedAuditReader, buildDailySummary, DailySummarySchema, formatDailySummary, type SummaryAuditReader, utcDay } from '../src/store/daily-summary';
import { EventStore } from '../src/store/store';
import { CLI, ensureCliBuilt } from './fixtures/paths';
import { DRIVERS, fixtureEvents, runStart, tempDir } from './store-helpers';

const H = 3_600_000;
const M = 60_000;
const tmp = tempDir('pp-report-');
afterAll(() => tmp.cleanup());

let events: PromotedEvent[] = [];
let day = '';
let D0 = 0;
beforeAll(async () => {
  events = await fixtureEvents();
  day = utcDay((events[0] as PromotedEvent).window_end_ms);
  D0 = Date.parse(`${day}T00:00:00Z`);
});

function env(run_id: string, seq: number, ts_ms: number, event_type: AuditEnvelope['event_type'], payload: Record<string, unknown>): AuditEnvelope {
  return { ts_ms, run_id, seq, stage: 'OBSERVE', event_type, symbol: '', reasons: [], payload };
}

function sample(windows: number, liq: number, oiPolls: number, reconnects: number): CountersSample {
  const c = {
    ...emptySymbolCounters(),
    windows_processed: windows,
    flow_surge_failed: windows - 2,
    stress_failed: 1,
    peak_pressure_count: 1,
    liquidations: liq,
    oi_polls: oiPolls,
  };
  return { per_symbol: { BTCUSDT: c }, reconnects, oi_errors: 0, oi_poll_interval_ms: 5_000 };
}

describe('daily summary from the store', () => {
  it('events per policy, symbol and stress source; runs; alerts — and says what the audit table lacks', () => {
    const store = EventStore.open({ path: join(tmp.dir, 'events-only.db'), isRunAlive: () => false }, D0);
    store.startRun(runStart('r1', D0 + 23 * H + 50 * M), D0 + 23 * H + 50 * M);
    const m3 = events[0] as PromotedEvent;
    const { rule_set: _r, ...rest } = m3;
    const both = { ...m3, event_id: `${m3.symbol}-both`, stress_sources: ['liquidations', 'oi_change'] };
    const policy = { ...rest, event_id: `${m3.symbol}-m6`, policy: { id: 'four-pillars-001', version: 1 }, stress_sources: ['liquidations'] };
    store.persist(
      {
        events: [...events, both, policy],
        alerts: [
          {
            severity: 'INFO',
            reason_code: 'PEAK_PRESSURE_PROMOTED',
            symbol: m3.symbol,
            count: 4,
            first_ts_ms: D0 + H,
            last_ts_ms: D0 + 2 * H,
            ts_ms: D0 + 2 * H,
            kind: 'aggregate',
            summary: 's',
          },
        ],
      },
      D0 + 23 * H + 55 * M,
    );
    const s = buildDailySummary(store, day, D0 + 23 * H + 59 * M);
    expect(s.complete).toBe(false);
    expect(s.events.total).toBe(events.length + 2);
    const m3Rows = s.events.rows.filter((r) => r.policy_id === 'peak-pressure-m3');
    for (const sym of new Set(events.map((e) => e.symbol))) {
      const n = events.filter((e) => e.symbol === sym).length + (sym === m3.symbol ? 1 : 0);
      expect(m3Rows.find((r) => r.symbol === sym)).toEqual({
        policy_id: 'peak-pressure-m3',
        policy_version: 1,
        symbol: sym,
        events: n,
        liquidations: sym === m3.symbol ? 1 : 0,
        oi_change: n,
        both: sym === m3.symbol ? 1 : 0,
      });
    }
    expect(s.events.rows.find((r) => r.policy_id === 'four-pillars-001')).toMatchObject({ events: 1, liquidations: 1, oi_change: 0, both: 0 });
    expect(s.alerts).toEqual([{ reason_code: 'PEAK_PRESSURE_PROMOTED', severity: 'INFO', alerts: 1, occurrences: 4 }]);
    expect(s.runs.map((r) => [r.run_id, r.observed_ms])).toEqual([['r1', 5 * M]]);
    expect(s.health_ms).toBeNull();
    expect(s.counters).toBeNull();
    expect(s.missing).toHaveLength(3);
    expect(formatDailySummary(s)).toContain('Not in the store for this day:');
    store.close(D0 + 23 * H + 59 * M);
  });

  it('time in each health state, reconnects, stream uptime, partition and OI coverage of a run that spans midnight', () => {
    const store = EventStore.open({ path: join(tmp.dir, 'audit.db'), isRunAlive: () => false }, D0 - H);
    const start = D0 - H; // 23:00 the day before
    store.startRun(runStart('night', start), start);
    const a: AuditEnvelope[] = [
      env('night', 1, start + 10_000, 'WS_CONNECTED', { url: 'wss://x' }),
      env('night', 2, start + 60_000, 'HEALTH_CHANGED', { state: 'OK', detail: '' }),
      env('night', 3, D0 - 1, 'COUNTERS_SAMPLED', sample(3_000, 5, 700, 0)),
      env('night', 4, D0 + 2 * H, 'HEALTH_CHANGED', { state: 'DEGRADED', detail: 'ws' }),
      env('night', 5, D0 + 2 * H, 'WS_DISCONNECTED', { detail: 'closed' }),
      env('night', 6, D0 + 2 * H + 30_000, 'WS_CONNECTED', { url: 'wss://x' }),
      env('night', 7, D0 + 2 * H + 30_000, 'HEALTH_CHANGED', { state: 'OK', detail: '' }),
      env('night', 8, D0 + 3 * H, 'COUNTERS_SAMPLED', sample(3_000 + 10_800, 5 + 40, 700 + 2_000, 1)),
    ];
    store.persist({ audit: a }, D0 + 3 * H);
    store.close(D0 + 3 * H);
    const reader = EventStore.open({ path: join(tmp.dir, 'audit.db') }, D0 + 4 * H);
    const s = buildDailySummary(reader, day, D0 + 4 * H);
    expect(s.runs).toEqual([{ run_id: 'night', mode: 'LIVE_PEAK_PRESSURE', started_ms: start, ended_ms: D0 + 3 * H, end_kind: 'clean', observed_ms: 3 * H }]);
    expect(s.health_ms).toEqual({ STARTING: 0, OK: 3 * H - 30_000, DEGRADED: 30_000, FAILED: 0 });
    expect(s.reconnects).toBe(1);
    expect(s.stream_up_share).toBeCloseTo((3 * H - 30_000) / (3 * H), 9);
    const btc = s.counters?.per_symbol.BTCUSDT;
    expect(btc?.partition.windows_processed).toBe(10_800);
    expect(btc?.partition.flow_surge_failed).toBe(10_800);
    expect(btc?.partition.peak_pressure_count).toBe(0);
    expect(btc?.liquidations).toBe(40);
    expect(btc?.oi_polls).toBe(2_000);
    expect(btc?.oi_expected).toBe(Math.floor((3 * H + 1) / 5_000));
    expect(btc?.oi_coverage).toBeCloseTo(2_000 / 2_160, 3);
    expect(s.missing).toEqual([]);
    // The day before sees the hour before midnight, from its start (counters from zero).
    const before = buildDailySummary(reader, utcDay(D0 - 1), D0 + 4 * H);
    expect(before.complete).toBe(true);
    expect(before.health_ms).toEqual({ STARTING: 60_000, OK: H - 60_000, DEGRADED: 0, FAILED: 0 });
    expect(before.counters?.per_symbol.BTCUSDT?.partition.windows_processed).toBe(3_000);
    expect(before.counters?.per_symbol.BTCUSDT?.oi_expected).toBe(Math.floor((H - 1) / 5_000));
    reader.close(D0 + 4 * H, 'open');
  });
  it.each(DRIVERS)('reads one day of the audit table however long the store has run, and sums exactly what a read of every row sums [%s]', (driver) => {
    // Three runs over four days: one that ended two days before, one spanning two midnights (left
    // open: its last record is its end), one inside the middle day. Each writes health changes,
    // reconnects and counter samples at random times, amid promoted-event records with 2 KB payloads.
    let seed = 7;
    const rand = (): number => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
    const states = ['OK', 'DEGRADED', 'FAILED', 'OK'] as const;
    const path = join(tmp.dir, `long-${driver}.db`);
    const spans: [string, number, number, 'clean' | 'open'][] = [
      ['old', D0 - 50 * H, D0 - 40 * H, 'clean'],
      ['long', D0 - 30 * H, D0 + 30 * H, 'open'],
      ['inside', D0 + 5 * H, D0 + 7 * H, 'clean'],
    ];
    let written = 0;
    for (const [run, t0, t1, end] of spans) {
      const store = EventStore.open({ path, isRunAlive: () => true, driver }, t0);
      store.startRun(runStart(run, t0), t0);
      const a: AuditEnvelope[] = [];
      let seq = 0;
      let windows = 0;
      for (let t = t0 + 1_000; t < t1; t += Math.floor(rand() * 20 * M) + 1) {
        const k = rand();
        if (k < 0.1) a.push(env(run, ++seq, t, 'HEALTH_CHANGED', { state: states[Math.floor(rand() * 4)], detail: '' }));
        else if (k < 0.2) a.push(env(run, ++seq, t, rand() < 0.5 ? 'WS_CONNECTED' : 'WS_DISCONNECTED', { detail: '' }));
        else if (k < 0.4) a.push(env(run, ++seq, t, 'COUNTERS_SAMPLED', sample((windows += Math.floor(rand() * 3_000) + 2), seq, seq * 3, 0)));
        else a.push(env(run, ++seq, t, 'PEAK_PRESSURE_PROMOTED', { blob: 'x'.repeat(2_000) }));
      }
      written += a.length;
      store.persist({ audit: a }, t1);
      store.close(t1, end);
    }
    const every: SummaryAuditReader = {
      inDay: (store, _from, to) => store.auditRows({ untilMs: to, eventTypes: ['HEALTH_CHANGED', 'WS_CONNECTED', 'WS_DISCONNECTED', 'COUNTERS_SAMPLED'] }),
      before: () => [],
    };
    const reader = EventStore.open({ path, isRunAlive: () => true, driver }, D0 + 40 * H);
    expect(reader.status.driver).toBe(driver);
    const all = reader.auditRows();
    expect(all).toHaveLength(written);
    const read = { rows: 0 };
    const rowsOf = vi.spyOn(reader, 'auditRows');
    const lastOf = vi.spyOn(reader, 'lastAuditOfRun');
    for (const d of [-2, -1, 0, 1, 2]) {
      const dayN = utcDay(D0 + d * 24 * H);
      const from = D0 + d * 24 * H;
      const want = buildDailySummary(reader, dayN, D0 + 40 * H, every);
      rowsOf.mockClear();
      lastOf.mockClear();
      const got = buildDailySummary(reader, dayN, D0 + 40 * H, boundedAuditReader);
      expect(got).toEqual(want);
      read.rows = rowsOf.mock.results.reduce((n, r) => n + (r.value as unknown[]).length, 0) + lastOf.mock.results.filter((r) => r.value !== null).length;
      const dayRows = all.filter((a) => a.ts_ms >= from && a.ts_ms < from + 24 * H && a.event_type !== 'PEAK_PRESSURE_PROMOTED').length;
      // The day's rows of the four types, and at most three (health, stream, counters) per run before it.
      expect(read.rows).toBeLessThanOrEqual(dayRows + 3 * spans.length);
      expect(read.rows).toBeGreaterThanOrEqual(dayRows);
      if (d === 0) {
        expect(got.runs.map((r) => r.run_id)).toEqual(['long', 'inside']);
        expect(got.health_ms).not.toBeNull();
        expect(got.counters?.per_symbol.BTCUSDT?.partition.windows_processed).toBeGreaterThan(0);
      }
    }
    reader.close(D0 + 40 * H, 'open');
  });
});

describe('peak-pressure report', () => {
  beforeAll(() => ensureCliBuilt(), 180_000);

  it('prints the summary, keeps it as a row (a later report of the day replaces it), --json is the contract', () => {
    const p = join(tmp.dir, 'cli.db');
    const store = EventStore.open({ path: p, isRunAlive: () => false }, D0);
    store.startRun(runStart('c1', D0 + H), D0 + H);
    store.persist({ events }, D0 + 2 * H);
    store.close(D0 + 2 * H);
    const text = spawnSync(process.execPath, [CLI, 'report', '--day', day, '--db', p], { encoding: 'utf8' });
    expect(text.stderr).toBe('');
    expect(text.status).toBe(0);
    expect(text.stdout).toMatch(new RegExp(`^Daily summary ${day} \\(UTC\\)\\n`));
    expect(text.stdout).toContain(`Events: ${events.length}`);
    const json = spawnSync(process.execPath, [CLI, 'report', '--day', day, '--db', p, '--json'], { encoding: 'utf8' });
    expect(json.status).toBe(0);
    const s = DailySummarySchema.parse(JSON.parse(json.stdout));
    expect(s.events.total).toBe(events.length);
    expect(s.complete).toBe(true);
    const kept = EventStore.open({ path: p, readonly: true });
    expect(kept.dailySummary(day)).toEqual(s);
    expect(kept.select<{ n: number }>('SELECT count(*) AS n FROM daily_summaries')).toEqual([{ n: 1 }]);
    kept.close(0, 'open');
  });

  it('bad --day: one line, usage, exit 2; a missing store: exit 1', () => {
    for (const d of ['2024-02-30', '08/08/2024', 'tomorrow']) {
      const r = spawnSync(process.execPath, [CLI, 'report', '--day', d, '--db', join(tmp.dir, 'cli.db')], { encoding: 'utf8' });
      expect(r.status).toBe(2);
      expect(r.stderr.split('\n')[0]).toBe(`peak-pressure report: --day ${d}: expected YYYY-MM-DD (a UTC day), today or yesterday`);
      expect(r.stderr.split('\n')[1]).toBe('usage: peak-pressure report [options]');
    }
    const r = spawnSync(process.execPath, [CLI, 'report', '--db', join(tmp.dir, 'none.db')], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^peak-pressure report: no store at /);
  });
});
