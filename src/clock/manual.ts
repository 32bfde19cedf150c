/**
 * A clock that moves only when told to (after nautilus_trader's TestClock): tests advance time
 * instead of sleeping, and every timer due on the way fires in order of its due time, with
 * `now()` reading that due time while it runs. Callbacks may schedule or cancel timers; those
 * falling due within the same advance fire in the same call.
 */
import type { Clock, Timer } from './clock';

interface Pending {
  due: number;
  /** Repeat period for `every`, null for `after`. */
  period: number | null;
  fn: () => void;
  /** Scheduling order: ties on `due` fire first-scheduled first. */
  seq: number;
}

export class ManualClock implements Clock {
  /** Manual time has no wall rate: machine cadences are taken as they are configured. */
  readonly speed = 1;
  private t: number;
  private seq = 0;
  private readonly pending = new Set<Pending>();

  /**
   * `random` defaults to 0.5: every jitter in this code base is `1 ± j·(2r − 1)`, so 0.5 makes
   * each retry delay exactly its nominal value.
   */
  constructor(
    startMs = 0,
    private readonly rand: () => number = () => 0.5,
  ) {
    this.t = startMs;
  }

  now(): number {
    return this.t;
  }

  random(): number {
    return this.rand();
  }

  after(ms: number, fn: () => void): Timer {
    return this.schedule(Math.max(0, ms), null, fn);
  }

  every(ms: number, fn: () => void): Timer {
    const period = Math.max(1, ms);
    return this.schedule(period, period, fn);
  }

  private schedule(delay: number, period: number | null, fn: () => void): Timer {
    const p: Pending = { due: this.t + delay, period, fn, seq: ++this.seq };
    this.pending.add(p);
    return { cancel: () => this.pending.delete(p) };
  }

  /** Timers not yet fired (periodic ones count once). */
  get timers(): number {
    return this.pending.size;
  }

  /** When the next timer falls due, or null when none is pending. */
  nextDue(): number | null {
    const p = this.earliest();
    return p === null ? null : p.due;
  }

  /** Move time forward by `ms`, firing what falls due; returns how many callbacks ran. */
  advance(ms: number): number {
    if (!(ms >= 0)) throw new Error(`a manual clock only moves forward; advance(${ms}) asked to go back`);
    return this.advanceTo(this.t + ms);
  }

  /** Move time forward to `target` (epoch ms), firing what falls due; returns how many callbacks ran. */
  advanceTo(target: number): number {
    if (target < this.t) throw new Error(`a manual clock only moves forward: ${target} is before now (${this.t})`);
    let fired = 0;
    for (let p = this.earliest(); p !== null && p.due <= target; p = this.earliest()) {
      this.t = p.due;
      if (p.period === null) this.pending.delete(p);
      else {
        p.due += p.period;
        p.seq = ++this.seq;
      }
      fired++;
      p.fn();
    }
    this.t = target;
    return fired;
  }

  private earliest(): Pending | null {
    let best: Pending | null = null;
    for (const p of this.pending) if (best === null || p.due < best.due || (p.due === best.due && p.seq < best.seq)) best = p;
    return best;
  }
}
