/**
 * Liquidations for `!forceOrder@arr` and `<s>@forceOrder`.
 *
 * Where the recorded CSV is available its rows drive everything: the calm spans as a looping
 * background, the 2025-01-27 sell-off span for the demo cascades. Rows of symbols the simulator
 * prices itself are re-priced to the simulated market (notional kept); other symbols keep their
 * recorded strings, which gives the realistic stream of liquidations outside the TOP_10.
 * COIN-M liquidations (st = 2) are scripted: the CSV predates the 2026 UM/CM merge.
 */
import type { LiquidationRow } from './data';
import { fixed, fromUnits } from './decimal';
import { Rng } from './rng';
import type { Cascade, ScenarioScript } from './script';
import { COIN_M_LIQUIDATION_SYMBOLS, specOf, TOP_10, TOP_10_SPECS } from './universe';

export interface LiquidationArrival {
  /** Order trade time T on the exchange clock. */
  t: number;
  symbol: string;
  side: 'BUY' | 'SELL';
  /** COIN-M pair for st = 2 rows, else null. */
  coinPair: string | null;
  /** Re-priced against the simulated market at arrival. */
  priced: { notional: number; limitOverAvg: number; lastFillShare: number; slip: number } | null;
  /** Recorded strings, for symbols the simulator does not price. */
  recorded: LiquidationRow['text'] | null;
}

export interface FormattedLiquidation {
  symbol: string;
  side: 'BUY' | 'SELL';
  q: string;
  p: string;
  ap: string;
  l: string;
  z: string;
  T: number;
  st: 1 | 2;
  ps: string;
}

/** The DeepSeek sell-off in the CSV, and the minutes inside it where liquidations bunch up. */
const SELL_OFF_START = Date.UTC(2025, 0, 27, 16, 50, 0);
const SELL_OFF_END = Date.UTC(2025, 0, 27, 17, 20, 30);
const BURST_MINUTES = [Date.UTC(2025, 0, 27, 17, 8, 0), Date.UTC(2025, 0, 27, 16, 53, 0), Date.UTC(2025, 0, 27, 16, 54, 0)];

/** Names used when the CSV is absent; all real USDⓈ-M perpetuals outside the TOP_10. */
const OUTSIDE_TOP_10: readonly { symbol: string; price: number; pp: number; qp: number }[] = [
  { symbol: 'ACHUSDT', price: 0.02731, pp: 6, qp: 0 },
  { symbol: 'FARTCOINUSDT', price: 0.7412, pp: 4, qp: 1 },
  { symbol: 'TRUMPUSDT', price: 31.42, pp: 3, qp: 1 },
  { symbol: 'TAOUSDT', price: 402.1, pp: 2, qp: 3 },
  { symbol: 'JUPUSDT', price: 0.8721, pp: 4, qp: 0 },
  { symbol: 'CFXUSDT', price: 0.1212, pp: 6, qp: 0 },
];

const BACKGROUND_RATE_PER_S = 0.25;
const COIN_M_MEAN_GAP_MS = 20_000;
const MAX_RECORDED_GAP_MS = 20_000;

function lognormal(rng: Rng, median: number, sigma: number): number {
  return median * Math.exp(sigma * rng.normal());
}

function pricedFromRow(row: LiquidationRow, rng: Rng): LiquidationArrival['priced'] {
  return {
    notional: row.z * row.ap,
    limitOverAvg: row.p / row.ap,
    lastFillShare: Math.min(1, row.l / row.z),
    slip: rng.range(0, 0.0006),
  };
}

function scriptedPriced(side: 'BUY' | 'SELL', notional: number, rng: Rng): LiquidationArrival['priced'] {
  // The IOC limit sits beyond the fill: below it for SELL, above it for BUY (BINANCE.md §4.3).
  const gap = rng.range(0.002, 0.006);
  return { notional, limitOverAvg: side === 'SELL' ? 1 - gap : 1 + gap, lastFillShare: rng.next() < 0.7 ? 1 : rng.range(0.1, 0.9), slip: rng.range(0, 0.0006) };
}

export class LiquidationFeed {
  private readonly background: readonly LiquidationRow[];
  private readonly sellOff: readonly LiquidationRow[];
  private readonly rng: Rng;
  private bgIndex = 0;
  private bgNext: number;
  private cmNext: number;
  /** Arrivals scheduled ahead (cascades), kept sorted by t. */
  private queue: LiquidationArrival[] = [];
  private cascadesQueued = 0;

  constructor(
    rows: readonly LiquidationRow[] | null,
    private readonly script: ScenarioScript,
    seed: number,
    startMs: number,
  ) {
    this.rng = new Rng(seed).fork('liquidations');
    const all = rows ?? [];
    this.background = all.filter((r) => r.T < SELL_OFF_START || r.T > SELL_OFF_END);
    this.sellOff = all.filter((r) => r.T >= SELL_OFF_START && r.T <= SELL_OFF_END);
    this.bgNext = startMs + this.rng.range(200, 3000);
    this.cmNext = startMs + this.rng.exp(1 / COIN_M_MEAN_GAP_MS);
  }

  get usesRecordedRows(): boolean {
    return this.background.length > 0;
  }

  /** Arrivals with t in (t0, t1], in time order. */
  advance(t0: number, t1: number, out: LiquidationArrival[]): void {
    while (this.cascadesQueued < this.script.cascades.length) {
      const c = this.script.cascades[this.cascadesQueued++] as Cascade;
      this.queueCascade(c);
    }
    const from = out.length;
    while (this.bgNext <= t1) {
      out.push(this.backgroundArrival(Math.max(t0 + 1, Math.floor(this.bgNext))));
      this.bgNext += this.backgroundGap();
    }
    while (this.cmNext <= t1) {
      if (this.cmNext > t0) out.push(this.coinMargined(Math.floor(this.cmNext)));
      this.cmNext += this.rng.exp(1 / COIN_M_MEAN_GAP_MS);
    }
    let i = 0;
    while (i < this.queue.length && (this.queue[i] as LiquidationArrival).t <= t1) i++;
    if (i > 0) {
      for (const a of this.queue.slice(0, i)) if (a.t > t0) out.push(a);
      this.queue = this.queue.slice(i);
    }
    const added = out.splice(from).sort((a, b) => a.t - b.t);
    out.push(...added);
  }

  /** Time to the next background arrival: the recorded gap between the row just sent and the next one. */
  private backgroundGap(): number {
    const n = this.background.length;
    if (n < 2) return this.rng.exp(BACKGROUND_RATE_PER_S / 1000);
    const cur = this.background[(this.bgIndex - 1 + n) % n] as LiquidationRow;
    const nxt = this.background[this.bgIndex % n] as LiquidationRow;
    const gap = nxt.T - cur.T;
    // Recorded spans are separated by hours; bridge those with a short random pause.
    return gap > 0 && gap <= MAX_RECORDED_GAP_MS ? gap : this.rng.range(1000, 8000);
  }

  private backgroundArrival(t: number): LiquidationArrival {
    if (this.background.length > 0) {
      const row = this.background[this.bgIndex % this.background.length] as LiquidationRow;
      this.bgIndex++;
      return this.fromRow(row, t, row.symbol, row.side);
    }
    const r = this.rng;
    const side = r.next() < 0.6 ? 'SELL' : 'BUY';
    if (r.next() < 0.35) {
      return { t, symbol: this.weightedTop10(), side, coinPair: null, priced: scriptedPriced(side, lognormal(r, 2_000, 1.3), r), recorded: null };
    }
    return this.outside(t, side, lognormal(r, 800, 1.3));
  }

  private weightedTop10(): string {
    const total = TOP_10_SPECS.reduce((s, x) => s + Math.sqrt(x.quoteVolume), 0);
    let u = this.rng.next() * total;
    for (const s of TOP_10_SPECS) {
      u -= Math.sqrt(s.quoteVolume);
      if (u <= 0) return s.symbol;
    }
    return TOP_10[0] as string;
  }

  private outside(t: number, side: 'BUY' | 'SELL', notional: number): LiquidationArrival {
    const o = this.rng.pick(OUTSIDE_TOP_10);
    const ap = o.price * (1 + this.rng.range(-0.01, 0.01));
    const step = 10 ** -o.qp;
    const qty = Math.max(step, notional / ap);
    const pr = scriptedPriced(side, notional, this.rng);
    const q = fixed(qty, o.qp);
    return {
      t,
      symbol: o.symbol,
      side,
      coinPair: null,
      priced: null,
      recorded: {
        q,
        z: q,
        l: pr !== null && pr.lastFillShare < 1 ? fixed(Math.max(step, qty * pr.lastFillShare), o.qp) : q,
        ap: fixed(ap, o.pp),
        p: fixed(ap * (pr?.limitOverAvg ?? 1), o.pp),
      },
    };
  }

  private coinMargined(t: number): LiquidationArrival {
    const cm = this.rng.pick(COIN_M_LIQUIDATION_SYMBOLS);
    const side = this.rng.next() < 0.6 ? 'SELL' : 'BUY';
    // Contracts are worth $100 (BTC) or $10 (ETH); notional here is in contracts × face value.
    const contracts = 1 + Math.floor(lognormal(this.rng, 8, 1.0));
    const face = cm.base === 'BTC' ? 100 : 10;
    return { t, symbol: cm.symbol, side, coinPair: cm.pair, priced: scriptedPriced(side, contracts * face, this.rng), recorded: null };
  }

  private fromRow(row: LiquidationRow, t: number, symbol: string, side: 'BUY' | 'SELL'): LiquidationArrival {
    const priceItself = specOf(symbol) !== undefined;
    return {
      t,
      symbol,
      side,
      coinPair: null,
      priced: priceItself ? pricedFromRow(row, this.rng) : null,
      recorded: priceItself ? null : row.text,
    };
  }

  private queueCascade(c: Cascade): void {
    const dirSide: 'BUY' | 'SELL' = c.direction < 0 ? 'SELL' : 'BUY';
    const r = this.rng.fork(`cascade-liq-${c.index}`);
    const arrivals: LiquidationArrival[] = [];
    const lead = 500;
    if (this.sellOff.length > 0) {
      const sliceStart = BURST_MINUTES[c.index % BURST_MINUTES.length] as number;
      const slice = this.sellOff.filter((row) => row.T >= sliceStart && row.T < sliceStart + (c.endMs - c.startMs));
      let rr = 0;
      for (const row of slice) {
        const t = c.startMs + lead + (row.T - sliceStart);
        if (c.symbols.includes(row.symbol)) {
          arrivals.push(this.fromRow(row, t, row.symbol, dirSide));
        } else if (!TOP_10.includes(row.symbol) && r.next() < 0.4) {
          // Symbol-mapped: part of the market-wide sweep lands on the cascading symbols.
          const target = c.symbols[rr++ % c.symbols.length] as string;
          arrivals.push({ t, symbol: target, side: dirSide, coinPair: null, priced: pricedFromRow(row, r), recorded: null });
        } else {
          arrivals.push(this.fromRow(row, t, row.symbol, row.side));
        }
      }
    } else {
      for (const symbol of c.symbols) {
        let t = c.startMs + lead;
        while ((t += r.exp(1.5 / 1000)) < c.endMs) {
          arrivals.push({
            t: Math.floor(t),
            symbol,
            side: dirSide,
            coinPair: null,
            priced: scriptedPriced(dirSide, lognormal(r, 8_000, 1.2), r),
            recorded: null,
          });
        }
      }
      let t = c.startMs + lead;
      while ((t += r.exp(2 / 1000)) < c.endMs) arrivals.push(this.outside(Math.floor(t), dirSide, lognormal(r, 1_500, 1.3)));
    }
    this.queue = [...this.queue, ...arrivals].sort((a, b) => a.t - b.t);
  }
}

/**
 * Decimal strings for one arrival. `priceOf` gives the symbol's current simulated price (TOP_10),
 * its reference price (other listed symbols) or the underlying's price (COIN-M).
 */
export function formatLiquidation(a: LiquidationArrival, priceOf: (symbol: string) => number): FormattedLiquidation | null {
  const ps = a.coinPair ?? a.symbol.replace(/_\d{6}$/, '');
  const base = { symbol: a.symbol, side: a.side, T: a.t, st: a.coinPair !== null ? (2 as const) : (1 as const), ps };
  if (a.recorded !== null) return { ...base, ...a.recorded };
  const pr = a.priced;
  if (pr === null) return null;
  let pp: number;
  let qp: number;
  let tickUnits = 1;
  let stepUnits = 1;
  if (a.coinPair !== null) {
    pp = a.coinPair.startsWith('BTC') ? 1 : 2;
    qp = 0;
  } else {
    const spec = specOf(a.symbol);
    if (spec === undefined) return null;
    pp = spec.pricePrecision;
    qp = spec.quantityPrecision;
    tickUnits = spec.tickUnits;
    stepUnits = spec.stepUnits;
  }
  const price = priceOf(a.symbol);
  if (!(price > 0)) return null;
  // A SELL liquidation fills a little below the market, a BUY a little above.
  const ap = price * (a.side === 'SELL' ? 1 - pr.slip : 1 + pr.slip);
  const pScale = 10 ** pp;
  const tick = (units: number): string => fromUnits(Math.max(tickUnits, Math.round(units / tickUnits) * tickUnits), pp);
  const qUnits =
    a.coinPair !== null
      ? Math.max(1, Math.round(pr.notional / (a.coinPair.startsWith('BTC') ? 100 : 10)))
      : Math.max(stepUnits, Math.round(((pr.notional / ap) * 10 ** qp) / stepUnits) * stepUnits);
  const lUnits = Math.min(qUnits, Math.max(stepUnits, Math.round((qUnits * pr.lastFillShare) / stepUnits) * stepUnits));
  return {
    ...base,
    q: fromUnits(qUnits, qp),
    z: fromUnits(qUnits, qp),
    l: fromUnits(lUnits, qp),
    ap: tick(ap * pScale),
    p: tick(ap * pr.limitOverAvg * pScale),
  };
}
