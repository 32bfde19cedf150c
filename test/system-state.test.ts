/**
 * SPEC §8.1 (double-buffered SystemState: deep-frozen active snapshot, no partial visibility),
 * §8.2 (legacy snapshot keys and types, raw buffers ≤500 trades / ≤200 liquidations per symbol,
 * oldest → newest), §8.3 (global counters = sums over symbols) and the UI trim to 20 rows.
 */
import { describe, expect, it } from 'vitest';
import { type Snapshot, SnapshotSchema } from '../src/core/contracts/snapshot';
import { Engine } from '../src/core/engine';
import { SYMBOL_COUNTER_NAMES } from '../src/core/contracts/counters';
import { displaySnapshot, SystemState } from '../src/core/system-state';
import { offWarmStartStatus } from '../src/core/warm-start';
import { EventFactory, feedStandardBaseline, firstUnfrozen, mulberry32, partitionSum } from './helpers';

function emptyProcess(): NonNullable<Snapshot['process']> {
  return {
    rss_bytes: 0,
    heap_used_bytes: 0,
    heap_total_bytes: 0,
    external_bytes: 0,
    array_buffers_bytes: 0,
    heap_live_bytes: null,
    heap_live_method: 'after_major_gc',
    heap_code_bytes: null,
    major_gcs: 0,
  };
}

const SYMBOLS = ['BTCUSDT', 'ETHUSDT', 'SOLUSDT'];
const T0 = 1_767_701_000_000;

function fresh(): { engine: Engine; state: SystemState; f: EventFactory } {
  const engine = new Engine({ symbols: SYMBOLS });
  return { engine, state: new SystemState(engine, 'run-42', 'REPLAY'), f: new EventFactory('BTCUSDT') };
}

/** A session with a promotion (the §15 example), liquidations and an OI poll on BTCUSDT. */
function busy(): { engine: Engine; state: SystemState; f: EventFactory } {
  const s = fresh();
  const K0 = T0 / 1000;
  const K = K0 + 60;
  feedStandardBaseline(s.engine, s.f, K0, {
    oiEveryWindows: 10,
    beforeWindow: (k) => {
      if (k === K - 25) s.engine.ingest(s.f.liquidation({ ts: k * 1000 + 1 }));
      if (k % 7 === 0) s.engine.ingest(s.f.trade({ symbol: 'ETHUSDT', ts: k * 1000 + 50, price: 3_100.25, qty: 1.5, side: 'SELL' }));
    },
  });
  s.engine.ingest(s.f.trade({ ts: K * 1000 + 100, price: 93_920, qty: 0.5, side: 'BUY' }));
  s.engine.ingest(s.f.trade({ ts: K * 1000 + 400, price: 93_921, qty: 2, side: 'SELL' }));
  s.engine.ingest(s.f.trade({ ts: K * 1000 + 900, price: 93_925, qty: 0.1, side: 'BUY' }));
  s.engine.advanceTo((K + 2) * 1000);
  expect(s.engine.promotions.length).toBe(1);
  return s;
}

describe('commit (SPEC §8.1)', () => {
  it('returns a deep-frozen snapshot that validates against SnapshotSchema', () => {
    const { state } = busy();
    const snap = state.commit(1_767_701_100_123);
    const parsed = SnapshotSchema.safeParse(snap);
    expect(parsed.success ? 'ok' : JSON.stringify(parsed.error.issues.slice(0, 3))).toBe('ok');
    expect(firstUnfrozen(snap)).toBeNull();
    expect(snap.promoted_events).toHaveLength(1);
    expect(state.active).toBe(snap);
    // Writes fail loudly (test modules run in strict mode).
    expect(() => {
      (snap.counters as { windows_processed: number }).windows_processed = 0;
    }).toThrow(TypeError);
    expect(() => {
      (snap.raw_buffers.trades.BTCUSDT as unknown[]).push({});
    }).toThrow(TypeError);
  });

  it('an empty engine commits a valid snapshot too', () => {
    const { state } = fresh();
    expect(state.active).toBeNull();
    const snap = state.commit(0);
    expect(SnapshotSchema.safeParse(snap).success).toBe(true);
    expect(snap.watermark_ms).toBeNull();
    expect(snap.counters.windows_processed).toBe(0);
    expect(snap.raw_buffers.trades).toEqual({ BTCUSDT: [], ETHUSDT: [], SOLUSDT: [] });
  });

  it('the previous snapshot is untouched by later ingestion and commits (no partial visibility)', () => {
    const { engine, state, f } = busy();
    const s1 = state.commit(1000);
    const json1 = JSON.stringify(s1);
    const w = engine.watermark as number;
    for (let i = 0; i < 50; i++) engine.ingest(f.trade({ ts: w + i * 100, price: 93_000 + i, qty: 0.3, side: 'BUY' }));
    engine.ingest(f.liquidation({ ts: w + 5_000 }));
    engine.ingest(f.oi({ ts: w + 5_000, value: 123_456 }));
    // Staging moved on, the committed snapshot did not.
    expect(JSON.stringify(s1)).toBe(json1);
    expect(state.active).toBe(s1);
    const s2 = state.commit(2000);
    expect(JSON.stringify(s1)).toBe(json1);
    expect(state.active).toBe(s2);
    expect(s2).not.toBe(s1);
    expect(s2.watermark_ms).toBe(w + 5_000);
    expect(s2.counters.windows_processed).toBeGreaterThan(s1.counters.windows_processed);
    expect(s2.raw_buffers.trades.BTCUSDT?.length).toBe((s1.raw_buffers.trades.BTCUSDT?.length ?? 0) + 50);
    expect(s2.per_symbol.BTCUSDT?.last_oi).toBe(123_456);
    expect(s1.per_symbol.BTCUSDT?.last_oi).not.toBe(123_456);
  });

  it('per-symbol counters in the snapshot are copies, not live views of the detector', () => {
    const { engine, state, f } = busy();
    const s1 = state.commit(0);
    const before = s1.per_symbol.BTCUSDT?.counters.trades;
    engine.ingest(f.trade({ ts: (engine.watermark as number) + 10, price: 1, qty: 1, side: 'BUY' }));
    expect(s1.per_symbol.BTCUSDT?.counters.trades).toBe(before);
    expect(engine.detector('BTCUSDT')?.counters.trades).toBe((before ?? 0) + 1);
  });

  it('committing never freezes the staging side the owner keeps writing', () => {
    const { state } = fresh();
    state.ops.streams.per_stream['btcusdt@aggTrade'] = { state: 'FLOWING', last_msg_ms: 1, msgs: 1, silence_limit_ms: 5_000 };
    state.ops.health_reasons.push('OI_STALE');
    const s1 = state.commit(0);
    // The owner updates its staging in place after a commit …
    const entry = state.ops.streams.per_stream['btcusdt@aggTrade'];
    expect(entry).toBeDefined();
    expect(Object.isFrozen(entry)).toBe(false);
    expect(Object.isFrozen(state.ops.streams)).toBe(false);
    expect(Object.isFrozen(state.ops.oi_polling)).toBe(false);
    expect(Object.isFrozen(state.ops.health_reasons)).toBe(false);
    if (entry) entry.msgs = 2;
    state.ops.health_reasons.length = 0;
    // … without reaching into the published snapshot.
    expect(s1.streams.per_stream['btcusdt@aggTrade']?.msgs).toBe(1);
    expect(s1.health_reasons).toEqual(['OI_STALE']);
    const s2 = state.commit(1);
    expect(s2.streams.per_stream['btcusdt@aggTrade']?.msgs).toBe(2);
    expect(s2.health_reasons).toEqual([]);
  });

  it('every section copied from the staging says what the staging says, in its key order, reused only while unchanged', () => {
    // The commit compares the staging with its previous frozen copies and copies only what changed
    // (a spread per section per commit was most of its cost): a reference deep copy checks it.
    const engine = new Engine({ symbols: SYMBOLS });
    const warm = offWarmStartStatus();
    const state = new SystemState(engine, 'run-7', 'LIVE_PEAK_PRESSURE', { warmStart: warm });
    const ops = state.ops;
    const rnd = mulberry32(77);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)] as T;
    const sections = (x: Snapshot): unknown => ({
      ingestion_health: x.ingestion_health,
      oi_polling: x.oi_polling,
      streams: x.streams,
      dead_letter_stats: x.dead_letter_stats,
      process: x.process,
      storage: x.storage,
      warm_start: x.warm_start,
      health_reasons: x.health_reasons,
    });
    const expected = (): unknown =>
      structuredClone({
        ingestion_health: {
          ...ops.rates,
          degraded: ops.health_state === 'DEGRADED' || ops.health_state === 'FAILED',
          degraded_reason: ops.health_reasons.join(';'),
        },
        oi_polling: ops.oi_polling,
        streams: ops.streams,
        dead_letter_stats: ops.dead_letter_stats,
        process: ops.process,
        storage: ops.storage,
        warm_start: warm,
        health_reasons: ops.health_reasons,
      });
    /** Keys in order, recursively: the snapshot's JSON must not change shape. */
    const keyPaths = (o: unknown, path = ''): string[] =>
      typeof o !== 'object' || o === null ? [] : Object.entries(o).flatMap(([k, v]) => [`${path}.${k}`, ...keyPaths(v, `${path}.${k}`)]);
    const edits: (() => void)[] = [
      () => (ops.rates.trades_rate = pick([0, 1.5, 3])),
      () => (ops.health_state = pick(['OK', 'DEGRADED', 'FAILED'] as const)),
      () => (ops.health_reasons.length === 0 ? ops.health_reasons.push(pick(['OI_STALE', 'WS_STALE'] as const)) : ops.health_reasons.pop()),
      () => (ops.oi_polling.errors += pick([0, 1])),
      () => (ops.oi_polling.last_error = pick([null, 'HTTP 429'])),
      () => (ops.streams.reconnects += 1),
      () => {
        const k = pick(['btcusdt@aggTrade', 'ethusdt@aggTrade', '!forceOrder@arr']);
        const e = ops.streams.per_stream[k];
        if (e === undefined) ops.streams.per_stream[k] = { state: 'FLOWING', last_msg_ms: 1, msgs: 1, silence_limit_ms: 5_000 };
        else if (rnd() < 0.2) delete ops.streams.per_stream[k];
        else e.msgs += 1;
      },
      () => (ops.dead_letter_stats.accepted += 1),
      () => (ops.process = rnd() < 0.3 ? null : { ...emptyProcess(), rss_bytes: Math.floor(rnd() * 1e9) }),
      () => {
        warm.state = pick(['OFF', 'RUNNING', 'DONE'] as const);
        warm.pages += 1;
      },
      () => (warm.backfilled = rnd() < 0.5 ? [] : ['BTCUSDT', ...(rnd() < 0.5 ? ['ETHUSDT'] : [])]),
      () => {
        if (rnd() < 0.5) warm.failed = {};
        else warm.failed[pick(SYMBOLS)] = { reason: 'timeout', detail: pick(['a', 'b']) };
      },
    ];
    let prev = state.commit(0);
    let reused = 0;
    for (let i = 1; i <= 600; i++) {
      const before = JSON.stringify(expected());
      if (rnd() < 0.7) pick(edits)();
      const changed = JSON.stringify(expected()) !== before;
      const snap = state.commit(i);
      expect(sections(snap)).toEqual(expected());
      expect(keyPaths(sections(snap))).toEqual(keyPaths(expected()));
      expect(firstUnfrozen(snap)).toBeNull();
      if (!changed) {
        // Nothing in the staging changed: every section is the previous snapshot's own copy.
        expect(snap.oi_polling).toBe(prev.oi_polling);
        expect(snap.streams).toBe(prev.streams);
        expect(snap.warm_start).toBe(prev.warm_start);
        expect(snap.ingestion_health).toBe(prev.ingestion_health);
        reused++;
      }
      prev = snap;
    }
    expect(reused).toBeGreaterThan(100);
    // The staging itself is never frozen by a commit.
    expect(Object.isFrozen(ops.streams) || Object.isFrozen(ops.oi_polling) || Object.isFrozen(warm) || Object.isFrozen(warm.failed)).toBe(false);
  });

  it("per-symbol counters are a full copy in the catalog's order", () => {
    const { engine, state } = busy();
    const snap = state.commit(0);
    for (const d of engine.detectorsInRankOrder) {
      const c = snap.per_symbol[d.symbol]?.counters;
      expect(c).toEqual(d.counters);
      expect(Object.keys(c ?? {})).toEqual(SYMBOL_COUNTER_NAMES);
      expect(c).not.toBe(d.counters);
    }
  });

  it('snapshot_seq increments by one per commit', () => {
    const { state, engine, f } = fresh();
    expect(state.commit(0).snapshot_seq).toBe(1);
    expect(state.commit(0).snapshot_seq).toBe(2);
    engine.ingest(f.trade({ ts: T0, price: 1, qty: 1, side: 'BUY' }));
    expect(state.commit(0).snapshot_seq).toBe(3);
  });
});

describe('raw buffers (SPEC §8.2)', () => {
  it('hold at most 500 trades per symbol, oldest → newest', () => {
    const { engine, state, f } = fresh();
    for (let i = 0; i < 600; i++) engine.ingest(f.trade({ ts: T0 + i * 10, price: 100 + i, qty: 1, side: i % 2 ? 'BUY' : 'SELL' }));
    const rows = state.commit(0).raw_buffers.trades.BTCUSDT ?? [];
    expect(rows).toHaveLength(500);
    expect(rows[0]?.price).toBe(200); // trades 0..99 evicted
    expect(rows[499]?.price).toBe(699);
    expect(rows[0]?.timestamp).toBe((T0 + 1000) / 1000);
    for (let i = 1; i < rows.length; i++) expect((rows[i]?.timestamp ?? 0) > (rows[i - 1]?.timestamp ?? 0)).toBe(true);
  });

  it('hold at most 200 liquidations per symbol, oldest → newest', () => {
    const { engine, state, f } = fresh();
    for (let i = 0; i < 250; i++) engine.ingest(f.liquidation({ ts: T0 + i * 1000, price: 50_000 + i, qty: 0.5 }));
    const rows = state.commit(0).raw_buffers.liquidations.BTCUSDT ?? [];
    expect(rows).toHaveLength(200);
    expect(rows[0]?.price).toBe(50_050);
    expect(rows[199]?.price).toBe(50_249);
    expect(rows.map((r) => r.timestamp)).toEqual(Array.from({ length: 200 }, (_, i) => (T0 + (i + 50) * 1000) / 1000));
  });

  it('rows carry the legacy fields: exchange timestamp (float s), symbol, price, base_qty, quote_qty, side', () => {
    const { engine, state, f } = fresh();
    engine.ingest(f.trade({ ts: T0 + 123, price: 93_921, qty: 2, side: 'SELL' }));
    engine.ingest(f.liquidation({ ts: T0 + 456, price: 90_000, qty: 0.25, side: 'BUY' }));
    const s = state.commit(0);
    expect(s.raw_buffers.trades.BTCUSDT).toEqual([
      { timestamp: 1_767_701_000.123, symbol: 'BTCUSDT', price: 93_921, base_qty: 2, quote_qty: 187_842, side: 'SELL' },
    ]);
    expect(s.raw_buffers.liquidations.BTCUSDT).toEqual([
      { timestamp: 1_767_701_000.456, symbol: 'BTCUSDT', price: 90_000, base_qty: 0.25, quote_qty: 22_500, side: 'BUY' },
    ]);
  });

  it('unchanged arrays are reused by reference between commits; a changed one is rebuilt', () => {
    const { engine, state, f } = busy();
    const s1 = state.commit(0);
    const s2 = state.commit(1);
    for (const sym of SYMBOLS) {
      expect(s2.raw_buffers.trades[sym]).toBe(s1.raw_buffers.trades[sym]);
      expect(s2.raw_buffers.liquidations[sym]).toBe(s1.raw_buffers.liquidations[sym]);
    }
    expect(s2.promoted_events).toBe(s1.promoted_events);

    engine.ingest(f.trade({ symbol: 'ETHUSDT', ts: (engine.watermark as number) + 1, price: 3_000, qty: 1, side: 'BUY' }));
    const s3 = state.commit(2);
    expect(s3.raw_buffers.trades.ETHUSDT).not.toBe(s2.raw_buffers.trades.ETHUSDT);
    expect(s3.raw_buffers.trades.ETHUSDT?.length).toBe((s2.raw_buffers.trades.ETHUSDT?.length ?? 0) + 1);
    expect(s3.raw_buffers.trades.BTCUSDT).toBe(s2.raw_buffers.trades.BTCUSDT);
    expect(s3.raw_buffers.trades.SOLUSDT).toBe(s2.raw_buffers.trades.SOLUSDT);
    expect(s3.raw_buffers.liquidations.BTCUSDT).toBe(s2.raw_buffers.liquidations.BTCUSDT);
    expect(s3.promoted_events).toBe(s2.promoted_events);
    // Rows themselves are shared (immutable), never copied.
    expect(s3.raw_buffers.trades.ETHUSDT?.[0]).toBe(s2.raw_buffers.trades.ETHUSDT?.[0]);
  });

  it('a new promotion rebuilds promoted_events; older snapshots keep their list', () => {
    const { engine, state } = busy();
    const s1 = state.commit(0);
    expect(s1.promoted_events.map((e) => e.event_id)).toEqual([`BTCUSDT-${T0 + 60_000}`]);
    // Same engine: a second promotable window (same trades, liquidation still retained).
    const K = (engine.watermark as number) / 1000;
    const f2 = new EventFactory('BTCUSDT');
    engine.ingest(f2.trade({ ts: K * 1000 + 100, id: 100_000, price: 93_920, qty: 1.5, side: 'BUY' }));
    engine.ingest(f2.trade({ ts: K * 1000 + 400, price: 93_921, qty: 3, side: 'SELL' }));
    engine.ingest(f2.trade({ ts: K * 1000 + 900, price: 93_925, qty: 0.1, side: 'BUY' }));
    engine.advanceTo((K + 2) * 1000);
    const s2 = state.commit(1);
    expect(s2.promoted_events).not.toBe(s1.promoted_events);
    expect(s2.promoted_events.map((e) => e.event_id)).toEqual([`BTCUSDT-${T0 + 60_000}`, `BTCUSDT-${K * 1000}`]);
    expect(s1.promoted_events).toHaveLength(1);
    expect(s2.promoted_events[0]).toBe(s1.promoted_events[0]);
  });
});

describe('legacy keys and counters (SPEC §8.2, §8.3)', () => {
  it('keeps the legacy keys with the legacy types', () => {
    const { state } = busy();
    const s = state.commit(1_767_701_877_353.9412);
    expect(s.timestamp).toBeCloseTo(1_767_701_877.3539412, 6);
    expect(s.symbols_active).toEqual(SYMBOLS);
    expect(Object.keys(s.ingestion_health).sort()).toEqual(
      ['degraded', 'degraded_reason', 'klines_rate', 'liquidations_rate', 'oi_rate', 'trades_rate'].sort(),
    );
    for (const k of ['trades_rate', 'liquidations_rate', 'klines_rate', 'oi_rate'] as const) expect(typeof s.ingestion_health[k]).toBe('number');
    expect(typeof s.ingestion_health.degraded).toBe('boolean');
    expect(typeof s.ingestion_health.degraded_reason).toBe('string');
    expect(s.baseline_status).toEqual({ ready_symbols: 1, total_symbols: 3 });
    expect(Number.isInteger(s.counters.windows_processed)).toBe(true);
    expect(Number.isInteger(s.counters.peak_pressure_events)).toBe(true);
    expect(Object.keys(s.counters.dropped_events).sort()).toEqual(['baseline_not_ready', 'missing_streams', 'symbol_not_allowed', 'window_not_closed']);
    for (const v of Object.values(s.counters.dropped_events)) expect(Number.isInteger(v)).toBe(true);
    expect(Object.keys(s.raw_buffers).sort()).toEqual(['liquidations', 'trades']);
    expect(Object.keys(s.raw_buffers.trades)).toEqual(SYMBOLS);
    expect(Object.keys(s.raw_buffers.liquidations)).toEqual(SYMBOLS);
    expect(Array.isArray(s.promoted_events)).toBe(true);
    expect(s.promoted_events[0]?.timestamp).toBe((T0 + 61_000) / 1000);
  });

  it('global counters are the sums of the per-symbol counters', () => {
    const { engine, state, f } = busy();
    engine.ingest(f.trade({ symbol: 'DOGEUSDT', ts: (engine.watermark as number) + 1, price: 0.3, qty: 10, side: 'BUY' }));
    const s = state.commit(0);
    const per = Object.values(s.per_symbol).map((p) => p.counters);
    const sum = (k: keyof (typeof per)[number]): number => per.reduce((a, c) => a + c[k], 0);
    expect(s.counters.windows_processed).toBe(sum('windows_processed'));
    expect(s.counters.peak_pressure_events).toBe(sum('peak_pressure_count'));
    expect(s.counters.peak_pressure_events).toBe(1);
    expect(s.counters.dropped_events.baseline_not_ready).toBe(sum('baseline_not_warm'));
    expect(s.counters.dropped_events.window_not_closed).toBe(sum('window_not_closed'));
    expect(s.counters.dropped_events.missing_streams).toBe(sum('missing_streams'));
    expect(s.counters.dropped_events.symbol_not_allowed).toBe(1);
    expect(s.counters.empty_windows).toBe(sum('empty_windows'));
    expect(s.counters.flow_surge_failed).toBe(sum('flow_surge_failed'));
    for (const p of per) expect(p.windows_processed).toBe(partitionSum(p));
    // All three symbols closed the same windows on the global watermark.
    expect(new Set(per.map((p) => p.windows_processed)).size).toBe(1);
    expect(s.per_symbol.BTCUSDT?.warm).toBe(true);
    expect(s.per_symbol.ETHUSDT?.warm).toBe(false);
    expect(s.per_symbol.BTCUSDT?.p90_abs_flow).not.toBeNull();
    expect(s.per_symbol.SOLUSDT?.p90_abs_flow).toBeNull();
    expect(s.per_symbol.BTCUSDT?.rank).toBe(1);
    expect(s.per_symbol.SOLUSDT?.rank).toBe(3);
  });

  it('records the rule set and its constants', () => {
    const s = fresh().state.commit(0);
    expect(s.rule_set.id).toBe('peak-pressure-m3');
    expect(s.rule_set.version).toBe(1);
    expect(s.rule_set.constants).toMatchObject({
      WINDOW_MS: 1000,
      GRACE_MS: 1000,
      BASELINE_WINDOWS: 60,
      FLOW_PERCENTILE: 90,
      TRADE_SIZE_PERCENTILE: 95,
      COMPRESSION_MAX_BODY_RATIO: 0.3,
      EXPANSION_MIN_BODY_RATIO: 0.7,
      LIQUIDATION_RETENTION_MS: 60_000,
      OI_STALE_MS: 10_000,
    });
  });
});

describe('displaySnapshot', () => {
  it('trims every raw table to the newest 20 rows per symbol and leaves the source intact', () => {
    const { engine, state, f } = fresh();
    for (let i = 0; i < 45; i++) engine.ingest(f.trade({ ts: T0 + i, price: 100 + i, qty: 1, side: 'BUY' }));
    for (let i = 0; i < 7; i++) engine.ingest(f.trade({ symbol: 'ETHUSDT', ts: T0 + 100 + i, price: 10 + i, qty: 1, side: 'SELL' }));
    for (let i = 0; i < 30; i++) engine.ingest(f.liquidation({ symbol: 'SOLUSDT', ts: T0 + 200 + i, price: 180 + i }));
    const s: Snapshot = state.commit(0);
    const d = displaySnapshot(s);
    expect(d.raw_buffers.trades.BTCUSDT?.map((r) => r.price)).toEqual(Array.from({ length: 20 }, (_, i) => 125 + i));
    expect(d.raw_buffers.trades.ETHUSDT).toBe(s.raw_buffers.trades.ETHUSDT); // ≤ 20: shared
    expect(d.raw_buffers.trades.ETHUSDT).toHaveLength(7);
    expect(d.raw_buffers.liquidations.SOLUSDT?.map((r) => r.price)).toEqual(Array.from({ length: 20 }, (_, i) => 190 + i));
    expect(s.raw_buffers.trades.BTCUSDT).toHaveLength(45);
    expect(s.raw_buffers.liquidations.SOLUSDT).toHaveLength(30);
    expect(d.counters).toBe(s.counters);
    expect(d.snapshot_seq).toBe(s.snapshot_seq);
    expect(displaySnapshot(s, 5).raw_buffers.trades.BTCUSDT?.map((r) => r.price)).toEqual([140, 141, 142, 143, 144]);
    expect(SnapshotSchema.safeParse(d).success).toBe(true);
  });
});
