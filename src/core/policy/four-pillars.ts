/**
 * M6 policy `four-pillars-001` v1 (SPEC §17, seed 001's "four pillars"), beside M3 and never in it.
 *
 * It judges the same closed 1 s windows right after M3 did, from the window's metrics, its own
 * side-aware liquidation retention and the order book as of the window's end; it has its own
 * baselines, counters and events, and reads nothing of M3's verdicts or counters (M3 never reads it).
 *
 * Frozen order with early exit, exactly one outcome per judged window:
 *   not_warm → 1 imbalance → 2 velocity against the flow → 3 liquidation cluster on the dominant
 *   side → book_unavailable → 4 exhaustion of the passive side → promoted.
 * After the verdict every judged window appends |velocity|, and its bid and ask depth when the book
 * was live as of its end (a window never raises its own bar, SPEC §5.1).
 */
import { Baseline } from '../baseline';
import { LIMITS, RULES } from '../constants';
import type { LiquidationEvent } from '../contracts/canonical';
import type { Side } from '../contracts/primitives';
import { deepFreeze } from '../freeze';
import { LiquidationBuffer } from '../liquidations';
import { Ring } from '../ring';
import type { ClosedWindow } from '../symbol-detector';
import type { BookAsOf } from './book-sample';
import { PILLARS, POLICY_ID, POLICY_VERSION } from './constants';
import { type PolicyCounters, type PolicyEvent, type PolicyOutcome, type PolicySection, type PolicySymbolState } from './contracts';

export function emptyPolicyCounters(): PolicyCounters {
  return {
    windows_seen: 0,
    empty: 0,
    judged: 0,
    not_warm: 0,
    imbalance_failed: 0,
    velocity_failed: 0,
    liquidation_cluster_failed: 0,
    book_unavailable: 0,
    exhaustion_failed: 0,
    promoted: 0,
    liquidations: 0,
  };
}

/** What one judged window was judged on (also what tests inspect). */
export interface PolicyVerdict {
  symbol: string;
  window_start_ms: number;
  outcome: PolicyOutcome;
  dominant_side: Side;
  dominant_share: number;
  velocity: number;
  velocity_p90: number | null;
  cluster_count: number;
  book_live: boolean;
  passive_depth: number | null;
  passive_depth_p10: number | null;
}

const THRESHOLDS = Object.freeze({
  imbalance_min_share: PILLARS.IMBALANCE_MIN_SHARE,
  velocity_percentile: PILLARS.VELOCITY_PERCENTILE,
  cluster_min_count: PILLARS.CLUSTER_MIN_COUNT,
  cluster_window_ms: PILLARS.CLUSTER_WINDOW_MS,
  depth_band_bps: PILLARS.DEPTH_BAND_BPS,
  exhaustion_percentile: PILLARS.EXHAUSTION_PERCENTILE,
  baseline_windows: PILLARS.BASELINE_WINDOWS,
});

class SymbolPolicy {
  readonly counters = emptyPolicyCounters();
  readonly velocity = new Baseline(PILLARS.BASELINE_WINDOWS);
  readonly bidDepth = new Baseline(PILLARS.BASELINE_WINDOWS);
  readonly askDepth = new Baseline(PILLARS.BASELINE_WINDOWS);
  readonly buys = new LiquidationBuffer(LIMITS.LIQUIDATION_BUFFER_CAP);
  readonly sells = new LiquidationBuffer(LIMITS.LIQUIDATION_BUFFER_CAP);

  constructor(readonly symbol: string) {}

  get warm(): boolean {
    return this.velocity.full && this.bidDepth.full && this.askDepth.full;
  }

  state(): PolicySymbolState {
    return {
      warm: this.warm,
      velocity_history_len: this.velocity.length,
      bid_depth_history_len: this.bidDepth.length,
      ask_depth_history_len: this.askDepth.length,
      velocity_p90: this.velocity.percentile(PILLARS.VELOCITY_PERCENTILE),
      bid_depth_p10: this.bidDepth.percentile(PILLARS.EXHAUSTION_PERCENTILE),
      ask_depth_p10: this.askDepth.percentile(PILLARS.EXHAUSTION_PERCENTILE),
      counters: { ...this.counters },
    };
  }
}

export interface FourPillarsOptions {
  symbols: readonly string[];
  /** Sees every verdict (tests, inspection). */
  onVerdict?: (v: PolicyVerdict) => void;
}

export class FourPillarsPolicy {
  private readonly bySymbol = new Map<string, SymbolPolicy>();
  private readonly ordered: SymbolPolicy[];
  private readonly onVerdict: ((v: PolicyVerdict) => void) | undefined;
  /** The newest events, oldest → newest (as M3's promotions: the last 1000 in memory). */
  readonly events = new Ring<PolicyEvent>(LIMITS.PROMOTED_EVENTS_KEPT);
  private fresh: PolicyEvent[] = [];

  constructor(opts: FourPillarsOptions) {
    this.ordered = opts.symbols.map((s) => new SymbolPolicy(s));
    for (const p of this.ordered) this.bySymbol.set(p.symbol, p);
    this.onVerdict = opts.onVerdict;
  }

  counters(symbol: string): PolicyCounters | undefined {
    return this.bySymbol.get(symbol)?.counters;
  }

  /** Events since the last call, oldest first. */
  takeNewEvents(): PolicyEvent[] {
    const out = this.fresh;
    this.fresh = [];
    return out;
  }

  /** A liquidation the engine accepted (duplicates already removed there). */
  addLiquidation(l: LiquidationEvent): void {
    const p = this.bySymbol.get(l.symbol);
    if (p === undefined) return;
    p.counters.liquidations++;
    (l.side === 'BUY' ? p.buys : p.sells).insert(l.ts_ms);
  }

  /**
   * Judge a window M3 has just closed. `books` gives the book as of the window's end; `watermarkMs`
   * is the watermark that closed it.
   */
  onWindow(w: ClosedWindow, books: BookAsOf, watermarkMs: number): PolicyEvent | null {
    const p = this.bySymbol.get(w.symbol);
    if (p === undefined) return null;
    const c = p.counters;
    const start = w.window_start_ms;
    const end = start + RULES.WINDOW_MS;
    c.windows_seen++;
    p.buys.pruneAtOrBefore(end - PILLARS.CLUSTER_WINDOW_MS);
    p.sells.pruneAtOrBefore(end - PILLARS.CLUSTER_WINDOW_MS);
    const m = w.metrics;
    if (m === null || m.abs_flow === 0) {
      c.empty++;
      return null;
    }
    c.judged++;
    const book = books.sampleAt(w.symbol, end);
    const dominant: Side = m.buy_notional >= m.sell_notional ? 'BUY' : 'SELL';
    const share = Math.max(m.buy_notional, m.sell_notional) / m.abs_flow;
    const velocity = (m.close - m.open) / m.open;
    const cluster = (dominant === 'BUY' ? p.buys : p.sells).countIn(end - PILLARS.CLUSTER_WINDOW_MS, end);
    const passiveHistory = dominant === 'BUY' ? p.askDepth : p.bidDepth;
    const passiveDepth = book.live ? (dominant === 'BUY' ? book.ask_depth : book.bid_depth) : null;

    let outcome: PolicyOutcome;
    let p90: number | null = null;
    let p10: number | null = null;
    if (!p.warm) outcome = 'not_warm';
    else {
      p90 = p.velocity.percentile(PILLARS.VELOCITY_PERCENTILE) as number;
      p10 = passiveHistory.percentile(PILLARS.EXHAUSTION_PERCENTILE) as number;
      const against = dominant === 'BUY' ? velocity < 0 : velocity > 0;
      if (!(share > PILLARS.IMBALANCE_MIN_SHARE)) outcome = 'imbalance_failed';
      else if (!(against && Math.abs(velocity) >= p90)) outcome = 'velocity_failed';
      else if (cluster < PILLARS.CLUSTER_MIN_COUNT) outcome = 'liquidation_cluster_failed';
      else if (passiveDepth === null) outcome = 'book_unavailable';
      else if (!(passiveDepth <= p10)) outcome = 'exhaustion_failed';
      else outcome = 'promoted';
    }
    c[outcome]++;

    let event: PolicyEvent | null = null;
    if (outcome === 'promoted' && book.live && p90 !== null && p10 !== null && passiveDepth !== null) {
      event = deepFreeze({
        event_id: `${POLICY_ID}:${w.symbol}-${start}`,
        symbol: w.symbol,
        timestamp: end / 1000,
        window_start_ms: start,
        window_end_ms: end,
        window_size: 1 as const,
        dominant_side: dominant,
        stress_sources: ['liquidations' as const],
        metrics: {
          abs_flow: m.abs_flow,
          trade_count: m.trade_count,
          buy_notional: m.buy_notional,
          sell_notional: m.sell_notional,
          net_aggression: m.net_aggression,
          mean_trade_size: m.mean_trade_size,
          open: m.open,
          high: m.high,
          low: m.low,
          close: m.close,
          dominant_share: share,
          velocity,
          velocity_p90: p90,
          cluster_count: cluster,
          liq_count: p.buys.countIn(end - PILLARS.CLUSTER_WINDOW_MS, end) + p.sells.countIn(end - PILLARS.CLUSTER_WINDOW_MS, end),
          passive_side: dominant === 'BUY' ? ('ask' as const) : ('bid' as const),
          passive_depth: passiveDepth,
          passive_depth_p10: p10,
          bid_depth: book.bid_depth,
          ask_depth: book.ask_depth,
          depth_bps: book.depth_bps,
          mid: book.mid,
          best_bid: book.best_bid,
          best_ask: book.best_ask,
          book_last_event_ms: book.last_event_ms,
          thresholds: { ...THRESHOLDS },
        },
        policy: { id: POLICY_ID, version: POLICY_VERSION },
        closed_at_watermark_ms: watermarkMs,
      });
      this.events.push(event);
      this.fresh.push(event);
    }
    this.onVerdict?.({
      symbol: w.symbol,
      window_start_ms: start,
      outcome,
      dominant_side: dominant,
      dominant_share: share,
      velocity,
      velocity_p90: p90,
      cluster_count: cluster,
      book_live: book.live,
      passive_depth: passiveDepth,
      passive_depth_p10: p10,
    });
    // Appended after the verdict: the window never raises its own bar.
    p.velocity.push(Math.abs(velocity));
    if (book.live) {
      p.bidDepth.push(book.bid_depth);
      p.askDepth.push(book.ask_depth);
    }
    return event;
  }

  /** The policy's snapshot section: totals, per-symbol state, the newest `eventsShown` events. */
  section(eventsShown: number = LIMITS.PROMOTED_EVENTS_KEPT): PolicySection {
    const totals = emptyPolicyCounters();
    const per: Record<string, PolicySymbolState> = {};
    for (const p of this.ordered) {
      per[p.symbol] = p.state();
      for (const k of Object.keys(totals) as (keyof PolicyCounters)[]) totals[k] += p.counters[k];
    }
    return {
      policy: { id: POLICY_ID, version: POLICY_VERSION, constants: { ...PILLARS } },
      counters: totals,
      per_symbol: per,
      events: this.events.toArray(eventsShown),
    };
  }
}
