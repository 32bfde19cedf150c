/**
 * Open interest: one seeded random walk per symbol on a 1 s grid of the exchange clock.
 * Liquid symbols change most seconds, so a 5 s poll almost always sees a change, but not always
 * (the detector must handle "unchanged"); a cascade drains OI while it lasts.
 */
import { fixed } from './decimal';
import { Rng } from './rng';
import type { ScenarioScript } from './script';
import { ALL_SPECS, type SymbolSpec } from './universe';

interface Walk {
  spec: SymbolSpec;
  rng: Rng;
  second: number;
  value: number;
  /** Chance that OI changes in a given second. */
  pChange: number;
}

/** OI notional relative to 24 h quote volume, roughly what Binance shows for majors. */
const OI_TO_VOLUME = 0.35;
const STEP_SIGMA = 0.00004;
const CASCADE_DRAIN_PER_S = 0.0006;

export class OpenInterestBook {
  private readonly walks = new Map<string, Walk>();

  constructor(
    seed: number,
    startMs: number,
    private readonly script: ScenarioScript,
  ) {
    const root = new Rng(seed).fork('open-interest');
    const maxVolume = Math.max(...ALL_SPECS.map((s) => s.quoteVolume));
    for (const spec of ALL_SPECS) {
      if (!spec.listed) continue;
      this.walks.set(spec.symbol, {
        spec,
        rng: root.fork(spec.symbol),
        second: Math.floor(startMs / 1000),
        value: (OI_TO_VOLUME * spec.quoteVolume) / spec.refPrice,
        pChange: 0.2 + 0.45 * Math.sqrt(spec.quoteVolume / maxVolume),
      });
    }
  }

  has(symbol: string): boolean {
    return this.walks.has(symbol);
  }

  /** OI at exchange time `t` as Binance formats it (base units, quantity precision). */
  at(symbol: string, t: number): string | null {
    const w = this.walks.get(symbol);
    if (w === undefined) return null;
    const target = Math.floor(t / 1000);
    // Polls only move forward in time; an older query sees the newest value, never a rewrite.
    while (w.second < target) {
      w.second++;
      const cascading = this.script.activeCascade(w.spec.symbol, w.second * 1000) !== null;
      if (cascading) w.value *= 1 - CASCADE_DRAIN_PER_S * (1 + w.rng.next());
      else if (w.rng.next() < w.pChange) w.value *= 1 + STEP_SIGMA * w.rng.normal();
    }
    const step = 10 ** -w.spec.quantityPrecision;
    return fixed(Math.max(step, w.value), w.spec.quantityPrecision);
  }
}
