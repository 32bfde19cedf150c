/**
 * One symbol's order book on the simulated exchange, replayed from recorded depth (./depth-data) on
 * the same data clock as its trades (./feed), and published as `<s>@depth@100ms` diffs:
 *
 *   - Every recorded change lands at the exchange time its data time maps to (the burst fault's
 *     rate included); the changes landing in one 100 ms slot are merged into one diff pushed at the
 *     slot's end (`E`), with absolute quantities and only the levels whose quantity changed — what
 *     Binance's @100ms stream is. Backward loops apply the recorded changes in reverse (quantity
 *     before the change), so the book follows the trade prices both ways and never jumps at a seam.
 *   - Clones scale prices like their trades (cloneScale): recorded levels that land on the same tick
 *     are summed, quantity scaled by the inverse of the price factor, so notional is preserved.
 *   - Update ids are the symbol's own: each diff has `pu` = the previous diff's `u`, `U` a little
 *     above it (futures ids skip, BINANCE.md §8), `u ≥ U`; distinct per symbol by a seeded offset.
 *   - REST `GET /fapi/v1/depth` answers from the same book: the top levels after the last diff
 *     produced, `lastUpdateId` = its `u`.
 *
 * Lazy: a symbol's book is built only once something asks for it (a depth subscription, a REST
 * depth request, a depth fault), at the then-current playhead; until then only the playhead moves,
 * so runs that never look at depth pay nothing for it.
 *
 * Faults: `breakNext` loses the next diff in transit (the book and the ids advance, the frame is not
 * sent: the client sees `pu ≠ previous u`); `staleSnapshots` answers the next REST requests with the
 * book as it was `behind` diffs earlier (older than any diff a syncing client buffers).
 */
import { ASK, BID, type DepthSeries, lowerBound, upperBound } from './depth-data';
import { fromUnits } from './decimal';
import { cloneScale, type SimEvent, type SymbolFeed } from './feed';
import { Rng } from './rng';
import type { SymbolSpec } from './universe';

/** The push interval of `@depth@100ms`. */
export const DEPTH_PUSH_MS = 100;
/** Diffs remembered with their previous quantities, for the stale-snapshot fault. */
const HISTORY = 64;
/** How far behind the stream a stale snapshot is, by default: 5 s of diffs. */
export const STALE_BEHIND_DEFAULT = 50;

export type DepthLevels = [string, string][];

export interface DepthDiff {
  E: number;
  T: number;
  U: number;
  u: number;
  pu: number;
  b: DepthLevels;
  a: DepthLevels;
}

export interface DepthPush {
  stream: string;
  symbol: string;
  diff: DepthDiff;
}

/** The REST `GET /fapi/v1/depth` body, in the exchange's key order. */
export interface DepthSnapshotBody {
  lastUpdateId: number;
  E: number;
  T: number;
  bids: DepthLevels;
  asks: DepthLevels;
}

interface Produced {
  u: number;
  pu: number;
  /** Flat [side, tick index, quantity before, quantity after, …]. */
  changes: number[];
}

type Sides<T> = [T, T];

/**
 * Book state is kept in dense arrays indexed by tick (the recorded price band is at most a few
 * hundred thousand ticks wide): maps keyed by price cost several times more per level, and a
 * @100ms diff of a busy symbol changes a hundred levels.
 */
export class DepthFeed {
  readonly stream: string;
  readonly symbol: string;
  private readonly spec: SymbolSpec;
  private readonly loopMs: number;
  private readonly spanMs: number;
  private readonly priceMul: number;
  private readonly qtyMul: number;
  private readonly rng: Rng;
  private playhead: number;
  private series: DepthSeries | null = null;
  /** Tick of index 0. */
  private tick0 = 0;
  /** Recorded quantity units summed per simulated tick (clones merge recorded levels). */
  private sum: Sides<Float64Array> = [new Float64Array(0), new Float64Array(0)];
  /** The exchange's book: quantity units per tick, after every diff produced. */
  private book: Sides<Float64Array> = [new Float64Array(0), new Float64Array(0)];
  /** Ticks changed in the open slot, and the slot each tick was last marked in. */
  private readonly touched: Sides<number[]> = [[], []];
  private marked: Sides<Float64Array> = [new Float64Array(0), new Float64Array(0)];
  private slotSeq = 1;
  /** Price strings by tick index: levels recur, and formatting is much of a diff's cost. */
  private priceText: (string | undefined)[] = [];
  private pendingSlot: number | null = null;
  private pendingT = 0;
  private lastU: number;
  private readonly history: Produced[] = [];
  private dropNext = 0;
  private stale: { left: number; behind: number } | null = null;
  /** Diffs produced, and the ones of them lost to the pu-break fault. */
  produced = 0;
  dropped = 0;

  constructor(
    feed: SymbolFeed,
    private readonly load: () => DepthSeries,
    seed: number,
  ) {
    this.spec = feed.spec;
    this.symbol = feed.spec.symbol;
    this.stream = `${this.symbol.toLowerCase()}@depth@100ms`;
    this.loopMs = feed.loopMs;
    this.spanMs = feed.series.spanMs;
    this.playhead = feed.playheadMs;
    ({ priceMul: this.priceMul, qtyMul: this.qtyMul } = cloneScale(feed.spec, feed.series));
    this.rng = new Rng(seed).fork(`depth:${this.symbol}`);
    this.lastU = 4_000_000_000_000 + this.rng.int(1_000_000_000) * 1000;
  }

  get active(): boolean {
    return this.series !== null;
  }

  /** Build the book at the current playhead (idempotent). */
  activate(): void {
    if (this.series !== null) return;
    const s = this.load();
    this.series = s;
    this.tick0 = this.ticksOf(s.priceLo) - 1;
    const n = this.ticksOf(s.priceHi) - this.tick0 + 2;
    this.sum = [new Float64Array(n), new Float64Array(n)];
    this.book = [new Float64Array(n), new Float64Array(n)];
    this.marked = [new Float64Array(n), new Float64Array(n)];
    this.priceText = new Array<string | undefined>(n);
    const b = s.base;
    for (let i = 0; i < b.side.length; i++) this.addSource(b.side[i] as number, b.price[i] as number, b.qty[i] as number);
    const L = Math.floor(this.playhead / this.loopMs);
    const p = this.playhead - L * this.loopMs;
    // Forward loops have applied the diffs at offsets ≤ p; backward ones have undone those at ≥ span − p.
    const included = (L & 1) === 0 ? upperBound(s.offsetMs, p) : lowerBound(s.offsetMs, this.spanMs - p);
    for (let i = 0; i < included; i++) this.applyDiff(i, 1);
    // What the book holds before anyone asked is not a diff: it starts here.
    for (const side of [BID, ASK]) {
      const book = this.book[side] as Float64Array;
      for (const i of this.touched[side] as number[]) book[i] = this.quantityAt(side, i);
      (this.touched[side] as number[]).length = 0;
    }
    this.slotSeq++;
  }

  /** Lose the next diff in transit (a `pu` break for every client). */
  breakNext(): void {
    this.activate();
    this.dropNext++;
  }

  /** Answer the next `count` REST requests with the book `behind` diffs ago. */
  staleSnapshots(count: number, behind: number): void {
    this.activate();
    this.stale = { left: count, behind };
  }

  /** Move the playhead over exchange time (t0, t1] and append the diffs pushed by t1. */
  advance(t0: number, t1: number, rate: number, out: SimEvent[]): void {
    const start = this.playhead;
    const end = start + (t1 - t0) * rate;
    this.playhead = end;
    const s = this.series;
    if (s === null) return;
    const off = s.offsetMs;
    const lm = this.loopMs;
    const span = this.spanMs;
    for (let L = Math.floor(start / lm); L <= Math.floor(end / lm); L++) {
      const base = L * lm;
      const lo = start - base;
      const hi = end - base;
      if ((L & 1) === 0) {
        for (let i = upperBound(off, lo); i < off.length && (off[i] as number) <= hi; i++) {
          this.land(t0 + (base + (off[i] as number) - start) / rate, i, 1, out);
        }
      } else {
        // Backward: recorded offset o lands at span − o; undo in descending o, i.e. ascending time.
        for (let i = lowerBound(off, span - lo) - 1; i >= 0 && (off[i] as number) >= span - hi; i--) {
          this.land(t0 + (base + span - (off[i] as number) - start) / rate, i, -1, out);
        }
      }
    }
    if (this.pendingSlot !== null && this.pendingSlot <= t1) this.flush(out);
  }

  /** The REST body: top `limit` levels per side, bids best first (descending), asks ascending; `honourFaults` false: the book as it is, a stale-snapshot fault left for the next request. */
  snapshotBody(limit: number, nowMs: number, honourFaults = true): DepthSnapshotBody {
    this.activate();
    let book = this.book;
    let id = this.lastU;
    if (honourFaults && this.stale !== null && this.stale.left > 0) {
      this.stale.left--;
      book = [Float64Array.from(this.book[BID]), Float64Array.from(this.book[ASK])];
      const k = Math.min(this.stale.behind, this.history.length);
      for (let j = this.history.length - 1; j >= this.history.length - k; j--) {
        const c = (this.history[j] as Produced).changes;
        for (let x = c.length - 4; x >= 0; x -= 4) (book[c[x] as number] as Float64Array)[c[x + 1] as number] = c[x + 2] as number;
      }
      if (k > 0) id = (this.history[this.history.length - k] as Produced).pu;
    }
    const qp = this.spec.quantityPrecision;
    const levels = (q: Float64Array, from: number, step: 1 | -1): DepthLevels => {
      const out: DepthLevels = [];
      for (let i = from; i >= 0 && i < q.length && out.length < limit; i += step) {
        const v = q[i] as number;
        if (v > 0) out.push([this.priceString(i), fromUnits(v, qp)]);
      }
      return out;
    };
    return { lastUpdateId: id, E: nowMs, T: nowMs, bids: levels(book[BID], book[BID].length - 1, -1), asks: levels(book[ASK], 0, 1) };
  }

  private ticksOf(srcUnits: number): number {
    return Math.max(1, Math.round(srcUnits * this.priceMul));
  }

  private priceString(i: number): string {
    let t = this.priceText[i];
    if (t === undefined) this.priceText[i] = t = fromUnits((this.tick0 + i) * this.spec.tickUnits, this.spec.pricePrecision);
    return t;
  }

  private addSource(side: number, srcPrice: number, delta: number): void {
    const i = this.ticksOf(srcPrice) - this.tick0;
    const sum = this.sum[side] as Float64Array;
    sum[i] = (sum[i] as number) + delta;
    const marked = this.marked[side] as Float64Array;
    if (marked[i] !== this.slotSeq) {
      marked[i] = this.slotSeq;
      (this.touched[side] as number[]).push(i);
    }
  }

  /** Quantity units of the simulated level from the recorded ones summed on it. */
  private quantityAt(side: number, i: number): number {
    const v = (this.sum[side] as Float64Array)[i] as number;
    return v > 0 ? Math.round(v * this.qtyMul) * this.spec.stepUnits : 0;
  }

  private applyDiff(i: number, dir: 1 | -1): void {
    const s = this.series as DepthSeries;
    const to = s.changeStart[i + 1] as number;
    for (let j = s.changeStart[i] as number; j < to; j++) {
      const delta = (s.next[j] as number) - (s.prev[j] as number);
      this.addSource(s.side[j] as number, s.price[j] as number, dir * delta);
    }
  }

  /** Recorded diff `i` lands at exchange time `t`: into its 100 ms slot (an earlier open slot is pushed first). */
  private land(t: number, i: number, dir: 1 | -1, out: SimEvent[]): void {
    const slot = Math.max(DEPTH_PUSH_MS, Math.ceil(t / DEPTH_PUSH_MS) * DEPTH_PUSH_MS);
    if (this.pendingSlot !== null && slot > this.pendingSlot) this.flush(out);
    if (this.pendingSlot === null) this.pendingT = 0;
    this.pendingSlot = slot;
    this.pendingT = Math.max(this.pendingT, Math.floor(t));
    this.applyDiff(i, dir);
  }

  /** Close the open slot: one diff of the levels whose quantity changed, unless none did. */
  private flush(out: SimEvent[]): void {
    const slot = this.pendingSlot as number;
    this.pendingSlot = null;
    const qp = this.spec.quantityPrecision;
    const changes: number[] = [];
    const levels: Sides<DepthLevels> = [[], []];
    for (const side of [BID, ASK]) {
      const touched = (this.touched[side] as number[]).sort((x, y) => x - y);
      const book = this.book[side] as Float64Array;
      for (const i of touched) {
        const q = this.quantityAt(side, i);
        const old = book[i] as number;
        if (q === old) continue;
        book[i] = q;
        changes.push(side, i, old, q);
        (levels[side] as DepthLevels).push([this.priceString(i), fromUnits(q, qp)]);
      }
      touched.length = 0;
    }
    this.slotSeq++;
    if (changes.length === 0) return;
    const n = changes.length / 4;
    const pu = this.lastU;
    const U = pu + 1 + this.rng.int(4);
    const u = U + 2 * n + this.rng.int(16);
    this.lastU = u;
    this.history.push({ u, pu, changes });
    if (this.history.length > HISTORY) this.history.shift();
    this.produced++;
    if (this.dropNext > 0) {
      this.dropNext--;
      this.dropped++;
      return;
    }
    out.push({
      kind: 'depth',
      time: slot,
      prio: 3,
      push: { stream: this.stream, symbol: this.symbol, diff: { E: slot, T: Math.min(this.pendingT, slot), U, u, pu, b: levels[BID], a: levels[ASK] } },
    });
  }
}
