/**
 * The accelerated simulator clock (`--clock`, soak runs, the capture-replay test): time runs
 * `speed` times faster than the wall clock from an origin, so receive times, deadlines and
 * exchange times advance together.
 *
 * What a duration means here is the same as on every clock: simulator milliseconds. `after(d)`
 * waits d/speed wall ms, so a reconnect backoff, a Retry-After pause, the weight-window roll, the
 * 23 h 50 min rotation and the stale/cadence watchdogs all keep their exchange-time meaning, the
 * one the simulator uses for its own fault durations and rate-limit windows. Cadences that exist
 * for the machine rather than the market (the 500 ms commit, the snapshot file, the heap probe,
 * the capture flush, the watchdog checks, OI request pacing and its timeout) are configured in
 * wall ms and stretched by `speed` where they are scheduled (`machineMs` in ./clock.ts), so an
 * accelerated run does the product's work per wall second and its configuration stays inside the
 * product's bounds.
 */
import { z } from 'zod';
import { type Clock, type Timer, wallClock } from './clock';

/** Simulator ms `originMs` at wall (epoch) ms `wallOriginMs`, running `speed` times the wall clock. */
export const ClockSpecSchema = z.object({ originMs: z.number(), wallOriginMs: z.number(), speed: z.number().positive() });
export type ClockSpec = z.infer<typeof ClockSpecSchema>;

/** A clock reading `now` whose timers run `speed` times faster than those of `base`. */
export function acceleratedClock(now: () => number, speed: number, base: Clock = wallClock): Clock {
  if (!(speed > 0) || !Number.isFinite(speed)) throw new Error(`clock speed must be a positive number, got ${speed}`);
  return {
    now,
    after: (ms: number, fn: () => void): Timer => base.after(ms / speed, fn),
    every: (ms: number, fn: () => void): Timer => base.every(ms / speed, fn),
    random: () => base.random(),
    speed: speed * base.speed,
  };
}

/** The clock a spec describes (the wall clock when there is none). */
export function clockFromSpec(spec: ClockSpec | undefined, base: Clock = wallClock): Clock {
  if (spec === undefined) return base;
  const { originMs, wallOriginMs, speed } = spec;
  const now = speed === 1 ? () => base.now() + (originMs - wallOriginMs) : () => Math.floor(originMs + (base.now() - wallOriginMs) * speed);
  return acceleratedClock(now, speed, base);
}
