/**
 * One symbol's local order book from Binance USDⓈ-M diff depth (SPEC §18, BINANCE.md §8): a pure
 * state machine `SYNCING → LIVE → RESYNCING → LIVE`, fed with diffs and REST snapshot bodies, each
 * with the local time `nowMs` it was received at. It does no I/O: when it needs a snapshot it
 * returns a `SnapshotRequest`, and whoever drives it (collector, simulator test, replay) decides
 * what to do with it. In replay the snapshots are in the capture, so requests are only counted.
 *
 * Sync (futures rule, not spot's): buffer diffs; on a snapshot with `lastUpdateId = L` drop
 * buffered diffs with `u < L`; the first applied diff must satisfy `U ≤ L ≤ u` (or continue the
 * snapshot directly, `pu == L`, as live streams often do: tardis-node, cryptofeed); from then on
 * every diff must have `pu == previous u`, else the book resyncs. On futures `U` is not
 * `previous u + 1`; only the `pu` chain proves continuity. A snapshot that no buffered or later
 * diff bridges is stale: discarded (counted) and another one requested.
 *
 * Rate rule of the machine: never more than one snapshot request per symbol per
 * `MIN_SNAPSHOT_INTERVAL_MS` of `nowMs` (from when the driver says it sent it, `snapshotSent`, else
 * from when it was asked for); a request that got no answer in that time is retried.
 */
import type { BookState, ResyncReason } from '../../core/contracts/books';
import type { BookSample } from '../../core/policy/book-sample';
import { AsOfSamples } from './as-of';
import { BookSide, decimalValue, hasPriceKey, type Level } from './book-side';
import { BOOK } from './constants';
import type { DepthSnapshot, DepthUpdate } from './contracts';
import { DiffBuffer } from './diff-buffer';

export type { BookState, ResyncReason };

/** Why a snapshot is wanted. */
export type SnapshotReason = 'initial' | ResyncReason | 'stale_snapshot' | 'retry';

/** The one side effect a book can ask for. */
export interface SnapshotRequest {
  type: 'fetch_snapshot';
  symbol: string;
  reason: SnapshotReason;
  /** `GET /fapi/v1/depth?symbol=<symbol>&limit=<limit>`, costing `weight` of the shared budget. */
  limit: number;
  weight: number;
}

/** The REST path (and query) that answers a request; the body goes back to the books as a frame with source `rest:<this>`. */
export function snapshotPath(r: Pick<SnapshotRequest, 'symbol' | 'limit'>): string {
  return `/fapi/v1/depth?symbol=${r.symbol}&limit=${r.limit}`;
}

export interface BookCounters {
  diffs_received: number;
  diffs_applied: number;
  /** Buffered while syncing, then dropped because the snapshot already contains them (`u < L`): normal. */
  diffs_before_snapshot: number;
  /** Oldest buffered diffs dropped because the buffer was full (BOOK.MAX_BUFFERED_DIFFS or MAX_BUFFERED_LEVELS). */
  buffer_overflows: number;
  /** `pu ≠ previous u` on a live book. */
  pu_gaps: number;
  /** Live → RESYNCING transitions, all reasons. */
  resyncs: number;
  /** Diffs or snapshots with a price no key can represent exactly (none from Binance). */
  bad_levels: number;
  /** Applied diffs after which best bid ≥ best ask. */
  crossed: number;
  /** Levels dropped for lying beyond PRUNE_BAND of mid. */
  levels_pruned: number;
  snapshots_received: number;
  snapshots_applied: number;
  /** No diff bridged them (`U ≤ L ≤ u`): the snapshot was older than the buffered stream. */
  snapshots_stale: number;
  /** Received while live (nothing asked for them). */
  snapshots_ignored: number;
  snapshot_requests: number;
  /** Wanted, but held back by the one-per-interval rule. */
  snapshot_requests_deferred: number;
  /** Reported failed by the driver, or unanswered within the interval. */
  snapshot_failures: number;
}

function emptyCounters(): BookCounters {
  return {
    diffs_received: 0,
    diffs_applied: 0,
    diffs_before_snapshot: 0,
    buffer_overflows: 0,
    pu_gaps: 0,
    resyncs: 0,
    bad_levels: 0,
    crossed: 0,
    levels_pruned: 0,
    snapshots_received: 0,
    snapshots_applied: 0,
    snapshots_stale: 0,
    snapshots_ignored: 0,
    snapshot_requests: 0,
    snapshot_requests_deferred: 0,
    snapshot_failures: 0,
  };
}

export interface OrderBookOptions {
  /** Half-width of the depth band sampled as of each window end, basis points of mid. */
  sampleDepthBps: number;
  pruneBand?: number;
}

function levelsKeyable(levels: readonly (readonly [string, string])[]): boolean {
  for (const lv of levels) if (!hasPriceKey(lv[0])) return false;
  return true;
}

function toLevels(levels: readonly (readonly [string, string])[]): Level[] {
  return levels.map(([price, qty]) => ({ price, p: decimalValue(price), qty, q: decimalValue(qty) }));
}

export class OrderBook {
  readonly counters: BookCounters = emptyCounters();
  readonly resyncReasons: Record<ResyncReason, number> = { pu_gap: 0, bad_level: 0, reconnect: 0 };
  lastResyncReason: ResyncReason | null = null;

  private readonly bids = new BookSide(1);
  private readonly asks = new BookSide(-1);
  private readonly band: number;
  private readonly samples = new AsOfSamples(BOOK.AS_OF_SAMPLES_KEPT);

  private stateName: BookState = 'SYNCING';
  private readonly buffer = new DiffBuffer();
  /** `lastUpdateId` of a loaded snapshot not yet bridged by a diff; null otherwise. */
  private base: number | null = null;
  /** `u` of the last applied diff (live only). */
  private lastU: number | null = null;
  private needReason: SnapshotReason = 'initial';
  private lastRequestMs: number | null = null;
  private awaiting = false;
  private deferring = false;

  /** Event time and local receipt time of the last applied diff. */
  lastEventMs: number | null = null;
  lastAppliedRecvMs: number | null = null;

  constructor(
    readonly symbol: string,
    private readonly opts: OrderBookOptions,
  ) {
    this.band = opts.pruneBand ?? BOOK.PRUNE_BAND;
  }

  get state(): BookState {
    return this.stateName;
  }

  get lastUpdateId(): number | null {
    return this.lastU;
  }

  get bufferedDiffs(): number {
    return this.buffer.length;
  }

  bestBid(): Level | undefined {
    return this.stateName === 'LIVE' ? this.bids.best() : undefined;
  }

  bestAsk(): Level | undefined {
    return this.stateName === 'LIVE' ? this.asks.best() : undefined;
  }

  mid(): number | null {
    const b = this.bestBid();
    const a = this.bestAsk();
    return b !== undefined && a !== undefined ? (b.p + a.p) / 2 : null;
  }

  /** Notional resting within `bps` of mid on each side; null unless live and two-sided. */
  depthWithinBps(bps: number): { bid: number; ask: number } | null {
    const mid = this.mid();
    if (mid === null) return null;
    return { bid: this.bids.notionalWithin(mid * (1 - bps / 10_000)), ask: this.asks.notionalWithin(mid * (1 + bps / 10_000)) };
  }

  /** Levels best first (tests and display). */
  levels(side: 'bids' | 'asks', limit?: number): Level[] {
    return (side === 'bids' ? this.bids : this.asks).bestFirst(limit);
  }

  get levelCount(): number {
    return this.bids.size + this.asks.size;
  }

  /** Milliseconds since the last applied diff was received; null before the first. */
  ageMs(nowMs: number): number | null {
    return this.lastAppliedRecvMs === null ? null : Math.max(0, nowMs - this.lastAppliedRecvMs);
  }

  /** The book now, as a policy reads it. */
  sampleNow(): BookSample {
    if (this.stateName !== 'LIVE') return { live: false, reason: this.stateName };
    const b = this.bids.best();
    const a = this.asks.best();
    const depth = this.depthWithinBps(this.opts.sampleDepthBps);
    if (b === undefined || a === undefined || depth === null) return { live: false, reason: 'one_sided' };
    return {
      live: true,
      bid_depth: depth.bid,
      ask_depth: depth.ask,
      depth_bps: this.opts.sampleDepthBps,
      mid: (b.p + a.p) / 2,
      best_bid: b.price,
      best_ask: a.price,
      last_event_ms: this.lastEventMs as number,
    };
  }

  /** The book as of a window's end (see ./as-of). */
  sampleAt(windowEndMs: number): BookSample {
    return this.samples.at(windowEndMs, () => this.sampleNow());
  }

  /** Drop as-of samples of windows that have closed. */
  forgetSamplesBefore(windowEndMs: number): void {
    this.samples.forgetBefore(windowEndMs);
  }

  get samplesEvicted(): number {
    return this.samples.evicted;
  }

  onDiff(d: DepthUpdate, nowMs: number): SnapshotRequest | null {
    this.counters.diffs_received++;
    this.samples.advance(d.E, () => this.sampleNow());
    this.route(d, nowMs);
    return this.maybeRequest(nowMs);
  }

  onSnapshot(s: DepthSnapshot, nowMs: number): SnapshotRequest | null {
    const c = this.counters;
    c.snapshots_received++;
    if (this.stateName === 'LIVE') {
      c.snapshots_ignored++;
      return null;
    }
    this.awaiting = false;
    if (!levelsKeyable(s.bids) || !levelsKeyable(s.asks)) {
      c.bad_levels++;
      c.snapshots_stale++;
      this.needReason = 'stale_snapshot';
      return this.maybeRequest(nowMs);
    }
    c.snapshots_applied++;
    this.bids.load(toLevels(s.bids));
    this.asks.load(toLevels(s.asks));
    this.prune();
    this.base = s.lastUpdateId;
    for (const d of this.buffer.take()) this.route(d, nowMs);
    return this.maybeRequest(nowMs);
  }

  /** One diff through the machine (arriving, or replayed from the buffer after a snapshot). */
  private route(d: DepthUpdate, nowMs: number): void {
    if (this.stateName === 'LIVE') {
      if (d.pu !== this.lastU) {
        this.counters.pu_gaps++;
        this.resync('pu_gap', d);
      } else if (!this.apply(d, nowMs)) {
        this.resync('bad_level', null);
      }
    } else if (this.base !== null) {
      this.bridge(d, nowMs);
    } else {
      this.bufferDiff(d);
    }
  }

  /** The driver could not get the requested snapshot (HTTP error, timeout, budget). */
  snapshotFailed(nowMs: number): SnapshotRequest | null {
    if (this.awaiting) {
      this.awaiting = false;
      this.counters.snapshot_failures++;
      this.needReason = 'retry';
    }
    return this.maybeRequest(nowMs);
  }

  /**
   * The driver sent the requested snapshot at `nowMs` (it may queue a request behind others): the
   * one-per-interval rule and the answer's give-up time count from here, so the requests on the
   * wire keep the interval too. Replay sends nothing and never calls it.
   */
  snapshotSent(nowMs: number): void {
    if (this.awaiting && (this.lastRequestMs === null || nowMs > this.lastRequestMs)) this.lastRequestMs = nowMs;
  }

  /** The connection carrying this book's diffs was replaced: every book is invalid (BINANCE.md §8). */
  invalidate(nowMs: number): SnapshotRequest | null {
    if (this.stateName === 'LIVE') this.resync('reconnect', null);
    else {
      this.buffer.clear();
      this.base = null;
      this.bids.clear();
      this.asks.clear();
    }
    return this.maybeRequest(nowMs);
  }

  /** Time passes without input: a deferred or unanswered request may be due. */
  poll(nowMs: number): SnapshotRequest | null {
    return this.maybeRequest(nowMs);
  }

  /**
   * With a snapshot loaded (`base` set) and not yet bridged: skip `u < L`, go live on a bridging
   * diff, or declare the snapshot stale and buffer the diff for the next one.
   */
  private bridge(d: DepthUpdate, nowMs: number): void {
    const L = this.base as number;
    if (d.u < L) {
      this.counters.diffs_before_snapshot++;
      return;
    }
    this.base = null;
    if ((d.U <= L && L <= d.u) || d.pu === L) {
      this.stateName = 'LIVE';
      if (!this.apply(d, nowMs)) this.resync('bad_level', null);
      return;
    }
    this.counters.snapshots_stale++;
    this.bids.clear();
    this.asks.clear();
    this.needReason = 'stale_snapshot';
    this.bufferDiff(d);
  }

  private bufferDiff(d: DepthUpdate): void {
    this.counters.buffer_overflows += this.buffer.push(d);
  }

  /** Apply one diff to a live book; false (nothing applied) when a price has no exact key. */
  private apply(d: DepthUpdate, nowMs: number): boolean {
    if (!levelsKeyable(d.b) || !levelsKeyable(d.a)) {
      this.counters.bad_levels++;
      return false;
    }
    for (const [price, qty] of d.b) this.bids.set(price, decimalValue(price), qty, decimalValue(qty));
    for (const [price, qty] of d.a) this.asks.set(price, decimalValue(price), qty, decimalValue(qty));
    this.lastU = d.u;
    this.lastEventMs = d.E;
    this.lastAppliedRecvMs = nowMs;
    this.counters.diffs_applied++;
    this.prune();
    const b = this.bids.best();
    const a = this.asks.best();
    if (b !== undefined && a !== undefined && b.p >= a.p) this.counters.crossed++;
    return true;
  }

  private prune(): void {
    const b = this.bids.best();
    const a = this.asks.best();
    if (b === undefined || a === undefined) return;
    const mid = (b.p + a.p) / 2;
    this.counters.levels_pruned += this.bids.pruneWorseThan(mid * (1 - this.band)) + this.asks.pruneWorseThan(mid * (1 + this.band));
  }

  /** Leave LIVE: clear the book and start buffering again, from `first` when it is the diff that broke the chain. */
  private resync(reason: ResyncReason, first: DepthUpdate | null): void {
    this.counters.resyncs++;
    this.resyncReasons[reason]++;
    this.lastResyncReason = reason;
    this.stateName = 'RESYNCING';
    this.needReason = reason;
    this.bids.clear();
    this.asks.clear();
    this.lastU = null;
    this.base = null;
    this.buffer.clear();
    if (first !== null) this.buffer.push(first);
  }

  private maybeRequest(nowMs: number): SnapshotRequest | null {
    if (this.stateName === 'LIVE' || this.base !== null) return null;
    if (this.buffer.length < BOOK.MIN_BUFFERED_BEFORE_SNAPSHOT) return null;
    const last = this.lastRequestMs;
    if (last !== null && nowMs - last < BOOK.MIN_SNAPSHOT_INTERVAL_MS) {
      if (!this.awaiting && !this.deferring) {
        this.deferring = true;
        this.counters.snapshot_requests_deferred++;
      }
      return null;
    }
    if (this.awaiting) {
      // Asked an interval ago and nothing came: the answer is lost.
      this.counters.snapshot_failures++;
      this.needReason = 'retry';
    }
    this.lastRequestMs = nowMs;
    this.awaiting = true;
    this.deferring = false;
    this.counters.snapshot_requests++;
    return { type: 'fetch_snapshot', symbol: this.symbol, reason: this.needReason, limit: BOOK.SNAPSHOT_LIMIT, weight: BOOK.SNAPSHOT_WEIGHT };
  }
}
