/**
 * The exchange clock. Everything the simulator stamps (T, E, REST `time`, rate-limit windows,
 * fault durations) is on this clock; only timers are in wall time, scaled by `speed`.
 *
 * Given a `source` clock (tests share one ManualClock between the simulator and the collector),
 * the exchange time is that clock's time and every timer runs on it: nothing moves until the
 * test advances it.
 */
import { performance } from 'node:perf_hooks';
import type { Clock, Timer } from '../clock/clock';

export class SimClock {
  private readonly wall0 = performance.now();

  constructor(
    readonly startMs: number,
    readonly speed: number,
    private readonly source: Clock | null = null,
  ) {
    if (!(speed > 0) || !Number.isFinite(speed)) throw new Error(`speed must be a positive number, got ${speed}`);
  }

  now(): number {
    if (this.source !== null) return this.source.now();
    return Math.floor(this.startMs + (performance.now() - this.wall0) * this.speed);
  }

  /** Wall milliseconds that `simMs` of exchange time take. */
  toWall(simMs: number): number {
    return Math.max(0, simMs / this.speed);
  }

  /** Run `fn` once `simMs` of exchange time have passed. */
  after(simMs: number, fn: () => void): Timer {
    if (this.source !== null) return this.source.after(simMs, fn);
    const t = setTimeout(fn, this.toWall(simMs));
    return { cancel: () => clearTimeout(t) };
  }

  /**
   * Run `fn` every `wallMs` of wall time (the batching loop), not holding the process open; on a
   * source clock, every `wallMs` of its time.
   */
  everyWall(wallMs: number, fn: () => void): Timer {
    if (this.source !== null) return this.source.every(wallMs, fn);
    const t = setInterval(fn, wallMs);
    t.unref();
    return { cancel: () => clearInterval(t) };
  }
}
