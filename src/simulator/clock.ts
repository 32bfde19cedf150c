/**
 * The exchange clock. Everything the simulator stamps (T, E, REST `time`, rate-limit windows,
 * fault durations) is on this clock; only timers are in wall time, scaled by `speed`.
 */
import { performance } from 'node:perf_hooks';

export class SimClock {
  private readonly wall0 = performance.now();

  constructor(
    readonly startMs: number,
    readonly speed: number,
  ) {
    if (!(speed > 0) || !Number.isFinite(speed)) throw new Error(`speed must be a positive number, got ${speed}`);
  }

  now(): number {
    return Math.floor(this.startMs + (performance.now() - this.wall0) * this.speed);
  }

  /** Wall milliseconds that `simMs` of exchange time take. */
  toWall(simMs: number): number {
    return Math.max(0, simMs / this.speed);
  }
}
