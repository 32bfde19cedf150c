/**
 * Test helpers for the detection core: a factory of canonical events (each one validated by the
 * zod schemas in src/core/contracts/canonical.ts, so tests never feed the core something the
 * normalizer could not have produced), a seeded PRNG, and a baseline builder whose type-7
 * percentiles land exactly on round numbers.
 */
import {
  type LiquidationEvent,
  LiquidationEventSchema,
  type OpenInterestEvent,
  OpenInterestEventSchema,
  type TradeEvent,
  TradeEventSchema,
} from '../src/core/contracts/canonical';
import { PARTITION_KEYS, type PartitionKey } from '../src/core/contracts/counters';
import type { Side } from '../src/core/contracts/primitives';
import type { Snapshot } from '../src/core/contracts/snapshot';
import type { Engine } from '../src/core/engine';
import type { ClosedWindow } from '../src/core/symbol-detector';
import { liquidationEvent } from './builders';

export interface TradeSpec {
  symbol?: string;
  /** Exchange trade time T (ms). */
  ts: number;
  price: number;
  qty: number;
  side: Side;
  /** aggTrade id; by default the next consecutive id of the symbol. */
  id?: number;
  /** Local receipt time; defaults to ts (no skew). */
  recv?: number;
}

export interface LiquidationSpec {
  symbol?: string;
  /** Event time E (ms). */
  ts: number;
  side?: Side;
  price?: number;
  qty?: number;
  recv?: number;
}

export interface OiSpec {
  symbol?: string;
  /** Response `time` (ms). */
  ts: number;
  value: number;
  recv?: number;
}

/** Builds canonical events; keeps consecutive aggTrade ids per symbol like the exchange does. */
export class EventFactory {
  private readonly nextId = new Map<string, number>();

  constructor(readonly defaultSymbol = 'BTCUSDT') {}

  trade(s: TradeSpec): TradeEvent {
    const symbol = s.symbol ?? this.defaultSymbol;
    const id = s.id ?? this.nextId.get(symbol) ?? 1;
    this.nextId.set(symbol, Math.max(this.nextId.get(symbol) ?? 1, id + 1));
    return TradeEventSchema.parse({
      type: 'TRADE',
      symbol,
      ts_ms: s.ts,
      event_time_ms: s.ts + 5,
      recv_ms: s.recv ?? s.ts,
      id_kind: 'agg',
      agg_id: id,
      first_id: id * 10,
      last_id: id * 10,
      price: s.price,
      base_qty: s.qty,
      quote_qty: s.price * s.qty,
      side: s.side,
      // m == true → the buyer was the maker → the taker sold (SPEC §2.2).
      is_buyer_maker: s.side === 'SELL',
    });
  }

  liquidation(s: LiquidationSpec): LiquidationEvent {
    return LiquidationEventSchema.parse(
      liquidationEvent({
        symbol: s.symbol ?? this.defaultSymbol,
        ts: s.ts,
        orderTradeTs: s.ts - 3,
        recv: s.recv ?? s.ts,
        side: s.side ?? 'SELL',
        price: s.price ?? 93_000,
        qty: s.qty ?? 0.25,
      }),
    );
  }

  oi(s: OiSpec): OpenInterestEvent {
    return OpenInterestEventSchema.parse({
      type: 'OPEN_INTEREST',
      symbol: s.symbol ?? this.defaultSymbol,
      ts_ms: s.ts,
      recv_ms: s.recv ?? s.ts + 40,
      open_interest: s.value,
    });
  }
}

/** mulberry32: a tiny deterministic PRNG; same seed → same sequence on every run. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Records every closed window the engine reports (pass `rec.onWindow` as EngineOptions.onWindow). */
export class WindowRecorder {
  readonly windows: ClosedWindow[] = [];
  readonly onWindow = (w: ClosedWindow): void => {
    this.windows.push(w);
  };

  of(symbol: string, windowStartMs: number): ClosedWindow[] {
    return this.windows.filter((w) => w.symbol === symbol && w.window_start_ms === windowStartMs);
  }

  /** The single closed window of (symbol, start); fails loudly when absent or duplicated. */
  one(symbol: string, windowStartMs: number): ClosedWindow {
    const found = this.of(symbol, windowStartMs);
    if (found.length !== 1) throw new Error(`expected exactly one closed window ${symbol}@${windowStartMs}, got ${found.length}`);
    return found[0] as ClosedWindow;
  }
}

/**
 * The baseline of the SPEC §15 worked example: 60 non-empty windows whose NumPy type-7
 * percentiles are exactly P90(abs_flow) = 200 000 and P95(mean trade size) = 150 000.
 *
 * With n = 60: P90 uses h = 59·0.9 = 53.1 → x[53] + 0.1·(x[54] − x[53]) and P95 uses
 * h = 59·0.95 = 56.05 → y[56] + 0.05·(y[57] − y[56]); so it suffices that the sorted values at
 * 53 and 54 equal 200 000 and those at 56 and 57 equal 150 000. Notionals are price 100 000 ×
 * qty ∈ {1, 1.5, 2}, all exact in binary floating point.
 *
 *   51 windows: 1 trade of 100 000            → abs_flow 100 000, mean 100 000
 *    2 windows: 1 trade of 150 000            → abs_flow 150 000, mean 150 000
 *    5 windows: 2 trades of 100 000           → abs_flow 200 000, mean 100 000
 *    2 windows: 1 trade of 200 000            → abs_flow 200 000, mean 200 000
 *
 * Sorted abs_flow: 51×100k (0..50), 2×150k (51,52), 7×200k (53..59) → P90 = 200 000.
 * Sorted means:    56×100k (0..55), 2×150k (56,57), 2×200k (58,59)  → P95 = 150 000.
 * The kinds are interleaved so the ring order is not the sorted order.
 */
export const BASELINE_P90_ABS_FLOW = 200_000;
export const BASELINE_P95_TRADE_SIZE = 150_000;

/** Per-window trade quantities at price 100 000 (one entry per trade). */
export function standardBaselinePlan(): number[][] {
  const plan: number[][] = [];
  for (let i = 0; i < 51; i++) plan.push([1]);
  // Interleave the rarer kinds among the common ones.
  const special: number[][] = [[1.5], [1, 1], [2], [1, 1], [1.5], [1, 1], [2], [1, 1], [1, 1]];
  special.forEach((w, j) => plan.splice(3 + j * 6, 0, w));
  return plan;
}

export interface FeedOptions {
  symbol?: string;
  /** Also feed an OI poll (same value each time) every `oiEveryWindows` windows; 0 disables. */
  oiEveryWindows?: number;
  oiValue?: number;
  /** Called before each baseline window's trades are fed (e.g. to interleave liquidations in time order). */
  beforeWindow?: (k: number) => void;
}

/**
 * Feed the standard 60-window baseline into windows firstK … firstK+59 of `symbol` (trades in
 * the middle of each second, alternating sides), in time order. Only trades of this symbol are fed,
 * so the watermark ends at (firstK+59)·1000 + 500 + (trades−1)·100 and window firstK+59 is still open.
 */
export function feedStandardBaseline(engine: Engine, f: EventFactory, firstK: number, opts: FeedOptions = {}): void {
  const symbol = opts.symbol ?? f.defaultSymbol;
  const plan = standardBaselinePlan();
  plan.forEach((qtys, i) => {
    const k = firstK + i;
    opts.beforeWindow?.(k);
    if (opts.oiEveryWindows && i % opts.oiEveryWindows === 0) {
      engine.ingest(f.oi({ symbol, ts: k * 1000 + 100, value: opts.oiValue ?? 80_000 }));
    }
    qtys.forEach((q, j) => {
      engine.ingest(f.trade({ symbol, ts: k * 1000 + 500 + j * 100, price: 100_000, qty: q, side: (i + j) % 2 === 0 ? 'BUY' : 'SELL' }));
    });
  });
}

/** Sum of a detector's outcome counters, which must equal windows_processed (SPEC §6.1). */
export function partitionSum(c: Record<PartitionKey, number>): number {
  return PARTITION_KEYS.reduce((sum, k) => sum + c[k], 0);
}

/**
 * The snapshot's partition totals under their published names (two of them legacy), summed: must
 * equal `counters.windows_processed`. Spelled out here so the snapshot is checked independently of
 * the catalog SystemState builds it from.
 */
export function snapshotPartitionSum(c: Snapshot['counters']): number {
  return (
    c.empty_windows +
    c.baseline_not_warm +
    c.flow_surge_failed +
    c.large_trade_failed +
    c.compression_failed +
    c.dropped_events.missing_streams +
    c.stress_failed +
    c.peak_pressure_events
  );
}

/** Every object reachable from `o` is frozen. Returns the path of the first unfrozen one, or null. */
export function firstUnfrozen(o: unknown, path = '$', seen = new Set<unknown>()): string | null {
  if (typeof o !== 'object' || o === null || seen.has(o)) return null;
  seen.add(o);
  if (!Object.isFrozen(o)) return path;
  for (const [k, v] of Object.entries(o as Record<string, unknown>)) {
    const r = firstUnfrozen(v, `${path}.${k}`, seen);
    if (r !== null) return r;
  }
  return null;
}
