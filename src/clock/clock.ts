/**
 * The one clock of the live side: reading time (`now`), acting later (`after`, `every`) and the
 * randomness of retry jitter (`random`). Everything outside `src/clock/` and `src/simulator/`
 * gets time from an injected Clock (eslint enforces it), so the same code runs on the wall clock
 * in the product, on an accelerated simulator clock in soak runs and on a manual clock in tests.
 *
 * Durations are in the clock's own milliseconds: `after(d, fn)` runs `fn` once `now()` has moved
 * on by `d`. On the wall clock that is wall time; on an accelerated clock it is simulator time
 * (src/clock/accelerated.ts says what that means for cadences); on the manual clock it is
 * whatever the test advanced.
 */

/** A scheduled callback; `cancel()` is idempotent. */
export interface Timer {
  cancel(): void;
}

export interface Clock {
  /** Epoch milliseconds, whole. */
  now(): number;
  /** Run `fn` once, `ms` from now. */
  after(ms: number, fn: () => void): Timer;
  /** Run `fn` every `ms` (the first time `ms` from now) until cancelled. */
  every(ms: number, fn: () => void): Timer;
  /** Uniform in [0, 1): jitter for retries. */
  random(): number;
  /**
   * How many of this clock's ms pass per wall ms: 1 on the wall and manual clocks, the speed of
   * an accelerated one. Cadences that exist for the machine (commits, file writes, flushes,
   * watchdog checks, request pacing) are stretched by it (`machineMs`), so an accelerated run does
   * the product's work per wall second; market durations (backoffs, Retry-After, rotation, stale
   * and silence thresholds) are not.
   */
  readonly speed: number;
}

/** A machine-side cadence of `ms` wall milliseconds, on `clock`'s time scale. */
export function machineMs(clock: Clock, ms: number): number {
  return ms * clock.speed;
}

/** The process's own clock: Date.now and Node's timers. */
export const wallClock: Clock = Object.freeze({
  now: () => Date.now(),
  after: (ms: number, fn: () => void): Timer => {
    const t = setTimeout(fn, ms);
    return { cancel: () => clearTimeout(t) };
  },
  every: (ms: number, fn: () => void): Timer => {
    const t = setInterval(fn, ms);
    return { cancel: () => clearInterval(t) };
  },
  random: () => Math.random(),
  speed: 1,
});

/** Resolves after `ms` on `clock`, or at once when `signal` aborts (shutdown must not wait out a retry delay). */
export function sleep(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = (): void => {
      timer.cancel();
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = clock.after(ms, done);
    signal?.addEventListener('abort', done, { once: true });
  });
}
