/**
 * The scripted part of the market: the `demo` liquidation cascades.
 *
 * The recorded flow alone rarely satisfies all four detector conditions at once, so `demo` lays
 * a cascade over it: a one-sided burst of extra trades (some of them large) on a few symbols, a
 * directional price move applied to every trade of those symbols (recorded ones included, so the
 * price stays coherent), liquidations (see liquidations.ts) and falling open interest (oi.ts).
 * The first cascade starts once the baselines can be warm (60 non-empty 1 s windows), counted
 * from the first aggTrade subscription rather than from start-up, so a late client still sees it —
 * or 20 s after a warm start (a client asked for aggTrades history), whose baselines are warm at once.
 */
import { Rng } from './rng';
import type { TradeSeries } from './data';
import { TOP_10 } from './universe';

export type Scenario = 'steady' | 'demo';

export interface Cascade {
  index: number;
  startMs: number;
  endMs: number;
  symbols: readonly string[];
  /** −1: a sell-off (longs liquidated); +1: a squeeze. */
  direction: -1 | 1;
  /** Fractional price move over the cascade. */
  move: number;
  /** Injected one-sided notional per second, as a multiple of the symbol's normal notional/s. */
  intensity: number;
}

export interface InjectedTrade {
  /** Exchange time, fractional ms. */
  t: number;
  buyerMaker: boolean;
  notional: number;
}

export const CASCADE = Object.freeze({
  /** Baselines need 60 non-empty 1 s windows; leave a little slack after the first subscription. */
  FIRST_AFTER_MS: 75_000,
  /** After a warm start (aggTrades history was asked for) the baselines are warm at once. */
  FIRST_AFTER_WARM_START_MS: 20_000,
  PERIOD_MS: 240_000,
  JITTER_MS: 30_000,
  DURATION_MS: 25_000,
  /** After a cascade the price gives back part of the move over this long. */
  RECOVERY_MS: 90_000,
  RECOVERY_SHARE: 0.6,
  SYMBOLS_PER_CASCADE: 3,
});

interface Displacement {
  /** Product of the factors of cascades that are fully over. */
  base: number;
  live: Cascade[];
}

function factorAt(c: Cascade, t: number): number {
  if (t <= c.startMs) return 1;
  const full = c.direction * c.move;
  if (t < c.endMs) return 1 + (full * (t - c.startMs)) / (c.endMs - c.startMs);
  const back = CASCADE.RECOVERY_SHARE * Math.min(1, (t - c.endMs) / CASCADE.RECOVERY_MS);
  return 1 + full * (1 - back);
}

export class ScenarioScript {
  readonly cascades: Cascade[] = [];
  private anchorMs: number | null = null;
  private warmStartMs: number | null = null;
  private readonly rng: Rng;
  private readonly displacement = new Map<string, Displacement>();
  /** Next injected-trade time per cascade and symbol, so a Poisson stream spans ticks seamlessly. */
  private readonly injectCursor = new Map<string, { next: number; rng: Rng }>();

  constructor(
    readonly kind: Scenario,
    seed: number,
  ) {
    this.rng = new Rng(seed).fork('scenario');
    for (const s of TOP_10) this.displacement.set(s, { base: 1, live: [] });
  }

  get anchor(): number | null {
    return this.anchorMs;
  }

  /** Called on the first aggTrade subscription; later calls do nothing. */
  setAnchor(simMs: number): void {
    if (this.anchorMs === null) this.anchorMs = simMs;
  }

  /**
   * A client asked for aggTrades history: it warm-starts, so the first cascade may come as soon as
   * FIRST_AFTER_WARM_START_MS later (if it has not been scheduled already).
   */
  noteWarmStart(simMs: number): void {
    if (this.warmStartMs === null) this.warmStartMs = simMs;
  }

  /** Make sure every cascade starting before `t + horizon` exists; settle finished ones. */
  beginTick(t: number): void {
    if (this.kind !== 'demo' || this.anchorMs === null) return;
    const horizon = t + CASCADE.DURATION_MS + 1_000;
    for (;;) {
      const last = this.cascades[this.cascades.length - 1];
      const warm = this.warmStartMs === null ? Number.POSITIVE_INFINITY : Math.max(this.anchorMs, this.warmStartMs) + CASCADE.FIRST_AFTER_WARM_START_MS;
      const start =
        last === undefined
          ? Math.min(this.anchorMs + CASCADE.FIRST_AFTER_MS, warm)
          : last.startMs + CASCADE.PERIOD_MS + Math.round(this.rng.range(-CASCADE.JITTER_MS, CASCADE.JITTER_MS));
      if (start > horizon) break;
      this.addCascade(start);
    }
    for (const d of this.displacement.values()) {
      if (d.live.length === 0) continue;
      const keep: Cascade[] = [];
      for (const c of d.live) {
        if (t > c.endMs + CASCADE.RECOVERY_MS) d.base *= factorAt(c, Infinity);
        else keep.push(c);
      }
      d.live = keep;
    }
  }

  private addCascade(startMs: number): void {
    const index = this.cascades.length;
    const symbols = index === 0 ? TOP_10.slice(0, CASCADE.SYMBOLS_PER_CASCADE) : this.rng.shuffle([...TOP_10]).slice(0, CASCADE.SYMBOLS_PER_CASCADE);
    const c: Cascade = {
      index,
      startMs,
      endMs: startMs + CASCADE.DURATION_MS,
      symbols,
      direction: index === 0 || this.rng.next() < 0.75 ? -1 : 1,
      move: this.rng.range(0.008, 0.015),
      intensity: this.rng.range(3, 5),
    };
    this.cascades.push(c);
    for (const s of symbols) this.displacement.get(s)?.live.push(c);
  }

  /** Multiplicative price displacement of `symbol` at `t` from all cascades so far. */
  priceFactor(symbol: string, t: number): number {
    const d = this.displacement.get(symbol);
    if (d === undefined) return 1;
    let f = d.base;
    for (const c of d.live) f *= factorAt(c, t);
    return f;
  }

  /** The cascade hitting `symbol` at `t`, if any. */
  activeCascade(symbol: string, t: number): Cascade | null {
    const d = this.displacement.get(symbol);
    if (d === undefined) return null;
    for (const c of d.live) if (t >= c.startMs && t < c.endMs) return c;
    return null;
  }

  /** Extra one-sided trades for `symbol` in (t0, t1], appended in time order. */
  injectTrades(symbol: string, series: TradeSeries, t0: number, t1: number, out: InjectedTrade[]): void {
    const d = this.displacement.get(symbol);
    if (d === undefined) return;
    for (const c of d.live) {
      if (t1 <= c.startMs || t0 >= c.endMs) continue;
      const key = `${c.index}:${symbol}`;
      let cur = this.injectCursor.get(key);
      if (cur === undefined) {
        cur = { next: c.startMs, rng: this.rng.fork(key) };
        this.injectCursor.set(key, cur);
      }
      const rate = Math.max(5, 0.8 * series.tradesPerSec) / 1000;
      const meanNotional = (c.intensity * series.notionalPerSec) / (rate * 1000);
      const end = Math.min(t1, c.endMs);
      while (cur.next <= end) {
        if (cur.next > t0) {
          const r = cur.rng;
          // Mostly with the cascade; a few contrarian fills, as in any real sweep.
          const withFlow = r.next() < 0.9;
          const sell = c.direction < 0 === withFlow;
          let notional = meanNotional * Math.exp(1.1 * r.normal() - 0.605);
          if (withFlow && r.next() < 0.06) notional = Math.max(notional, series.p99Notional * r.range(2, 5));
          out.push({ t: cur.next, buyerMaker: sell, notional });
        }
        cur.next += cur.rng.exp(rate);
      }
      if (t1 >= c.endMs) this.injectCursor.delete(key);
    }
  }
}
