/**
 * Everything one symbol owns: open windows, the two baselines, the liquidation retention buffer,
 * OI attribution, counters and raw display rows. Nothing here is shared across symbols
 * (SPEC §4.2.7); every entry point asserts the event belongs to this symbol.
 */
import { Baseline } from './baseline';
import { LIMITS, RULES, RULE_SET_ID, RULE_SET_VERSION } from './constants';
import type { KlineEvent, LiquidationEvent, MarkPriceEvent, OpenInterestEvent, TradeEvent } from './contracts/canonical';
import type { PromotedEvent } from './contracts/promoted';
import { emptySymbolCounters, OUTCOME_COUNTERS, type SymbolCounters, type WindowOutcome } from './contracts/counters';
import type { RawRow } from './contracts/snapshot';
import type { KlineSource } from './contracts/vocabulary';
import { IdGaps } from './id-gaps';
import { LiquidationBuffer } from './liquidations';
import { type Baselines, judgeWindow, type StressEvidence, stressSources, type WindowEvidence } from './promotion';
import { RecentKeys } from './recent-keys';
import { Ring } from './ring';
import { type BodyShape, bodyShape, type Candle, WindowAccumulator, type WindowMetrics } from './window';

/** Thrown when an invariant that protects correctness breaks; the collector turns it into FAILED. */
export class InvariantError extends Error {
  constructor(
    readonly reason: 'SYMBOL_LEAK' | 'TIME_REGRESSION',
    message: string,
  ) {
    super(message);
    this.name = 'InvariantError';
  }
}

export interface ClosedWindow {
  symbol: string;
  window_start_ms: number;
  outcome: WindowOutcome;
  metrics: WindowMetrics | null;
  p90_abs_flow: number | null;
  p95_trade_size: number | null;
  large_trade_count: number;
  liq_count: number;
  oi_change_present: boolean;
  oi_delta: number;
  /** Inspection only, taken after the verdict: the largest trade notional (null for an empty window). */
  largest_trade: number | null;
  /** The candle shape condition 3 judged (null: not judged on one — cold baselines or a missing candle). */
  shape: BodyShape | null;
  /** Whether an OI poll vouched for "no change" at the window's end (condition 4's staleness test). */
  oi_fresh: boolean;
}

/** Recent OI poll times remembered for the staleness test; polls come every 5 s, so a few suffice. */
const OI_POLL_TIMES_KEPT = 64;

function decimals(x: number): number {
  const s = String(x);
  const dot = s.indexOf('.');
  return dot < 0 || s.includes('e') ? 0 : Math.min(8, s.length - dot - 1);
}

/**
 * What makes two liquidation frames the same liquidation. Built by join, not a template literal:
 * V8 keeps a template's result as a tree of its pieces (about 10 heap objects, ~360 bytes for
 * this key), join writes one flat string (~90 bytes). The detector keeps LIMITS.SEEN_LIQUIDATIONS
 * of them per symbol, a set that fills over hours at a market's rate: in the 24 h memory benchmark
 * it was the worker's largest grower (+500 KB between exchange hours 3 and 8).
 */
export function liquidationKey(l: LiquidationEvent): string {
  return [l.ts_ms, l.order_trade_time_ms, l.side, l.base_qty, l.price].join('|');
}

export class SymbolDetector {
  readonly counters: SymbolCounters = emptySymbolCounters();
  readonly flowHistory = new Baseline(RULES.BASELINE_WINDOWS);
  readonly sizeHistory = new Baseline(RULES.BASELINE_WINDOWS);
  readonly liquidations = new LiquidationBuffer(LIMITS.LIQUIDATION_BUFFER_CAP);
  readonly rawTrades = new Ring<RawRow>(LIMITS.RAW_TRADES_PER_SYMBOL);
  readonly rawLiquidations = new Ring<RawRow>(LIMITS.RAW_LIQUIDATIONS_PER_SYMBOL);

  /** Open windows by index; normally one or two because of the grace. */
  private readonly open = new Map<number, WindowAccumulator>();
  private readonly pool: WindowAccumulator[] = [];
  /** OI deltas waiting for their window to close, by window index. */
  private readonly pendingOi = new Map<number, number>();
  /** Closed exchange 1 s candles by window index (KLINE_SOURCE = exchange only). */
  private readonly exchangeCandles = new Map<number, Candle>();

  private readonly seenLiquidations = new Set<string>();
  private readonly seenLiquidationOrder: string[] = [];
  /** Keys of the last SEEN_TRADE_IDS accepted trades (agg ids even, raw trade ids odd). */
  private readonly seenIds = new RecentKeys(LIMITS.SEEN_TRADE_IDS);
  private maxTradeId = -1;
  /** The last aggregated trade id the warm start delivered: live aggTrades up to it are its duplicates. */
  backfillLastId: number | null = null;
  /** The warm start filled this symbol's baselines (its pre-live windows are backfilled windows). */
  backfilled = false;
  /**
   * How many of the baseline values came from backfilled windows. They are the oldest values, so
   * each live value appended to a full ring replaces one of them (SPEC §20 "warm (observed)").
   */
  backfilledValues = 0;
  /** Jumps in the id sequence, counted once late ids had their chance to fill them. */
  private readonly idGaps = new IdGaps(LIMITS.TRADE_ID_HOLE_WAIT_MS, LIMITS.TRADE_ID_HOLES);

  lastOi: number | null = null;
  lastOiMs: number | null = null;
  /**
   * Exchange times of recent successful OI polls, ascending. Staleness (SPEC §6.4) asks whether a
   * poll landed within the 10 s *before* a window's end, which the newest poll alone cannot answer
   * once a later poll has arrived; pruned as windows close.
   */
  private readonly oiPollTimes: number[] = [];
  lastTradeMs: number | null = null;
  lastPrice: number | null = null;
  markPrice: number | null = null;
  private priceDecimals = 0;
  private qtyDecimals = 0;

  constructor(
    readonly symbol: string,
    readonly rank: number,
    private readonly klineSource: KlineSource,
  ) {}

  get warm(): boolean {
    return this.flowHistory.full && this.sizeHistory.full;
  }

  private assertMine(symbol: string): void {
    if (symbol !== this.symbol) {
      throw new InvariantError('SYMBOL_LEAK', `event for ${symbol} reached the ${this.symbol} detector; per-symbol isolation is broken`);
    }
  }

  /**
   * Returns false (and counts) when the trade is a duplicate of one already seen, or a live copy of
   * a trade the warm start delivered (`fromHistory` is true for the backfilled trades themselves).
   */
  acceptTradeId(t: TradeEvent, fromHistory = false): boolean {
    this.assertMine(t.symbol);
    if (!fromHistory && this.backfillLastId !== null && t.id_kind === 'agg' && t.agg_id <= this.backfillLastId) {
      this.counters.backfill_duplicates++;
      return false;
    }
    const key = t.id_kind === 'agg' ? t.agg_id * 2 : t.agg_id * 2 + 1;
    if (!this.seenIds.add(key)) {
      this.counters.duplicate_trades++;
      return false;
    }
    // Trade ids are consecutive per symbol; a jump is a gap unless the missing ids arrive late.
    this.idGaps.observe(t.agg_id, t.recv_ms);
    this.counters.trade_id_gaps = this.idGaps.confirmed;
    return true;
  }

  /** Display precision guessed from the first trades, for replays without exchangeInfo. */
  inferredPrecision(): { price: number; qty: number } {
    return { price: Math.max(2, this.priceDecimals), qty: this.qtyDecimals };
  }

  recordTradeRow(t: TradeEvent): void {
    this.counters.trades++;
    if (this.counters.trades <= 256) {
      this.priceDecimals = Math.max(this.priceDecimals, decimals(t.price));
      this.qtyDecimals = Math.max(this.qtyDecimals, decimals(t.base_qty));
    }
    this.lastTradeMs = t.ts_ms;
    this.lastPrice = t.price;
    this.rawTrades.push(
      Object.freeze({ timestamp: t.ts_ms / 1000, symbol: t.symbol, price: t.price, base_qty: t.base_qty, quote_qty: t.quote_qty, side: t.side }),
    );
  }

  addTrade(k: number, t: TradeEvent): void {
    let acc = this.open.get(k);
    if (acc === undefined) {
      acc = (this.pool.pop() ?? new WindowAccumulator()).reset(k);
      this.open.set(k, acc);
    }
    acc.add(t);
  }

  /**
   * Returns false (and counts) for a liquidation already received: during a make-before-break
   * rotation both connections deliver the same frames for an instant.
   */
  addLiquidation(l: LiquidationEvent): boolean {
    this.assertMine(l.symbol);
    const key = liquidationKey(l);
    if (this.seenLiquidations.has(key)) {
      this.counters.duplicate_liquidations++;
      return false;
    }
    this.seenLiquidations.add(key);
    this.seenLiquidationOrder.push(key);
    if (this.seenLiquidationOrder.length > LIMITS.SEEN_LIQUIDATIONS) this.seenLiquidations.delete(this.seenLiquidationOrder.shift() as string);
    this.counters.liquidations++;
    this.liquidations.insert(l.ts_ms);
    this.counters.liquidation_buffer_evictions = this.liquidations.evictions;
    this.rawLiquidations.push(
      Object.freeze({ timestamp: l.ts_ms / 1000, symbol: l.symbol, price: l.price, base_qty: l.base_qty, quote_qty: l.quote_qty, side: l.side }),
    );
    return true;
  }

  /** An exchange kline for window k; only closed 1 s candles matter, and only in exchange mode. */
  addKline(k: number, kl: KlineEvent): void {
    this.assertMine(kl.symbol);
    if (this.klineSource !== 'exchange' || kl.interval !== '1s' || !kl.closed) return;
    this.counters.klines++;
    this.exchangeCandles.set(k, { open: kl.open, high: kl.high, low: kl.low, close: kl.close });
  }

  setMarkPrice(m: MarkPriceEvent): void {
    this.assertMine(m.symbol);
    this.counters.mark_prices++;
    this.markPrice = m.mark_price;
  }

  /**
   * An OI poll (SPEC §7.4): a change against the previous value is attributed to the window of
   * the response time, or to the earliest still-open window when that one already closed.
   */
  addOpenInterest(oi: OpenInterestEvent, firstOpenWindow: number | null): void {
    this.assertMine(oi.symbol);
    this.counters.oi_polls++;
    if (this.lastOi !== null && oi.open_interest !== this.lastOi) {
      let k = Math.floor(oi.ts_ms / RULES.WINDOW_MS);
      if (firstOpenWindow !== null && k < firstOpenWindow) {
        k = firstOpenWindow;
        this.counters.oi_changes_carried_forward++;
      }
      this.counters.oi_changes++;
      this.pendingOi.set(k, (this.pendingOi.get(k) ?? 0) + (oi.open_interest - this.lastOi));
    }
    this.lastOi = oi.open_interest;
    if (this.lastOiMs === null || oi.ts_ms > this.lastOiMs) this.lastOiMs = oi.ts_ms;
    const times = this.oiPollTimes;
    let i = times.length;
    while (i > 0 && (times[i - 1] as number) > oi.ts_ms) i--;
    times.splice(i, 0, oi.ts_ms);
    if (times.length > OI_POLL_TIMES_KEPT) times.shift();
  }

  /** Indices of open windows below `before`, ascending (used by the gap rule). */
  openWindowsBelow(before: number): number[] {
    const out: number[] = [];
    for (const k of this.open.keys()) if (k < before) out.push(k);
    return out.sort((a, b) => a - b);
  }

  /** Forget attribution state of windows that will never be evaluated (gap rule). */
  discardBelow(before: number): void {
    for (const k of this.pendingOi.keys()) if (k < before) this.pendingOi.delete(k);
    for (const k of this.exchangeCandles.keys()) if (k < before) this.exchangeCandles.delete(k);
  }

  /**
   * Close window k: count it, judge it if it had trades (promotion.ts), append it to the
   * baselines. Returns the promoted event, if any; `onWindow` sees every closed window.
   */
  closeWindow(k: number, watermark: number, onWindow?: (w: ClosedWindow) => void): PromotedEvent | null {
    const startMs = k * RULES.WINDOW_MS;
    const endMs = startMs + RULES.WINDOW_MS;
    this.counters.windows_processed++;
    this.pruneForWindowEnd(endMs);
    const oiDelta = takeEntry(this.pendingOi, k);
    const exchangeCandle = takeEntry(this.exchangeCandles, k);
    const acc = this.open.get(k);
    if (acc === undefined || acc.count === 0) {
      if (acc !== undefined) this.release(acc);
      this.counters[OUTCOME_COUNTERS.empty]++;
      onWindow?.(this.report(startMs, 'empty', null, null, oiDelta, null));
      return null;
    }
    const m = acc.metrics();
    if (this.klineSource === 'synthetic') this.counters.klines++;
    const inputs = this.gather(acc, m, exchangeCandle, endMs, oiDelta !== undefined);
    const outcome = judgeWindow(inputs.window, inputs.baselines, inputs.stress);
    this.counters[OUTCOME_COUNTERS[outcome]]++;
    const promoted = outcome === 'promoted' ? this.promotedEvent(startMs, m, inputs, oiDelta ?? 0, watermark) : null;
    // Appended after judging: the window never raises its own bar (SPEC §5.1).
    if (this.backfilledValues > 0 && this.flowHistory.full) this.backfilledValues--;
    this.flowHistory.push(m.abs_flow);
    this.sizeHistory.push(m.mean_trade_size);
    onWindow?.(this.report(startMs, outcome, m, inputs, oiDelta, acc));
    this.release(acc);
    return promoted;
  }

  /**
   * Close window k of the warm start's backfill (SPEC §20): its values go into the baselines, and
   * nothing else happens — REST history has no liquidations or per-second OI, so the window cannot
   * be judged, and it stays out of windows_processed and its partition.
   */
  closeBackfilledWindow(k: number): void {
    this.counters.backfilled_windows++;
    this.pruneForWindowEnd(k * RULES.WINDOW_MS + RULES.WINDOW_MS);
    this.pendingOi.delete(k);
    this.exchangeCandles.delete(k);
    const acc = this.open.get(k);
    if (acc === undefined) return;
    if (acc.count > 0) {
      const m = acc.metrics();
      this.flowHistory.push(m.abs_flow);
      this.sizeHistory.push(m.mean_trade_size);
      this.backfilledValues = Math.min(this.flowHistory.capacity, this.backfilledValues + 1);
    }
    this.release(acc);
  }

  /**
   * An empty window before the live stream of a symbol the warm start could not fill (its pages
   * were not used) is no window of this run: a cold start begins where the stream does. Returns
   * false, touching nothing, when the window holds trades (a live one, to be closed as usual).
   */
  discardEmptyWindow(k: number): boolean {
    const acc = this.open.get(k);
    if (acc !== undefined && acc.count > 0) return false;
    this.pruneForWindowEnd(k * RULES.WINDOW_MS + RULES.WINDOW_MS);
    this.pendingOi.delete(k);
    this.exchangeCandles.delete(k);
    if (acc !== undefined) this.release(acc);
    return true;
  }

  /** Retention as of a window's end: liquidations past 60 s, OI polls too old to vouch for it. */
  private pruneForWindowEnd(endMs: number): void {
    this.liquidations.pruneAtOrBefore(endMs - RULES.LIQUIDATION_RETENTION_MS);
    // Windows of a symbol close in ascending order, so polls older than this end's horizon are done.
    const oiTimes = this.oiPollTimes;
    while (oiTimes.length > 0 && (oiTimes[0] as number) < endMs - RULES.OI_STALE_MS) oiTimes.shift();
  }

  /** Fresh ⇔ some poll with end − OI_STALE_MS ≤ time ≤ end (older ones are pruned; polls after the end do not count). */
  private oiFreshAt(endMs: number): boolean {
    const oiTimes = this.oiPollTimes;
    return oiTimes.length > 0 && (oiTimes[0] as number) <= endMs;
  }

  /** What judgeWindow needs. A window closed before the baselines are warm is judged on that alone. */
  private gather(acc: WindowAccumulator, m: WindowMetrics, exchangeCandle: Candle | undefined, endMs: number, oiChange: boolean): JudgeInputs {
    if (!this.warm) {
      return {
        baselines: null,
        window: { abs_flow: m.abs_flow, large_trade_count: 0, shape: null },
        stress: { liq_count: 0, oi_change: oiChange, oi_fresh: false },
      };
    }
    const p95 = this.sizeHistory.percentile(RULES.TRADE_SIZE_PERCENTILE) as number;
    const candle = this.klineSource === 'synthetic' ? m : exchangeCandle;
    return {
      baselines: { p90_abs_flow: this.flowHistory.percentile(RULES.FLOW_PERCENTILE) as number, p95_trade_size: p95 },
      window: {
        abs_flow: m.abs_flow,
        large_trade_count: acc.countAtLeast(p95),
        shape: candle === undefined ? null : bodyShape(candle, RULES.COMPRESSION_MAX_BODY_RATIO, RULES.EXPANSION_MIN_BODY_RATIO),
      },
      stress: {
        liq_count: this.liquidations.countIn(endMs - RULES.LIQUIDATION_RETENTION_MS, endMs),
        oi_change: oiChange,
        oi_fresh: this.oiFreshAt(endMs),
      },
      candle,
    };
  }

  private promotedEvent(startMs: number, m: WindowMetrics, inputs: JudgeInputs, oiDelta: number, watermark: number): PromotedEvent {
    const { baselines: b, window: w, candle } = inputs;
    const shape = w.shape;
    if (b === null || candle === undefined || shape === null) {
      throw new Error(`${this.symbol}@${startMs}: promoted without warm baselines or a candle; judgeWindow and the detector disagree`);
    }
    const endMs = startMs + RULES.WINDOW_MS;
    return {
      event_id: `${this.symbol}-${startMs}`,
      symbol: this.symbol,
      timestamp: endMs / 1000,
      window_start_ms: startMs,
      window_end_ms: endMs,
      window_size: 1,
      dominant_side: m.net_aggression < 0 ? 'SELL' : 'BUY',
      stress_sources: stressSources(inputs.stress),
      metrics: {
        abs_flow: m.abs_flow,
        trade_count: m.trade_count,
        large_trade_count: w.large_trade_count,
        liq_count: inputs.stress.liq_count,
        compressed: shape.compressed,
        expanded: shape.expanded,
        body_ratio: shape.body_ratio,
        oi_delta: oiDelta,
        net_aggression: m.net_aggression,
        buy_notional: m.buy_notional,
        sell_notional: m.sell_notional,
        mean_trade_size: m.mean_trade_size,
        p90_abs_flow: b.p90_abs_flow,
        p95_trade_size: b.p95_trade_size,
        open: candle.open,
        high: candle.high,
        low: candle.low,
        close: candle.close,
        kline_source: this.klineSource,
        thresholds: {
          compression_max: RULES.COMPRESSION_MAX_BODY_RATIO,
          expansion_min: RULES.EXPANSION_MIN_BODY_RATIO,
          flow_percentile: RULES.FLOW_PERCENTILE,
          trade_size_percentile: RULES.TRADE_SIZE_PERCENTILE,
        },
      },
      rule_set: { id: RULE_SET_ID, version: RULE_SET_VERSION },
      closed_at_watermark_ms: watermark,
    };
  }

  /**
   * What `onWindow` is told about a closed window; `inputs` and `acc` are null for an empty one.
   * Built only when a hook listens (the optional call skips its arguments), after the verdict.
   */
  private report(
    startMs: number,
    outcome: WindowOutcome,
    m: WindowMetrics | null,
    inputs: JudgeInputs | null,
    oiDelta: number | undefined,
    acc: WindowAccumulator | null,
  ): ClosedWindow {
    return {
      symbol: this.symbol,
      window_start_ms: startMs,
      outcome,
      metrics: m,
      p90_abs_flow: inputs?.baselines?.p90_abs_flow ?? null,
      p95_trade_size: inputs?.baselines?.p95_trade_size ?? null,
      large_trade_count: inputs?.window.large_trade_count ?? 0,
      liq_count: inputs?.stress.liq_count ?? 0,
      oi_change_present: oiDelta !== undefined,
      oi_delta: oiDelta ?? 0,
      largest_trade: acc === null ? null : acc.maxNotional(),
      shape: inputs?.window.shape ?? null,
      oi_fresh: inputs?.stress.oi_fresh ?? false,
    };
  }

  private release(acc: WindowAccumulator): void {
    this.open.delete(acc.k);
    if (this.pool.length < 4) this.pool.push(acc.reset(0));
  }
}

/** The inputs of one judged window, and the candle it was judged on (for the event). */
interface JudgeInputs {
  baselines: Baselines | null;
  window: WindowEvidence;
  stress: StressEvidence;
  candle?: Candle | undefined;
}

/** Remove and return a map's entry for window k. */
function takeEntry<V>(map: Map<number, V>, k: number): V | undefined {
  const v = map.get(k);
  if (v !== undefined) map.delete(k);
  return v;
}
