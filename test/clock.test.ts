/**
 * The one clock: the manual clock tests drive (timers fire in due order, `now()` reads each
 * timer's due time while it runs), `sleep` with shutdown, and the accelerated simulator clock
 * (timers scaled by the speed, time from the spec's origin) on a manual base.
 */
import { describe, expect, it } from 'vitest';
import { acceleratedClock, ClockSpecSchema, clockFromSpec } from '../src/clock/accelerated';
import { sleep, wallClock } from '../src/clock/clock';
import { ManualClock } from '../src/clock/manual';

const T0 = 1_767_700_000_000;

describe('manual clock', () => {
  it('fires due timers in order of due time, ties in scheduling order, with now() at each due time', () => {
    const c = new ManualClock(T0);
    const seen: string[] = [];
    c.after(300, () => seen.push(`c@${c.now() - T0}`));
    c.after(100, () => seen.push(`a@${c.now() - T0}`));
    c.after(100, () => seen.push(`b@${c.now() - T0}`));
    c.every(250, () => seen.push(`tick@${c.now() - T0}`));
    expect(c.advance(99)).toBe(0);
    expect(c.now()).toBe(T0 + 99);
    expect(c.advance(451)).toBe(5);
    expect(seen).toEqual(['a@100', 'b@100', 'tick@250', 'c@300', 'tick@500']);
    expect(c.now()).toBe(T0 + 550);
    expect(c.nextDue()).toBe(T0 + 750);
  });

  it('runs timers scheduled by a callback within the same advance, and honours cancel', () => {
    const c = new ManualClock(0);
    const seen: number[] = [];
    let links = 0;
    const chain = (): void => {
      seen.push(c.now());
      if (++links < 4) c.after(10, chain);
    };
    c.after(10, chain);
    const never = c.after(20, () => seen.push(-1));
    never.cancel();
    never.cancel();
    const tick = c.every(15, () => {
      seen.push(1000 + c.now());
      tick.cancel();
    });
    c.advance(100);
    expect(seen).toEqual([10, 1015, 20, 30, 40]);
    expect(c.timers).toBe(0);
    expect(c.nextDue()).toBeNull();
  });

  it('only moves forward, and its random() is the jitter-neutral 0.5 unless given one', () => {
    const c = new ManualClock(T0);
    expect(() => c.advance(-1)).toThrow(/only moves forward/);
    expect(() => c.advanceTo(T0 - 1)).toThrow(/before now/);
    expect(c.random()).toBe(0.5);
    expect(new ManualClock(0, () => 0.25).random()).toBe(0.25);
  });

  it('sleep resolves after the time on the clock, or at once on abort', async () => {
    const c = new ManualClock(0);
    let slept = false;
    const p = sleep(c, 1000).then(() => {
      slept = true;
    });
    c.advance(999);
    await Promise.resolve();
    expect(slept).toBe(false);
    c.advance(1);
    await p;
    expect(slept).toBe(true);
    const ac = new AbortController();
    const q = sleep(c, 60_000, ac.signal);
    ac.abort();
    await q;
    expect(c.timers).toBe(0);
    await sleep(c, 5, ac.signal); // already aborted: no timer at all
    expect(c.timers).toBe(0);
  });
});

describe('accelerated clock', () => {
  it('runs its timers speed times faster than the base clock: durations are simulator time', () => {
    const base = new ManualClock(T0);
    const fast = acceleratedClock(() => 42, 50, base);
    expect(fast.now()).toBe(42);
    const fired: number[] = [];
    fast.after(500, () => fired.push(base.now() - T0));
    fast.every(1000, () => fired.push(base.now() - T0));
    base.advance(9);
    expect(fired).toEqual([]);
    base.advance(1);
    expect(fired).toEqual([10]);
    base.advance(30);
    expect(fired).toEqual([10, 20, 40]);
    expect(() => acceleratedClock(() => 0, 0)).toThrow(/positive/);
  });

  it('reads the spec: simulator ms originMs at wall ms wallOriginMs, then speed × the wall time since', () => {
    const base = new ManualClock(T0);
    const spec = ClockSpecSchema.parse({ originMs: 1_700_000_000_000, wallOriginMs: T0, speed: 120 });
    const sim = clockFromSpec(spec, base);
    expect(sim.now()).toBe(1_700_000_000_000);
    base.advance(1000);
    expect(sim.now()).toBe(1_700_000_000_000 + 120_000);
    let fired = false;
    sim.after(60_000, () => {
      fired = true;
    });
    base.advance(499);
    expect(fired).toBe(false);
    base.advance(1);
    expect(fired).toBe(true);
    // Speed 1 is an offset clock; no spec is the base itself.
    const offset = clockFromSpec({ originMs: 5000, wallOriginMs: T0, speed: 1 }, base);
    expect(offset.now()).toBe(5000 + 1500);
    expect(clockFromSpec(undefined, base)).toBe(base);
    expect(ClockSpecSchema.safeParse({ originMs: 1, wallOriginMs: 1, speed: 0 }).success).toBe(false);
  });

  it('the wall clock is the process clock', async () => {
    const before = Date.now();
    expect(wallClock.now()).toBeGreaterThanOrEqual(before);
    await new Promise<void>((resolve) => wallClock.after(1, resolve));
    const r = wallClock.random();
    expect(r >= 0 && r < 1).toBe(true);
  });
});
