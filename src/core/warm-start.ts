/**
 * The warm start (SPEC §20) inside the frame pipeline: between the collector's two marker frames,
 * history pages are collected per symbol and every market event is held back; at the end marker
 * the complete backfills are fed in exchange-time order, interleaved with the held live events,
 * so the boundary has neither a gap nor a double trade:
 *
 *   begin marker → [pages … and live events, in arrival order] → end marker
 *                    │ pages: HistoryChain per symbol          │ held: the events, not yet fed
 *                    ▼                                         ▼
 *   finish: backfilled trades (complete chains only, merged by time) fed before each held event
 *           whose time has come; windows before the first live event close as backfilled
 *           (baselines only), later ones are judged as always; live aggTrades with an id up to the
 *           symbol's last backfilled id are dropped as its duplicates (`backfill_duplicates`).
 *
 * Everything is decided from the frames alone, so a replay of the capture meets the same phase at
 * the same frames and gives the same result. Pure: no I/O, no clock.
 */
import { LIMITS, RULES } from './constants';
import type { CanonicalEvent, TradeEvent } from './contracts/canonical';
import type { WarmStartFailed, WarmStartFailure, WarmStartMarker, WarmStartStatus } from './contracts/warm-start';
import type { Engine } from './engine';
import type { Frame, HistoryPage } from './source';

/** The `source` of the collector's own warm-start marker frames. */
export const WARM_START_SOURCE = 'local:warm-start';

/** A marker frame as the collector records and ingests it. */
export function warmStartFrame(recvMs: number, marker: WarmStartMarker): Frame {
  return { recv_ms: recvMs, source: WARM_START_SOURCE, text: JSON.stringify(marker) };
}

export function offWarmStartStatus(): WarmStartStatus {
  return { state: 'OFF', span_ms: 0, pages: 0, page_trades: 0, unused_pages: 0, held_events: 0, held_events_max: 0, backfilled: [], failed: {} };
}

/**
 * One symbol's chain of history pages. A page is taken only if it continues the chain: the first
 * from a time, each next one from the id after the previous page's last trade, ids consecutive and
 * times non-decreasing inside. A page from a time before the chain is complete starts it again
 * (`restarted`; what came before is dropped): the planner shortens a busy symbol's span that way
 * when the whole span does not fit the budget. The planner (what to ask for) and the pipeline (what
 * to use) both judge pages with this class, so they cannot disagree about a page.
 */
export class HistoryChain {
  pages = 0;
  trades = 0;
  lastId: number | null = null;
  /** The last page arrived (fewer trades than asked): the span is covered up to when it was served. */
  complete = false;
  /** Why the chain cannot be used; null while it can. */
  broken: string | null = null;
  /** The last accepted page started the chain again: drop what the earlier pages held. */
  restarted = false;

  /** The id the next page must start from, or null when none is due (complete or broken). */
  get nextFromId(): number | null {
    if (this.complete || this.broken !== null || this.lastId === null) return null;
    return this.lastId + 1;
  }

  /** Take `page`, or say what is wrong with it; a wrong page breaks the chain for good. */
  accept(page: HistoryPage): string | null {
    this.restarted = false;
    if (this.pages > 0 && page.from.kind === 'time' && !this.complete && this.broken === null) {
      this.pages = 0;
      this.trades = 0;
      this.lastId = null;
      this.restarted = true;
    }
    const problem = this.check(page);
    if (problem !== null) {
      this.broken ??= problem;
      return problem;
    }
    this.pages++;
    this.trades += page.trades.length;
    const last = page.trades[page.trades.length - 1];
    if (last !== undefined) this.lastId = last.agg_id;
    this.complete = page.trades.length < page.limit;
    return null;
  }

  private check(page: HistoryPage): string | null {
    if (this.broken !== null) return `the chain is already broken (${this.broken})`;
    if (this.complete) return 'a page after the last page';
    if (page.trades.length > page.limit) return `${page.trades.length} trades on a page of at most ${page.limit}`;
    const from = page.from;
    if (this.pages === 0) {
      if (from.kind !== 'time') return `the first page must start from a time, not from id ${from.kind === 'id' ? from.id : ''}`;
    } else if (from.kind !== 'id' || from.id !== (this.lastId as number) + 1) {
      return `the page starts from id ${from.kind === 'id' ? from.id : ''}, expected id ${(this.lastId as number) + 1}`;
    }
    let prevId = from.kind === 'id' ? from.id - 1 : null;
    let prevTs = from.kind === 'time' ? from.ms : Number.NEGATIVE_INFINITY;
    for (const t of page.trades) {
      if (t.id_kind !== 'agg') return `trade ${t.agg_id} is not an aggregated trade`;
      if (prevId !== null && t.agg_id !== prevId + 1) return `trade id ${t.agg_id} follows ${prevId}: trades are missing`;
      if (t.ts_ms < prevTs) return `trade ${t.agg_id} at ${t.ts_ms} is older than ${prevTs}`;
      prevId = t.agg_id;
      prevTs = t.ts_ms;
    }
    return null;
  }
}

/** The phase between the markers, and what it leaves in the status. */
export class WarmStart {
  readonly status: WarmStartStatus = offWarmStartStatus();
  private readonly chains = new Map<string, HistoryChain>();
  private readonly trades = new Map<string, TradeEvent[]>();
  private tradesKept = 0;
  private readonly tooMany = new Set<string>();
  private held: CanonicalEvent[] = [];
  private readonly liveTraded = new Set<string>();

  constructor(private readonly symbols: readonly string[]) {}

  get open(): boolean {
    return this.status.state === 'RUNNING';
  }

  /** The begin marker; false when a warm start already ran (there is one per run). */
  begin(spanMs: number): boolean {
    if (this.status.state !== 'OFF') return false;
    this.status.state = 'RUNNING';
    this.status.span_ms = spanMs;
    return true;
  }

  /** A history page: kept when the warm start is running and the symbol observed, else counted as unused. */
  page(page: HistoryPage): void {
    const st = this.status;
    if (!this.open || !this.symbols.includes(page.symbol)) {
      st.unused_pages++;
      return;
    }
    st.pages++;
    st.page_trades += page.trades.length;
    let chain = this.chains.get(page.symbol);
    if (chain === undefined) {
      chain = new HistoryChain();
      this.chains.set(page.symbol, chain);
    }
    if (chain.accept(page) !== null) {
      this.drop(page.symbol);
      return;
    }
    if (chain.restarted) this.drop(page.symbol);
    if (this.tradesKept + page.trades.length > LIMITS.WARM_START_MAX_TRADES) {
      chain.broken ??= `more than ${LIMITS.WARM_START_MAX_TRADES} backfilled trades in memory`;
      this.tooMany.add(page.symbol);
      this.drop(page.symbol);
      return;
    }
    const kept = this.trades.get(page.symbol);
    if (kept === undefined) this.trades.set(page.symbol, [...page.trades]);
    else for (const t of page.trades) kept.push(t);
    this.tradesKept += page.trades.length;
  }

  /**
   * The live stream has delivered a trade of `symbol` during this warm start. A page served after
   * that lists trades up to when it was served, so it reaches into the live stream: the collector
   * asks for a symbol's pages only then, and the two overlap instead of leaving a gap between them.
   */
  liveSeen(symbol: string): boolean {
    return this.liveTraded.has(symbol);
  }

  /** A live event, held until the end. True when the hold is full and the warm start must end now. */
  hold(ev: CanonicalEvent): boolean {
    this.held.push(ev);
    if (ev.type === 'TRADE') this.liveTraded.add(ev.symbol);
    const st = this.status;
    st.held_events = this.held.length;
    if (st.held_events > st.held_events_max) st.held_events_max = st.held_events;
    return this.held.length >= LIMITS.WARM_START_MAX_HELD_EVENTS;
  }

  /**
   * The end: decide who is backfilled, then feed `engine` the backfilled trades merged in exchange
   * time, each before the first held event that is not older, and the held events in arrival order.
   * `failed` is the collector's own verdict; a chain that is broken or stops early adds its reason.
   */
  finish(engine: Engine, failed: WarmStartFailed, afterLive?: (ev: CanonicalEvent) => void): void {
    if (!this.open) return;
    const st = this.status;
    const verdict = this.verdict(failed);
    st.failed = verdict.failed;
    st.backfilled = verdict.backfilled;
    const lastIds = new Map<string, number>();
    const lists: TradeEvent[][] = [];
    for (const symbol of verdict.backfilled) {
      const chain = this.chains.get(symbol) as HistoryChain;
      if (chain.lastId !== null) lastIds.set(symbol, chain.lastId);
      const list = this.trades.get(symbol);
      if (list !== undefined && list.length > 0) lists.push(list);
    }
    const merged = mergeByTime(lists);
    const held = this.held;
    this.held = [];
    this.trades.clear();
    engine.startBackfill(verdict.backfilled, lastIds);
    let i = 0;
    for (const ev of held) {
      // OI carries REST time, which does not move the watermark; a future-stamped event would not either.
      if (ev.type !== 'OPEN_INTEREST' && ev.ts_ms <= ev.recv_ms + RULES.FUTURE_TOLERANCE_MS) {
        while (i < merged.length && (merged[i] as TradeEvent).ts_ms <= ev.ts_ms) engine.ingestBackfill(merged[i++] as TradeEvent);
        engine.liveFrom(ev.ts_ms);
      }
      engine.ingest(ev);
      afterLive?.(ev);
    }
    while (i < merged.length) engine.ingestBackfill(merged[i++] as TradeEvent);
    engine.finishBackfill();
    st.held_events = 0;
    st.state = 'DONE';
  }

  private verdict(collectorFailed: WarmStartFailed): { backfilled: string[]; failed: WarmStartFailed } {
    const backfilled: string[] = [];
    const failed: WarmStartFailed = {};
    const fail = (symbol: string, reason: WarmStartFailure, detail: string): void => {
      failed[symbol] = { reason, detail };
    };
    for (const symbol of this.symbols) {
      const chain = this.chains.get(symbol);
      const told = collectorFailed[symbol];
      // The collector knows why it stopped asking (a 429, a timeout); its reason comes first.
      if (told !== undefined) failed[symbol] = told;
      else if (chain === undefined) fail(symbol, 'no_pages', 'no page of this symbol arrived');
      else if (chain.broken !== null) fail(symbol, this.tooMany.has(symbol) ? 'too_many_trades' : 'partial_page', chain.broken);
      else if (!chain.complete) fail(symbol, 'incomplete', `${chain.pages} full page(s) and no last page`);
      else backfilled.push(symbol);
    }
    return { backfilled, failed };
  }

  private drop(symbol: string): void {
    const list = this.trades.get(symbol);
    if (list === undefined) return;
    this.tradesKept -= list.length;
    this.trades.delete(symbol);
  }
}

/** Merge per-symbol lists (each in time order) by exchange time; ties go to the earlier list (rank order). */
function mergeByTime(lists: readonly TradeEvent[][]): TradeEvent[] {
  if (lists.length === 1) return lists[0] as TradeEvent[];
  const out: TradeEvent[] = [];
  const pos = lists.map(() => 0);
  for (;;) {
    let best = -1;
    let bestTs = Number.POSITIVE_INFINITY;
    for (let j = 0; j < lists.length; j++) {
      const t = (lists[j] as TradeEvent[])[pos[j] as number];
      if (t !== undefined && t.ts_ms < bestTs) {
        best = j;
        bestTs = t.ts_ms;
      }
    }
    if (best < 0) return out;
    out.push((lists[best] as TradeEvent[])[pos[best] as number] as TradeEvent);
    pos[best] = (pos[best] as number) + 1;
  }
}
