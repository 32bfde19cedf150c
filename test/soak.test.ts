/**
 * A short soak: the headless collector (its own process, capture on) against the loopback
 * simulator (another process, demo scenario with its liquidation cascades), accelerated so about
 * two minutes of wall time cover several exchange hours — the same two-process rig as the
 * `memory-day` benchmark (bench/soak-rig.ts), shorter and slower. It asserts that memory is flat
 * after the warm-up, that RSS stays within 150 MB, that health never reads FAILED and that frames
 * still flow at the end.
 *
 * Tolerances (why these numbers):
 *   - Warm-up: until the promoted-events panel, a bounded ring of 1000 events, is full (about
 *     1.3 exchange hours in this scenario; every other buffer fills within minutes). Growth before
 *     that is the ring filling, not a leak.
 *   - The fitted growth over the post-warm-up window is compared with the work done in it, since
 *     a leak in this code would be per frame, per trade or per window: about 1.7 M frames and
 *     90 k closed windows here. Worker heap, live size (read after a forced full GC every 2 wall s —
 *     the collector runs with --expose-gc for this; median per quarter hour): ≤ 6 MB, so
 *     a leak of 4 bytes per frame, or of one small object (~70 bytes) per closed window, fails.
 *     RSS (median per quarter hour): ≤ 24 MB, looser because glibc keeps the high-water mark of
 *     native buffers (socket reads, gzip chunks) and that mark creeps as rarer peaks occur.
 *     Measured: heap −0.7 … +2.1 MB and RSS +3.3 … +4.9 MB, alone and with the whole suite
 *     running beside it on 2 cores.
 *   - RSS ≤ 150 MB (10^6 bytes) is the issues' target, measured 139–141 MB at this rate before the
 *     event store, warm start, sinks and books landed; then 155–172 MB (bound raised to 190). Found
 *     and removed since: the main thread evaluated every command's modules (its V8 old space 19.6
 *     → 7.8 MB), the worker loaded the sinks' clients without --sink, and a toLocaleString paged in
 *     ~4.4 MB of ICU data (src/text/numbers.ts). Measured with all of them: 154.9 MB at most after
 *     warm-up at load average 5–9 (one run beside other work), so the bound was 165 MB. Then the
 *     worker stopped loading the sink clients again (an import from the sink hub had brought them
 *     back) and undici's index, and got an 8 MB young generation (src/ipc/host.ts): 137.0 MB at most
 *     after warm-up on the CI clone, 138 MB at load 8 here. The bound is the target, 150 MB.
 *   - Speed 120 (≈ 22 k frames per wall second, about 20× the scenario's busiest exchange
 *     second): the collector needs about 30 % of a core, so the other test files on the same
 *     2 cores still leave it room.
 */
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { bucketed, linearFit, liveHeapReadings, runSoak, type SoakResult } from '../bench/soak-rig';
import { median } from '../bench/stats';
import { ensureCliBuilt, REPO_ROOT } from './fixtures/paths';

const SPEED = 120;
const HOURS = 4;
const WARMUP_H = 1.5;
const BUCKET_H = 0.25;
const MB = 1e6;
const RSS_MAX_MB = 150;
const HEAP_GROWTH_MAX_MB = 6;
const RSS_GROWTH_MAX_MB = 24;

/** Fitted growth (MB) over the post-warm-up window of a per-bucket aggregate. */
function growth(points: { x: number; y: number }[], how: 'median' | 'min'): { mb: number; n: number } {
  const b = bucketed(points, BUCKET_H, how);
  const fit = linearFit(b.map((p) => ({ x: p.x, y: p.y / MB })));
  const span = b.length > 1 ? (b[b.length - 1] as { x: number }).x - (b[0] as { x: number }).x : 0;
  return { mb: fit.slope * span, n: b.length };
}

describe.skipIf(process.platform !== 'linux' || !existsSync('/proc/self/status'))('soak (two processes, accelerated)', () => {
  it(`${HOURS} exchange hours at speed ${SPEED}: memory flat after warm-up, RSS ≤ ${RSS_MAX_MB} MB, never FAILED, frames flowing`, async () => {
    ensureCliBuilt();
    const r: SoakResult = await runSoak({ root: REPO_ROOT, speed: SPEED, exchangeHours: HOURS, seed: 3, heapProbeEveryMs: 2000, wallLimitMs: 240_000 });
    const summary = (): string =>
      JSON.stringify({
        exchange_hours: r.exchange_hours,
        wall_s: r.wall_seconds,
        exit: r.collector_exit_code,
        rss_mb: r.proc.filter((_, i) => i % 10 === 0).map((p) => [Number(p.exchange_h.toFixed(2)), Math.round(p.rss_bytes / MB)]),
        heap_mb: r.snaps
          .filter((_, i) => i % 10 === 0)
          .map((s) => [Number(s.exchange_h.toFixed(2)), Math.round(s.heap_used_bytes / MB), s.health, s.promoted_in_panel]),
        tail: r.collector_stdout_tail.slice(-5),
        stderr: r.collector_stderr.slice(-500),
      });
    expect(r.exchange_hours, summary()).toBeGreaterThanOrEqual(HOURS - 0.01);
    expect(r.collector_exit_code, summary()).toBe(0);
    const final = r.final;
    expect(final, summary()).not.toBeNull();
    if (final === null) return;

    // Health: degraded by the acceleration (OI older than 10 exchange s), never FAILED.
    expect(
      r.snaps.filter((s) => s.health === 'FAILED'),
      summary(),
    ).toEqual([]);
    expect(final.health_state).not.toBe('FAILED');
    expect(final.counters.malformed_events).toBe(0);

    // Frames still flowing at the end: the last few seconds before the stop advanced the counters.
    const live = r.snaps.filter((s) => s.stage !== 'SHUTDOWN');
    const last = live[live.length - 1];
    const before = live.filter((s) => last !== undefined && s.wall_s <= last.wall_s - 5).pop();
    expect(last && before, summary()).toBeTruthy();
    if (!last || !before) return;
    expect(last.frames - before.frames, summary()).toBeGreaterThan(10_000);
    expect(last.windows).toBeGreaterThan(before.windows);
    expect(last.ws_state).toBe('OPEN');
    // Kept up: the watermark's lag behind the clock, over the snapshots after the warm-up. One
    // snapshot's lag is a sample of a burst (60 exchange s is half a wall second at 120×, and a GC
    // or a cascade second on a shared core can take that), so the median must stay under a minute
    // and no snapshot may fall more than five minutes behind; a collector that does not keep up
    // grows its lag without bound and fails both.
    const lags = live.filter((s) => s.exchange_h >= WARMUP_H).map((s) => s.watermark_lag_ms ?? Infinity);
    expect(lags.length, summary()).toBeGreaterThan(10);
    expect(median(lags), `median of ${lags.length} lags ${JSON.stringify(lags)}`).toBeLessThan(60_000);
    expect(Math.max(...lags), `lags ${JSON.stringify(lags)}`).toBeLessThan(300_000);

    // The warm-up ends with the promoted-events ring full.
    const full = r.snaps.find((s) => s.promoted_in_panel >= 1000);
    expect(full, summary()).toBeDefined();
    expect(full?.exchange_h ?? Infinity).toBeLessThanOrEqual(WARMUP_H);

    const procAfter = r.proc.filter((p) => p.exchange_h >= WARMUP_H);
    const snapsAfter = r.snaps.filter((s) => s.exchange_h >= WARMUP_H && s.stage !== 'SHUTDOWN');
    expect(procAfter.length, summary()).toBeGreaterThan(40);
    const rssMax = Math.max(...procAfter.map((p) => p.rss_bytes)) / MB;
    expect(rssMax, summary()).toBeLessThanOrEqual(RSS_MAX_MB);

    const framesAfter = (snapsAfter[snapsAfter.length - 1]?.frames ?? 0) - (snapsAfter[0]?.frames ?? 0);
    expect(framesAfter).toBeGreaterThan(1_000_000);
    expect(r.final?.process?.heap_live_method, summary()).toBe('forced_gc');
    const liveReads = liveHeapReadings(snapsAfter);
    expect(liveReads.length, summary()).toBeGreaterThan(20);
    const heap = growth(liveReads, 'median');
    const rss = growth(
      procAfter.map((p) => ({ x: p.exchange_h, y: p.rss_bytes })),
      'median',
    );
    console.info(
      `[soak] RSS max ${rssMax.toFixed(1)} MB after warm-up; fitted growth over the ${(HOURS - WARMUP_H).toFixed(1)} h after warm-up: heap ${heap.mb.toFixed(2)} MB, RSS ${rss.mb.toFixed(2)} MB, over ${framesAfter} frames`,
    );
    const detail = `heap growth ${heap.mb.toFixed(2)} MB (${heap.n} buckets), RSS growth ${rss.mb.toFixed(2)} MB (${rss.n} buckets), over ${framesAfter} frames; ${summary()}`;
    expect(heap.mb, detail).toBeLessThanOrEqual(HEAP_GROWTH_MAX_MB);
    expect(rss.mb, detail).toBeLessThanOrEqual(RSS_GROWTH_MAX_MB);
  }, 300_000);
});
