/**
 * One simulated symbol: replays a recorded trade series on the exchange clock, forever, and turns
 * it into what the exchange would publish — aggTrades, 1m klines, mark prices, book tickers.
 *
 * Replay works in "data time" (ms into the recording, growing across loops). A playhead advances
 * by (exchange ms × rate); `rate` is 1 except under the burst fault. Each recorded trade lands at
 * the exchange time its data time maps to, so T/E sit on the simulator clock. Clones scale price
 * by a constant and quantity by its inverse, so notional is preserved.
 */
import type { MarkRatio, TradeSeries } from './data';
import { fixed, fromUnits, pow10 } from './decimal';
import { aggTradeFrame, bookTickerFrame, type KlineBody, klineFrame, markPriceFrame } from './frames';
import type { DepthPush } from './depth-feed';
import type { LiquidationArrival } from './liquidations';
import { Rng } from './rng';
import type { InjectedTrade, ScenarioScript } from './script';
import type { SymbolSpec } from './universe';

/** One aggregated trade, before it becomes text. */
export interface AggTrade {
  a: number;
  pU: number;
  qU: number;
  f: number;
  l: number;
  T: number;
  E: number;
  m: boolean;
  /** Raw trades merged into it (the kline's `n`). */
  n: number;
}

/** Everything that happens inside one tick, sorted by exchange time before anything is sent. */
export type SimEvent =
  /** Every 250 ms of exchange time: kline pushes; on whole seconds also mark price and forceOrder snapshots. */
  | { kind: 'boundary'; time: number; prio: 0 }
  | { kind: 'liquidation'; time: number; prio: 1; arrival: LiquidationArrival }
  | { kind: 'agg'; time: number; prio: 2; feed: SymbolFeed; agg: AggTrade }
  /** A `<s>@depth@100ms` diff at its 100 ms push time (./depth-feed). */
  | { kind: 'depth'; time: number; prio: 3; push: DepthPush };

export function compareEvents(a: SimEvent, b: SimEvent): number {
  return a.time - b.time || a.prio - b.prio;
}

/** Gap between the last recorded trade of a loop and the first one of the next. */
const LOOP_GAP_MS = 500;
const EIGHT_HOURS = 8 * 3600 * 1000;

/**
 * How a symbol maps the recording it replays: price units of the recording → ticks of the symbol,
 * quantity units → steps. Originals replay unchanged; clones are scaled to a plausible price level,
 * quantity by the inverse, so notional is preserved.
 */
export function cloneScale(spec: SymbolSpec, series: TradeSeries): { priceMul: number; qtyMul: number } {
  const k = spec.baseAsset === series.source ? 1 : spec.refPrice / series.firstPrice;
  return {
    priceMul: (k * pow10(spec.pricePrecision)) / pow10(series.priceDecimals) / spec.tickUnits,
    qtyMul: pow10(spec.quantityPrecision) / pow10(series.qtyDecimals) / k / spec.stepUnits,
  };
}

export interface FeedStreams {
  aggTrade: string;
  kline: string;
  markPrice1s: string;
  markPrice: string;
  forceOrder: string;
  bookTicker: string;
}

export class SymbolFeed {
  readonly streams: FeedStreams;
  /** One loop of the recording on the data clock: its span plus the gap before the next loop. */
  readonly loopMs: number;
  private readonly priceMul: number;
  private readonly qtyMul: number;
  private readonly rng: Rng;
  private cursor = 0;
  private loop = 0;
  private playhead: number;
  private nextAggId: number;
  private tradeId: number;
  /** Recorded source price (detrended), for pricing injected trades. */
  private lastSrcPrice: number;
  /** Last published trade price in units of the symbol's price precision. */
  lastPriceUnits: number;
  private bookUpdateId: number;
  private markEma = 0;
  private readonly raws: InjectedTrade[] = [];
  private pending: AggTrade | null = null;
  /** E of the last aggTrade out: the exchange publishes a symbol's aggTrades in id order. */
  private lastE = 0;
  private kOpen = -1;
  /** Open time of the last candle pushed with x = true; a straggler never reopens it. */
  private kLastClosed = -1;
  private k = { o: 0, h: 0, l: 0, c: 0, v: 0, n: 0, q: 0, V: 0, Q: 0, f: 0, L: 0 };
  private kDirty = false;

  constructor(
    readonly spec: SymbolSpec,
    readonly series: TradeSeries,
    private readonly script: ScenarioScript,
    seed: number,
  ) {
    const lower = spec.symbol.toLowerCase();
    this.streams = {
      aggTrade: `${lower}@aggTrade`,
      kline: `${lower}@kline_1m`,
      markPrice1s: `${lower}@markPrice@1s`,
      markPrice: `${lower}@markPrice`,
      forceOrder: `${lower}@forceOrder`,
      bookTicker: `${lower}@bookTicker`,
    };
    this.rng = new Rng(seed).fork(`feed:${spec.symbol}`);
    this.loopMs = series.spanMs + LOOP_GAP_MS;
    // The originals replay at their recorded prices; clones are scaled to a plausible level.
    ({ priceMul: this.priceMul, qtyMul: this.qtyMul } = cloneScale(spec, series));
    // Start just before the phase point, so the first recorded trade of an original lands at start + 1 ms.
    this.playhead = (spec.phase ?? 0) * this.loopMs - 1;
    this.seek(this.playhead);
    // Ids in a plausible range, distinct per symbol, increasing forever.
    this.tradeId = spec.baseAsset === series.source ? series.firstTradeId - 1 : 1_000_000_000 + this.rng.int(2_000_000_000);
    this.nextAggId = Math.floor(this.tradeId * 0.46);
    this.bookUpdateId = 5_000_000_000_000 + this.rng.int(1_000_000_000);
    this.lastSrcPrice = series.priceUnits[this.cursor] as number;
    this.lastPriceUnits = Math.max(1, Math.round(this.lastSrcPrice * this.priceMul)) * spec.tickUnits;
  }

  get symbol(): string {
    return this.spec.symbol;
  }

  /** Put the cursor on the first recorded trade after data time `p` (any loop, negative ones too). */
  private seek(p: number): void {
    const s = this.series;
    const off = s.offsetMs;
    const loop = Math.floor(p / this.loopMs);
    const rel = p - loop * this.loopMs;
    // Forward loops play offsets ascending; backward (odd) loops play them descending from the end.
    const forward = (loop & 1) === 0;
    const bound = forward ? rel : s.spanMs - rel;
    let lo = 0;
    let hi = s.n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (forward ? (off[mid] as number) <= bound : (off[mid] as number) < bound) lo = mid + 1;
      else hi = mid;
    }
    // Forward: the first offset past rel; backward: the last offset before span − rel.
    const cursor = forward ? lo : lo - 1;
    if (forward ? cursor < s.n : cursor >= 0) {
      this.loop = loop;
      this.cursor = cursor;
    } else {
      this.loop = loop + 1;
      this.cursor = forward ? s.n - 1 : 0;
    }
    this.playhead = p;
  }

  /**
   * The market before start: the aggTrades of exchange time (startMs − historyMs, startMs], as the
   * exchange would list them, for \`GET /fapi/v1/aggTrades\`. The feed is left exactly as it was, so
   * what it publishes from start on does not depend on whether a history was made: the past is
   * played from the recording just before the phase point, and its ids end where the live ones begin.
   */
  prehistory(startMs: number, historyMs: number): AggTrade[] {
    if (historyMs <= 0) return [];
    const s = this.series;
    const livePlayhead = this.playhead;
    const tradeId0 = this.tradeId;
    const aggId0 = this.nextAggId;
    this.seek(livePlayhead - historyMs);
    const events: SimEvent[] = [];
    for (let t = startMs - historyMs; t < startMs; t += 10_000) this.advance(t, Math.min(startMs, t + 10_000), 1, events);
    const dTrade = this.tradeId - tradeId0;
    const dAgg = this.nextAggId - aggId0;
    const out: AggTrade[] = [];
    for (const e of events) if (e.kind === 'agg') out.push({ ...e.agg, a: e.agg.a - dAgg, f: e.agg.f - dTrade, l: e.agg.l - dTrade });
    // Back to the state the constructor left: same cursor, ids, prices and send order.
    this.seek(livePlayhead);
    this.tradeId = tradeId0;
    this.nextAggId = aggId0;
    this.lastE = 0;
    this.lastSrcPrice = s.priceUnits[this.cursor] as number;
    this.lastPriceUnits = Math.max(1, Math.round(this.lastSrcPrice * this.priceMul)) * this.spec.tickUnits;
    return out;
  }

  /** A published aggTrade's price and size as the exchange prints them. */
  decimals(pU: number, qU: number): { p: string; q: string } {
    return { p: fromUnits(pU, this.spec.pricePrecision), q: fromUnits(qU, this.spec.quantityPrecision) };
  }

  /** Where the replay is in the recording's data time (ms into the first loop; grows across loops). */
  get playheadMs(): number {
    return this.playhead;
  }

  /** Current price as a number (mark price, liquidation pricing). */
  get price(): number {
    return this.lastPriceUnits / pow10(this.spec.pricePrecision);
  }

  /** Append this symbol's aggTrades for exchange time (t0, t1] to `out`. */
  advance(t0: number, t1: number, rate: number, out: SimEvent[]): void {
    const s = this.series;
    const raws = this.raws;
    raws.length = 0;
    this.script.injectTrades(this.spec.symbol, s, t0, t1, raws);
    if (raws.length > 1) raws.sort((a, b) => a.t - b.t);
    const dataStart = this.playhead;
    const dataEnd = dataStart + (t1 - t0) * rate;
    let inj = 0;
    for (;;) {
      const reversed = (this.loop & 1) === 1;
      const off = s.offsetMs[this.cursor] as number;
      const x = this.loop * this.loopMs + (reversed ? s.spanMs - off : off);
      const recorded = x <= dataEnd;
      const tRec = recorded ? t0 + (x - dataStart) / rate : Infinity;
      const nextInj = raws[inj];
      if (nextInj !== undefined && nextInj.t <= tRec) {
        this.injected(nextInj, out);
        inj++;
        continue;
      }
      if (!recorded) break;
      this.recorded(this.cursor, tRec, reversed, out);
      if (reversed ? --this.cursor < 0 : ++this.cursor >= s.n) {
        this.loop++;
        this.cursor = reversed ? 0 : s.n - 1;
      }
    }
    this.playhead = dataEnd;
    this.flush(out);
  }

  /**
   * Loops alternate forward and backward (ping-pong), so a loop ends at the price the next one
   * starts from: no jump at the seam and no drift however long the run. A backward loop flips
   * the taker side, keeping "buyers lift the price" true in the replayed direction.
   */
  private recorded(i: number, t: number, reversed: boolean, out: SimEvent[]): void {
    const s = this.series;
    const T = Math.max(1, Math.floor(t));
    const src = s.priceUnits[i] as number;
    this.lastSrcPrice = src;
    const ticks = Math.max(1, Math.round(src * this.priceMul * this.script.priceFactor(this.spec.symbol, T)));
    const steps = Math.max(1, Math.round((s.qtyUnits[i] as number) * this.qtyMul));
    const maker = (s.buyerMaker[i] === 1) !== reversed;
    this.fill(T, T + (s.sendDelayMs[i] as number), ticks * this.spec.tickUnits, steps * this.spec.stepUnits, maker, s.idStep[i] as number, out);
  }

  private injected(x: InjectedTrade, out: SimEvent[]): void {
    const spec = this.spec;
    const T = Math.max(1, Math.floor(x.t));
    let ticks = Math.max(1, Math.round(this.lastSrcPrice * this.priceMul * this.script.priceFactor(spec.symbol, T)));
    // A sweep takes liquidity a tick or two through the touch.
    const through = this.rng.int(3);
    ticks = Math.max(1, x.buyerMaker ? ticks - through : ticks + through);
    const price = (ticks * spec.tickUnits) / pow10(spec.pricePrecision);
    const steps = Math.max(1, Math.round(((x.notional / price) * pow10(spec.quantityPrecision)) / spec.stepUnits));
    this.fill(T, T, ticks * spec.tickUnits, steps * spec.stepUnits, x.buyerMaker, 1, out);
  }

  /** Aggregate like the exchange: same taker side, same price, same trade time → one aggTrade (§4.1). */
  private fill(T: number, E: number, pU: number, qU: number, m: boolean, idStep: number, out: SimEvent[]): void {
    this.tradeId += idStep;
    const p = this.pending;
    if (p !== null && p.T === T && p.m === m && p.pU === pU) {
      p.qU += qU;
      p.l = this.tradeId;
      p.n++;
      if (E > p.E) p.E = E;
      return;
    }
    this.flush(out);
    this.pending = { a: this.nextAggId++, pU, qU, f: this.tradeId, l: this.tradeId, T, E, m, n: 1 };
  }

  private flush(out: SimEvent[]): void {
    const p = this.pending;
    if (p === null) return;
    this.pending = null;
    if (p.E < this.lastE) p.E = this.lastE;
    this.lastE = p.E;
    out.push({ kind: 'agg', time: p.E, prio: 2, feed: this, agg: p });
  }

  /** Account a trade as published: price and the running 1m candle. */
  onPublished(a: AggTrade): void {
    this.lastPriceUnits = a.pU;
    const minute = Math.max(a.T - (a.T % 60_000), this.kLastClosed + 60_000);
    const k = this.k;
    if (this.kOpen < 0 || minute > this.kOpen) {
      this.kOpen = minute;
      k.o = k.h = k.l = a.pU;
      k.v = k.n = k.q = k.V = k.Q = 0;
      k.f = a.f;
    }
    if (a.pU > k.h) k.h = a.pU;
    if (a.pU < k.l) k.l = a.pU;
    k.c = a.pU;
    k.L = a.l;
    k.v += a.qU;
    k.n += a.n;
    const quote = a.pU * a.qU;
    k.q += quote;
    if (!a.m) {
      k.V += a.qU;
      k.Q += quote;
    }
    this.kDirty = true;
  }

  aggTradeText(a: AggTrade): string {
    const spec = this.spec;
    return aggTradeFrame(a.E, a.a, spec.symbol, fromUnits(a.pU, spec.pricePrecision), fromUnits(a.qU, spec.quantityPrecision), a.f, a.l, a.T, a.m);
  }

  bookTickerText(a: AggTrade): string {
    const spec = this.spec;
    const bid = a.m ? a.pU : Math.max(spec.tickUnits, a.pU - spec.tickUnits);
    const ask = a.m ? a.pU + spec.tickUnits : a.pU;
    const size = (): string => fromUnits(spec.stepUnits * (1 + this.rng.int(400)), spec.quantityPrecision);
    this.bookUpdateId += 1 + this.rng.int(50);
    return bookTickerFrame(this.bookUpdateId, spec.symbol, fromUnits(bid, spec.pricePrecision), size(), fromUnits(ask, spec.pricePrecision), size(), a.T, a.E);
  }

  /**
   * The kline push due at a 250 ms boundary: the running candle if it changed, or the final
   * (x = true) candle when the boundary closes its minute. Null when there is nothing to say.
   */
  klineAt(boundary: number): string | null {
    if (this.kOpen < 0) return null;
    const closes = boundary >= this.kOpen + 60_000;
    if (!closes && !this.kDirty) return null;
    this.kDirty = false;
    const spec = this.spec;
    const pp = spec.pricePrecision;
    const qp = spec.quantityPrecision;
    const k = this.k;
    // Quote volume in (price units × qty units); scale back once, at print time.
    const quoteScale = pow10(pp) * pow10(qp);
    const body: KlineBody = {
      t: this.kOpen,
      T: this.kOpen + 59_999,
      f: k.f,
      L: k.L,
      o: fromUnits(k.o, pp),
      c: fromUnits(k.c, pp),
      h: fromUnits(k.h, pp),
      l: fromUnits(k.l, pp),
      v: fromUnits(k.v, qp),
      n: k.n,
      x: closes,
      q: fixed(k.q / quoteScale, Math.min(8, pp + qp)),
      V: fromUnits(k.V, qp),
      Q: fixed(k.Q / quoteScale, Math.min(8, pp + qp)),
    };
    if (closes) {
      this.kLastClosed = this.kOpen;
      this.kOpen = -1;
    }
    return klineFrame(boundary, spec.symbol, '1m', body);
  }

  /** `markPriceUpdate` at a whole second, the recorded mark/index/settle relations applied to our price. */
  markPriceAt(second: number, ratios: readonly MarkRatio[]): string {
    const p = this.price;
    this.markEma = this.markEma === 0 ? p : this.markEma + 0.1 * (p - this.markEma);
    const r = ratios.length > 0 ? (ratios[Math.floor(second / 1000) % ratios.length] as MarkRatio) : null;
    const nextFunding = (Math.floor(second / EIGHT_HOURS) + 1) * EIGHT_HOURS;
    return markPriceFrame(
      second,
      this.spec.symbol,
      fixed(p, 8),
      fixed(this.markEma, 8),
      fixed(p * (r?.indexOverMark ?? 1.0002), 8),
      fixed(p * (r?.settleOverMark ?? 0.9999), 8),
      r?.fundingRate ?? '0.00010000',
      nextFunding,
    );
  }
}
