/**
 * Recorded order-book depth for the simulator: the REST snapshot line and the `@depth@0ms` diffs of
 * the same hftbacktest recordings (MIT) its trades come from, reduced once per file to
 *   - the book at the recording's time zero (the trade series' `t0Ms`): the snapshot, with every diff
 *     it bridges (BINANCE.md §8) applied up to t0 (or just the snapshot, when it came later);
 *   - every later change within the trade span, level by level: side, price, the quantity before and
 *     after, in integer units of the recording's decimals, grouped by diff, with its offset from t0.
 * Knowing the quantity before each change lets the simulator play the book backwards too, as the
 * trade feed ping-pongs its loops (./feed): the book then follows the trades' prices both ways and
 * returns exactly to where the next loop starts.
 *
 * Levels further than BAND from the first trade price are left out everywhere (snapshot and diffs
 * alike), so the simulated book stays consistent; a client prunes beyond ±5 % of mid anyway.
 */
import type { TradeSeries } from './data';
import { dataOf, readLines } from './data';
import { toUnits } from './decimal';

/** Levels kept: within this fraction of the first trade price. */
export const DEPTH_BAND = 0.1;

export const BID = 0;
export const ASK = 1;

export interface DepthSeries {
  file: string;
  /** Lowest and highest price (units) of any level in the series: the range a dense book must cover. */
  priceLo: number;
  priceHi: number;
  /** The book at offset 0: side (BID/ASK), price and quantity units per level. */
  base: { side: Uint8Array; price: Int32Array; qty: Int32Array };
  /** Recorded diffs with a change, in order: offset from t0 (ms, non-decreasing, in (0, spanMs]). */
  offsetMs: Float64Array;
  /** Diff i's changes are [changeStart[i], changeStart[i + 1]). */
  changeStart: Uint32Array;
  side: Uint8Array;
  price: Int32Array;
  prev: Int32Array;
  next: Int32Array;
}

interface RawDiff {
  T: number;
  U: number;
  u: number;
  pu: number;
  b: [string, string][];
  a: [string, string][];
}

interface RawSnapshot {
  lastUpdateId: number;
  bids: [string, string][];
  asks: [string, string][];
}

function isRawDiff(x: unknown): x is RawDiff {
  if (typeof x !== 'object' || x === null) return false;
  const d = x as Record<string, unknown>;
  return d.e === 'depthUpdate' && typeof d.T === 'number' && typeof d.U === 'number' && typeof d.u === 'number' && Array.isArray(d.b) && Array.isArray(d.a);
}

function int32(x: number, what: string, file: string): number {
  if (!Number.isSafeInteger(x) || x < 0 || x > 0x7fffffff)
    throw new Error(`simulator: ${file}: ${what} ${x} does not fit the depth tables (0 … 2^31 − 1 units)`);
  return x;
}

/** Reduce one recording's depth (see the module comment). Throws when it holds no snapshot its diffs bridge. */
export function loadDepthSeries(trades: TradeSeries): DepthSeries {
  const file = trades.file;
  let snapshot: RawSnapshot | null = null;
  const diffs: RawDiff[] = [];
  readLines(file, (json) => {
    if (json.startsWith('{"lastUpdateId"')) {
      snapshot ??= JSON.parse(json) as RawSnapshot;
      return;
    }
    if (!json.includes('@depth')) return;
    const d = dataOf(json);
    if (isRawDiff(d)) diffs.push(d);
  });
  const snap = snapshot as RawSnapshot | null;
  if (snap === null) throw new Error(`simulator: ${file} holds no REST depth snapshot line ({"lastUpdateId":…}): no depth to serve`);
  const L = snap.lastUpdateId;
  const first = diffs.findIndex((d) => d.u >= L);
  const bridge = diffs[first];
  if (bridge === undefined || !((bridge.U <= L && L <= bridge.u) || bridge.pu === L)) {
    throw new Error(`simulator: ${file}: no diff bridges the snapshot (lastUpdateId ${L}): the recording's depth cannot be replayed`);
  }
  const lo = trades.firstPrice * (1 - DEPTH_BAND);
  const hi = trades.firstPrice * (1 + DEPTH_BAND);
  const pd = trades.priceDecimals;
  const qd = trades.qtyDecimals;
  const books = [new Map<number, number>(), new Map<number, number>()];
  const load = (side: number, levels: [string, string][]): void => {
    for (const [p, q] of levels) {
      const price = Number(p);
      if (price < lo || price > hi) continue;
      const qty = int32(toUnits(q, qd), 'quantity', file);
      if (qty > 0) (books[side] as Map<number, number>).set(int32(toUnits(p, pd), 'price', file), qty);
    }
  };
  load(BID, snap.bids);
  load(ASK, snap.asks);

  const offsets: number[] = [];
  const starts: number[] = [];
  const side: number[] = [];
  const price: number[] = [];
  const prev: number[] = [];
  const next: number[] = [];
  let base: DepthSeries['base'] | null = null;
  const takeBase = (): DepthSeries['base'] => {
    const n = (books[BID] as Map<number, number>).size + (books[ASK] as Map<number, number>).size;
    const b = { side: new Uint8Array(n), price: new Int32Array(n), qty: new Int32Array(n) };
    let i = 0;
    for (const s of [BID, ASK]) {
      for (const [p, q] of books[s] as Map<number, number>) {
        b.side[i] = s;
        b.price[i] = p;
        b.qty[i] = q;
        i++;
      }
    }
    return b;
  };
  let lastU: number | null = null;
  let lastOffset = 0;
  for (let i = first; i < diffs.length; i++) {
    const d = diffs[i] as RawDiff;
    // Real recordings keep the chain (test/order-book proves it); a break ends the usable part.
    if (lastU !== null && d.pu !== lastU) break;
    lastU = d.u;
    const offset = Math.max(lastOffset, d.T - trades.t0Ms);
    if (offset > trades.spanMs) break;
    const recording = offset > 0;
    if (recording && base === null) base = takeBase();
    const before = side.length;
    for (const [s, levels] of [
      [BID, d.b],
      [ASK, d.a],
    ] as const) {
      const book = books[s] as Map<number, number>;
      for (const [p, q] of levels) {
        const px = Number(p);
        if (px < lo || px > hi) continue;
        const pu = int32(toUnits(p, pd), 'price', file);
        const qu = int32(toUnits(q, qd), 'quantity', file);
        const old = book.get(pu) ?? 0;
        if (old === qu) continue;
        if (qu === 0) book.delete(pu);
        else book.set(pu, qu);
        if (!recording) continue;
        side.push(s);
        price.push(pu);
        prev.push(old);
        next.push(qu);
      }
    }
    if (recording && side.length > before) {
      offsets.push(offset);
      starts.push(before);
      lastOffset = offset;
    }
  }
  starts.push(side.length);
  const b = base ?? takeBase();
  let priceLo = Infinity;
  let priceHi = -Infinity;
  for (const arr of [b.price, price]) {
    for (const p of arr) {
      if (p < priceLo) priceLo = p;
      if (p > priceHi) priceHi = p;
    }
  }
  if (priceLo > priceHi) throw new Error(`simulator: ${file}: no depth level within ±${DEPTH_BAND * 100} % of the first trade price`);
  return {
    file,
    priceLo,
    priceHi,
    base: b,
    offsetMs: Float64Array.from(offsets),
    changeStart: Uint32Array.from(starts),
    side: Uint8Array.from(side),
    price: Int32Array.from(price),
    prev: Int32Array.from(prev),
    next: Int32Array.from(next),
  };
}

const cache = new Map<string, DepthSeries>();

/** Loaded once per recording and process, on first use (only a client that asks for depth pays for it). */
export function depthSeriesOf(trades: TradeSeries): DepthSeries {
  let s = cache.get(trades.file);
  if (s === undefined) cache.set(trades.file, (s = loadDepthSeries(trades)));
  return s;
}

/** First index i with a[i] > x (a non-decreasing). */
export function upperBound(a: Float64Array, x: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((a[mid] as number) <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** First index i with a[i] ≥ x (a non-decreasing). */
export function lowerBound(a: Float64Array, x: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((a[mid] as number) < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
