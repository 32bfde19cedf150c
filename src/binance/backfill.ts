/**
 * The warm-start planner (SPEC §20): which `GET /fapi/v1/aggTrades` pages to ask for, per symbol,
 * and what an answer means. Pure — no I/O, no clock: the collector sends the requests it is given,
 * reports each outcome, and writes the markers it is handed around the whole exchange.
 *
 *   - Span: the last 5 min. A symbol's first page asks by time, from now − span, with its endTime a
 *     minute past now (a skewed local clock still reaches the live stream; the window stays < 1 h).
 *     A full page continues by fromId = its last id + 1 (never fromId and a time window together);
 *     a short page is the last one.
 *   - Budget: 20 weight a call; at most half of the free weight (limit − X-MBX-USED-WEIGHT-1M) and
 *     never into the REST client's 10 % reserve. A busy symbol whose whole span would take more than
 *     its share of the calls left starts again later (down to 90 s before now) after its first page;
 *     what still does not fit fails with `budget`.
 *   - Order: one request in flight per symbol, a few in all, round robin in rank order, so every
 *     symbol gets its first page before any gets a second: a busy symbol never blocks a thin one.
 *   - Failures start that symbol cold (WARM_START_FAILED), the others go on: a timeout, a 5xx, a
 *     refusal or a partial page (a body that does not parse whole, or ids that do not continue)
 *     fail only their symbol. A 429 or 418 is about the whole IP: nothing more may be sent before
 *     Retry-After (the REST client refuses to), so every symbol not yet complete fails with it and
 *     the complete ones keep their backfill.
 */
import type { WarmStartFailed, WarmStartFailure, WarmStartMarker } from '../core/contracts/warm-start';
import { HistoryChain } from '../core/warm-start';
import { AGG_TRADES_MAX_LIMIT, AGG_TRADES_MAX_WINDOW_MS, AGG_TRADES_WEIGHT, aggTradesPath } from './agg-trades-page';
import { normalizeFrame } from './normalize';

export const WARM_START = Object.freeze({
  /** How far back the backfill reaches (SPEC §20, PROP): 300 windows, five times what the baselines need. */
  SPAN_MS: 5 * 60_000,
  /** Share of the free request weight the warm start may spend (BINANCE.md §7). */
  BUDGET_SHARE: 0.5,
  /** The REST client holds back this share of the limit for everyone else (src/collector/rest.ts). */
  CLIENT_RESERVE_SHARE: 0.1,
  WEIGHT_LIMIT: 2400,
  /** endTime of a first page past `now`, for clock skew between this machine and the exchange. */
  END_LEAD_MS: 60_000,
  /** Requests in flight at once: the REST client's connection pool. */
  CONCURRENCY: 4,
  /**
   * A busy symbol whose whole span does not fit its share of the budget starts again this late at
   * the earliest: 90 windows, half again what the baselines need, so a few quiet seconds still warm.
   */
  MIN_SPAN_MS: 90_000,
  /** The rate seen on a first page is an estimate: plan for this share of the pages it suggests. */
  DENSITY_MARGIN: 0.8,
});

export interface PlannerOptions {
  /** The frozen symbol set, in rank order. */
  symbols: readonly string[];
  /** The collector's clock when the warm start begins (exchange-time ms as far as it knows). */
  nowMs: number;
  spanMs?: number;
  /** The last X-MBX-USED-WEIGHT-1M seen; null when no response carried it yet (taken as 0). */
  usedWeight1m: number | null;
  weightLimit?: number;
  pageLimit?: number;
  concurrency?: number;
  /**
   * Whether `symbol`'s live stream has delivered a trade yet (default: always). A symbol's pages are
   * handed out only then: a page served after the first live trade lists everything up to when it
   * was served, so backfill and stream overlap and no trade falls between them (the overlap is
   * dropped by id in the core). A symbol whose stream stays silent waits, and fails at the deadline.
   */
  isLive?: (symbol: string) => boolean;
}

export interface PageRequest {
  symbol: string;
  /** Path and query for the REST client, e.g. `/fapi/v1/aggTrades?symbol=BTCUSDT&startTime=…`. */
  path: string;
  /** The symbol's requests so far: 0 for its first. */
  page: number;
  weight: number;
}

/** How a request ended, as the collector saw it. */
export type PageOutcome =
  | { kind: 'body'; text: string; recvMs: number; usedWeight1m: number | null }
  | { kind: 'status'; status: number; retryAfterMs: number | null; detail: string }
  | { kind: 'timeout'; detail: string }
  | { kind: 'network'; detail: string };

type SymbolState = 'ready' | 'in_flight' | 'done' | 'failed';

interface SymbolPlan {
  symbol: string;
  state: SymbolState;
  chain: HistoryChain;
  pages: number;
  /** Where the chain starts (again): the span start, or a later time for a busy symbol. */
  fromMs: number;
  /** The symbol's span was considered for shortening already (after its first full page). */
  shortened: boolean;
}

export interface Budget {
  /** Weight left in this minute when the warm start began. */
  free: number;
  /** What the warm start may spend of it, and how many calls that is. */
  cap: number;
  calls: number;
}

export function backfillBudget(usedWeight1m: number | null, weightLimit: number = WARM_START.WEIGHT_LIMIT): Budget {
  const used = Math.max(0, usedWeight1m ?? 0);
  const free = Math.max(0, weightLimit - used);
  const cap = Math.max(0, Math.min(Math.floor(WARM_START.BUDGET_SHARE * free), Math.floor((1 - WARM_START.CLIENT_RESERVE_SHARE) * weightLimit) - used));
  return { free, cap, calls: Math.floor(cap / AGG_TRADES_WEIGHT) };
}

export class BackfillPlanner {
  readonly budget: Budget;
  readonly spanMs: number;
  readonly startMs: number;
  /** Calls handed out so far (each spends AGG_TRADES_WEIGHT of the cap, answered or not). */
  sent = 0;
  private readonly plans: SymbolPlan[];
  private readonly failed: WarmStartFailed = {};
  private readonly limit: number;
  private readonly concurrency: number;
  private readonly weightLimit: number;
  private readonly nowMs: number;
  private readonly isLive: (symbol: string) => boolean;
  /** Where the next round-robin pass starts, so passes continue where the last one stopped. */
  private cursor = 0;
  private inFlight = 0;

  constructor(opts: PlannerOptions) {
    this.spanMs = opts.spanMs ?? WARM_START.SPAN_MS;
    if (!(this.spanMs > 0 && this.spanMs + WARM_START.END_LEAD_MS <= AGG_TRADES_MAX_WINDOW_MS)) {
      throw new Error(`warm-start span ${this.spanMs} ms: must be positive and leave the first page's window under an hour`);
    }
    this.weightLimit = opts.weightLimit ?? WARM_START.WEIGHT_LIMIT;
    this.budget = backfillBudget(opts.usedWeight1m, this.weightLimit);
    this.limit = opts.pageLimit ?? AGG_TRADES_MAX_LIMIT;
    this.concurrency = opts.concurrency ?? WARM_START.CONCURRENCY;
    this.startMs = opts.nowMs - this.spanMs;
    this.nowMs = opts.nowMs;
    this.isLive = opts.isLive ?? (() => true);
    this.plans = opts.symbols.map((symbol) => ({ symbol, state: 'ready', chain: new HistoryChain(), pages: 0, fromMs: this.startMs, shortened: false }));
  }

  /** The begin marker the collector ingests (and so records) before the first request. */
  beginMarker(): WarmStartMarker {
    return { warm_start: 'begin', span_ms: this.spanMs };
  }

  /** The end marker, once `done`: the symbols that start cold, and why. */
  endMarker(): WarmStartMarker {
    return { warm_start: 'end', failed: { ...this.failed } };
  }

  /** Every symbol has its last page or has failed. */
  get done(): boolean {
    return this.plans.every((p) => p.state === 'done' || p.state === 'failed');
  }

  get failures(): Readonly<WarmStartFailed> {
    return this.failed;
  }

  stateOf(symbol: string): SymbolState | undefined {
    return this.plans.find((p) => p.symbol === symbol)?.state;
  }

  /**
   * The requests to send now. Call again after every outcome. A symbol that needs a page when the
   * budget is spent fails with `budget`.
   */
  next(): PageRequest[] {
    const out: PageRequest[] = [];
    const n = this.plans.length;
    const start = this.cursor;
    for (let i = 0; i < n && this.inFlight < this.concurrency; i++) {
      const idx = (start + i) % n;
      const p = this.plans[idx] as SymbolPlan;
      if (p.state !== 'ready' || !this.isLive(p.symbol)) continue;
      if (this.sent >= this.budget.calls) {
        this.fail(p, 'budget', `needs page ${p.pages + 1}, but the warm start's ${this.budget.cap} weight (${this.budget.calls} calls) is spent`);
        continue;
      }
      out.push(this.request(p));
      this.cursor = (idx + 1) % n;
    }
    return out;
  }

  private request(p: SymbolPlan): PageRequest {
    const from = p.chain.nextFromId;
    const path =
      from === null
        ? aggTradesPath({
            symbol: p.symbol,
            from: { kind: 'time', ms: p.fromMs },
            endMs: this.nowMs + WARM_START.END_LEAD_MS,
            limit: this.limit,
          })
        : aggTradesPath({ symbol: p.symbol, from: { kind: 'id', id: from }, limit: this.limit });
    p.state = 'in_flight';
    this.inFlight++;
    this.sent++;
    return { symbol: p.symbol, path, page: p.pages, weight: AGG_TRADES_WEIGHT };
  }

  /** What became of `req`. Outcomes for a symbol that already failed (a 429 elsewhere) change nothing. */
  onOutcome(req: PageRequest, outcome: PageOutcome): void {
    const p = this.plans.find((x) => x.symbol === req.symbol);
    if (p === undefined || p.state !== 'in_flight') return;
    this.inFlight--;
    p.state = 'ready';
    const where = `${req.symbol} page ${req.page + 1}`;
    switch (outcome.kind) {
      case 'body':
        this.onBody(p, req, outcome, where);
        return;
      case 'timeout':
        return this.fail(p, 'timeout', `${where}: ${outcome.detail}`);
      case 'network':
        return this.fail(p, 'network', `${where}: ${outcome.detail}`);
      case 'status': {
        const s = outcome.status;
        if (s === 429 || s === 418) {
          const wait = outcome.retryAfterMs === null ? '' : `; Retry-After ${Math.ceil(outcome.retryAfterMs / 1000)} s`;
          const reason: WarmStartFailure = s === 429 ? 'rate_limited' : 'banned';
          // The limit is the IP's: nothing more may be sent, so every symbol still going stops here.
          for (const other of this.plans) {
            if (other.state === 'ready' || other.state === 'in_flight') this.fail(other, reason, `HTTP ${s} on ${where}${wait}: no more requests until then`);
          }
          return;
        }
        return this.fail(p, s >= 500 ? 'server_error' : 'refused', `${where}: HTTP ${s}: ${outcome.detail}`);
      }
    }
  }

  private onBody(p: SymbolPlan, req: PageRequest, outcome: Extract<PageOutcome, { kind: 'body' }>, where: string): void {
    const r = normalizeFrame({ recv_ms: outcome.recvMs, source: `rest:${req.path}`, text: outcome.text });
    if (r.kind !== 'history') return this.fail(p, 'partial_page', `${where}: ${r.kind === 'malformed' ? r.reason : `not a page (${r.kind})`}`);
    const problem = p.chain.accept(r.page);
    if (problem !== null) return this.fail(p, 'partial_page', `${where}: ${problem}`);
    p.pages++;
    if (p.chain.complete) {
      p.state = 'done';
      return;
    }
    if (!p.shortened) this.shortenIfTooBusy(p, r.page.trades, outcome.recvMs);
    // Others on this IP spend the same minute: stop before the REST client would have to pause.
    const used = outcome.usedWeight1m;
    if (used !== null && used + AGG_TRADES_WEIGHT > Math.floor((1 - WARM_START.CLIENT_RESERVE_SHARE) * this.weightLimit)) {
      this.fail(p, 'budget', `${where}: the IP has used ${used} of ${this.weightLimit} weight this minute`);
    }
  }

  /**
   * After a busy symbol's first full page: if reaching now from where it started would take more
   * pages than its share of the calls left (shared equally by the symbols still going), start it
   * again later — as late as that share reaches, never later than MIN_SPAN_MS before now. One page
   * is spent on it, far fewer than the pages it saves; the core drops the first page on the restart.
   */
  private shortenIfTooBusy(p: SymbolPlan, trades: readonly { ts_ms: number }[], nowMs: number): void {
    p.shortened = true;
    const first = trades[0];
    const last = trades[trades.length - 1];
    if (first === undefined || last === undefined) return;
    const perMs = trades.length / Math.max(1, last.ts_ms - first.ts_ms + 1);
    const pagesToNow = Math.ceil((perMs * Math.max(0, nowMs - last.ts_ms)) / this.limit) + 1;
    const going = this.plans.filter((x) => x.state === 'ready' || x.state === 'in_flight').length;
    const share = Math.floor((this.budget.calls - this.sent) / Math.max(1, going));
    if (pagesToNow <= share) return;
    const fitMs = (Math.max(1, share - 1) * this.limit * WARM_START.DENSITY_MARGIN) / perMs;
    const fromMs = Math.floor(nowMs - Math.max(WARM_START.MIN_SPAN_MS, fitMs));
    if (fromMs <= last.ts_ms) return;
    p.fromMs = fromMs;
    p.chain = new HistoryChain();
  }

  /** The warm start's time limit passed: every symbol still going fails with `deadline`. */
  expire(detail: string): void {
    for (const p of this.plans) {
      if (p.state !== 'ready' && p.state !== 'in_flight') continue;
      const waiting = p.state === 'ready' && p.pages === 0 && !this.isLive(p.symbol);
      this.fail(p, 'deadline', `${p.symbol}: ${detail}${waiting ? ' (its live stream delivered no trade, so no page was asked for)' : ''}`);
    }
  }

  private fail(p: SymbolPlan, reason: WarmStartFailure, detail: string): void {
    if (p.state === 'in_flight') this.inFlight--;
    p.state = 'failed';
    this.failed[p.symbol] = { reason, detail: detail.slice(0, 300) };
  }
}

/**
 * Run a planner to the end: send what it hands out (`send` does the I/O and must resolve, never
 * reject, with the outcome), report each outcome, ask again — until every symbol is done or has
 * failed, or `stop` resolves (the caller's deadline: it then calls `planner.expire`). When nothing
 * is in flight and nothing can be sent yet (symbols waiting for their live stream), `idle` is
 * awaited before asking again; without it the drive ends there. No timers or I/O of its own, so
 * live code and tests drive it alike.
 */
export async function driveBackfill(
  planner: BackfillPlanner,
  send: (req: PageRequest) => Promise<PageOutcome>,
  stop?: Promise<void>,
  idle?: () => Promise<void>,
): Promise<void> {
  const inFlight = new Map<PageRequest, Promise<PageRequest>>();
  let stopped = false;
  const halt = stop?.then(() => {
    stopped = true;
  });
  for (;;) {
    for (const req of planner.next()) {
      inFlight.set(
        req,
        send(req).then((outcome) => {
          if (!stopped) planner.onOutcome(req, outcome);
          return req;
        }),
      );
    }
    if (planner.done || stopped) return;
    if (inFlight.size === 0 && idle === undefined) return;
    const waits: Promise<PageRequest | null>[] = inFlight.size > 0 ? [...inFlight.values()] : [(idle as () => Promise<void>)().then(() => null)];
    const settled = await Promise.race([...waits, ...(halt ? [halt.then(() => null)] : [])]);
    if (settled !== null) inFlight.delete(settled);
  }
}
