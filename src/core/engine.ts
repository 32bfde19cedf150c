/**
 * The detection core: canonical events in, closed windows, promotions and counters out. Frames
 * reach it through the frame pipeline (./pipeline), which owns the adapter and the frame counters.
 *
 * Pure in the sense that matters for replay: no I/O, no clock, no globals, no randomness. Time is
 * the exchange-time watermark carried by the events themselves (SPEC §4.2.2), and the only local
 * time it looks at is each event's own `recv_ms` (for the future-tolerance check), which a capture
 * records. Live, replay, benchmarks and tests all drive this class, so one capture always yields
 * the same events, byte for byte.
 */
import { LIMITS, RULES } from './constants';
import type { CanonicalEvent, TradeEvent } from './contracts/canonical';
import type { PromotedEvent } from './contracts/promoted';
import { deepFreeze } from './freeze';
import { Ring } from './ring';
import type { KlineSource } from './contracts/vocabulary';
import type { DropReason } from './source';
import { type ClosedWindow, SymbolDetector } from './symbol-detector';

export interface EngineOptions {
  /** The allow-list, in rank order. Frozen for the engine's life. */
  symbols: readonly string[];
  klineSource?: KlineSource;
  /** Sees every closed window (tests, inspection). Keep it cheap: it runs on the hot path. */
  onWindow?: (w: ClosedWindow) => void;
}

export interface EngineCounters {
  /** Inputs for symbols outside the allow-list, and instruments of other markets dropped by the adapter. */
  symbol_not_allowed: number;
  gap_resets: number;
}

export function emptyEngineCounters(): EngineCounters {
  return { symbol_not_allowed: 0, gap_resets: 0 };
}

const NO_PROMOTIONS: readonly PromotedEvent[] = Object.freeze([]);

export class Engine {
  readonly symbols: readonly string[];
  private readonly detectors = new Map<string, SymbolDetector>();
  /** Detectors in rank order: windows close symbol by symbol in this order, deterministically. */
  private readonly ordered: SymbolDetector[];
  private readonly onWindow: ((w: ClosedWindow) => void) | undefined;
  private lastDetector: SymbolDetector | undefined = undefined;

  /** Exchange-time watermark: max accepted event time, never decreasing. Null before the first. */
  watermark: number | null = null;
  /** Windows with index below this are closed for every symbol. */
  firstOpenWindow: number | null = null;

  readonly counters: EngineCounters = emptyEngineCounters();
  /**
   * Windows below this index close as backfilled (SPEC §20): baselines only, never judged. −∞
   * without a warm start, so M3 runs exactly as before; +∞ while the backfill is fed, then the
   * window of the first live event.
   */
  private backfillBelow = Number.NEGATIVE_INFINITY;
  private backfilling = false;

  /** The newest promoted events, oldest → newest (SPEC §7.1: last 1000 in memory). */
  readonly promotions = new Ring<PromotedEvent>(LIMITS.PROMOTED_EVENTS_KEPT);
  private fresh: PromotedEvent[] = [];

  constructor(opts: EngineOptions) {
    if (opts.symbols.length === 0) throw new Error('Engine needs at least one allowed symbol');
    this.symbols = Object.freeze([...opts.symbols]);
    this.ordered = this.symbols.map((s, i) => new SymbolDetector(s, i + 1, opts.klineSource ?? RULES.KLINE_SOURCE));
    for (const d of this.ordered) this.detectors.set(d.symbol, d);
    this.onWindow = opts.onWindow;
  }

  detector(symbol: string): SymbolDetector | undefined {
    return this.detectors.get(symbol);
  }

  get detectorsInRankOrder(): readonly SymbolDetector[] {
    return this.ordered;
  }

  /**
   * Promotions since the last call, oldest first. Live and replay ask after every frame and almost
   * always get none: that answer is one shared frozen empty array, not a new one per frame.
   */
  takeNewPromotions(): readonly PromotedEvent[] {
    if (this.fresh.length === 0) return NO_PROMOTIONS;
    const out = this.fresh;
    this.fresh = [];
    return out;
  }

  /** A valid input the adapter left out by rule: non-market trades count on their symbol, the rest as not allowed. */
  noteDropped(symbol: string, reason: DropReason): void {
    const d = this.detectors.get(symbol);
    if (reason === 'non_market_trade' && d !== undefined) d.counters.non_market_trades++;
    else this.counters.symbol_not_allowed++;
  }

  /**
   * The detector of `symbol`, or undefined when it is not allowed. Trades come in runs of one
   * symbol, and the event's symbol is a fresh string each time (hashed anew by a Map lookup), so
   * the last symbol's detector is tried first.
   */
  private detectorOf(symbol: string): SymbolDetector | undefined {
    const last = this.lastDetector;
    if (last !== undefined && last.symbol === symbol) return last;
    const d = this.detectors.get(symbol);
    if (d !== undefined) this.lastDetector = d;
    return d;
  }

  /** Feed one canonical event. The allow-list is checked before anything else (SPEC §2.3). */
  ingest(ev: CanonicalEvent): void {
    const d = this.detectorOf(ev.symbol);
    if (d === undefined) {
      this.counters.symbol_not_allowed++;
      return;
    }
    switch (ev.type) {
      case 'TRADE':
        this.ingestTrade(d, ev);
        return;
      case 'LIQUIDATION':
        // Late liquidations still matter for later windows (SPEC §4.2.6), so they always go in.
        if (d.addLiquidation(ev)) this.observeTime(d, ev.ts_ms, ev.recv_ms);
        return;
      case 'KLINE': {
        const k = Math.floor(ev.open_time_ms / RULES.WINDOW_MS);
        if (this.firstOpenWindow !== null && k < this.firstOpenWindow && ev.interval === '1s') d.counters.window_not_closed++;
        else d.addKline(k, ev);
        this.observeTime(d, ev.ts_ms, ev.recv_ms);
        return;
      }
      case 'OPEN_INTEREST':
        // REST time does not move the watermark: only WS streams do (SPEC §4.2.2).
        d.addOpenInterest(ev, this.firstOpenWindow);
        return;
      case 'MARK_PRICE':
        d.setMarkPrice(ev);
        return;
    }
  }

  /**
   * Warm start, step 1: for the backfilled `symbols`, every window that closes from now on only
   * fills the baselines, and a live aggTrade with an id up to the symbol's entry in `lastIds` is a
   * duplicate of the backfill. The other symbols start cold: the stretch before the live stream is
   * no window of theirs, as in a run without a warm start.
   */
  startBackfill(symbols: readonly string[], lastIds: ReadonlyMap<string, number>): void {
    if (this.backfilling) throw new Error('startBackfill: a backfill is already being fed');
    this.backfilling = true;
    this.backfillBelow = Number.POSITIVE_INFINITY;
    for (const symbol of symbols) {
      const d = this.detectors.get(symbol);
      if (d === undefined) continue;
      d.backfilled = true;
      d.backfillLastId = lastIds.get(symbol) ?? null;
    }
  }

  /** Step 2, for each backfilled trade in exchange-time order (interleaved with live events by `liveFrom`). */
  ingestBackfill(t: TradeEvent): void {
    if (!this.backfilling) throw new Error('ingestBackfill outside startBackfill … finishBackfill');
    const d = this.detectors.get(t.symbol);
    if (d === undefined) {
      this.counters.symbol_not_allowed++;
      return;
    }
    this.ingestTrade(d, t, true);
  }

  /** The first live event is at `tsMs`: its window and every later one are live again (judged). */
  liveFrom(tsMs: number): void {
    if (this.backfilling && this.backfillBelow === Number.POSITIVE_INFINITY) this.backfillBelow = Math.floor(tsMs / RULES.WINDOW_MS);
  }

  /** Step 3: the backfill is fed. Windows still open belong to the live run unless `liveFrom` said otherwise. */
  finishBackfill(): void {
    if (!this.backfilling) return;
    this.backfilling = false;
    if (this.backfillBelow === Number.POSITIVE_INFINITY) this.backfillBelow = this.firstOpenWindow ?? Number.NEGATIVE_INFINITY;
  }

  private ingestTrade(d: SymbolDetector, t: TradeEvent, fromHistory = false): void {
    if (!d.acceptTradeId(t, fromHistory)) return;
    d.recordTradeRow(t);
    const k = Math.floor(t.ts_ms / RULES.WINDOW_MS);
    const w = this.watermark;
    if (w !== null && (k < (this.firstOpenWindow as number) || t.ts_ms < w - RULES.LATE_TOLERANCE_MS)) {
      d.counters.window_not_closed++;
      return;
    }
    d.addTrade(k, t);
    this.observeTime(d, t.ts_ms, t.recv_ms);
  }

  /** Advance the watermark with an accepted event's exchange time, unless it claims to be from the future. */
  private observeTime(d: SymbolDetector, tsMs: number, recvMs: number): void {
    if (tsMs > recvMs + RULES.FUTURE_TOLERANCE_MS) {
      d.counters.future_events++;
      return;
    }
    if (this.watermark === null) {
      this.watermark = tsMs;
      this.firstOpenWindow = Math.floor((tsMs - RULES.GRACE_MS) / RULES.WINDOW_MS);
      return;
    }
    if (tsMs > this.watermark) this.advanceTo(tsMs);
  }

  /**
   * Move the watermark forward and close every window that is now past its grace
   * (SPEC §4.2.3), or apply the gap rule after an outage (SPEC §4.2.5).
   */
  advanceTo(w: number): void {
    if (this.watermark === null || this.firstOpenWindow === null) {
      this.watermark = w;
      this.firstOpenWindow = Math.floor((w - RULES.GRACE_MS) / RULES.WINDOW_MS);
      return;
    }
    if (w <= this.watermark) return;
    const next = Math.floor((w - RULES.GRACE_MS) / RULES.WINDOW_MS);
    const gap = w - this.watermark > RULES.GAP_RESET_MS;
    this.watermark = w;
    if (next <= this.firstOpenWindow) return;
    if (gap) {
      this.counters.gap_resets++;
      // Windows that hold data are still judged; the empty stretch of the outage is not emitted.
      for (const d of this.ordered) {
        for (const k of d.openWindowsBelow(next)) this.close(d, k, w);
        d.discardBelow(next);
      }
    } else {
      for (let k = this.firstOpenWindow; k < next; k++) {
        for (const d of this.ordered) this.close(d, k, w);
      }
    }
    this.firstOpenWindow = next;
  }

  private close(d: SymbolDetector, k: number, w: number): void {
    if (k >= this.backfillBelow) this.emit(d.closeWindow(k, w, this.onWindow));
    else if (d.backfilled) d.closeBackfilledWindow(k);
    else if (!d.discardEmptyWindow(k)) this.emit(d.closeWindow(k, w, this.onWindow));
  }

  private emit(e: PromotedEvent | null): void {
    if (e === null) return;
    const frozen = deepFreeze(e);
    this.promotions.push(frozen);
    this.fresh.push(frozen);
  }
}
