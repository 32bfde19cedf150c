/**
 * The standing hostile-input fuzzer (issue 9 item 8): real frames (the vendored fixtures, and the
 * live stream shapes built by the simulator's checked builders from the fixtures' real trades),
 * mutated by a seeded generator for a bounded time and fed, interleaved with the real flow, to the
 * frame path. Asserted for every frame: no throw, exactly one outcome, every malformed frame
 * counted with a reason, the fast path agreeing with the JSON.parse reference; at the end the
 * window partition holds for every symbol and the snapshot still validates.
 *
 * Reproduce a failure with the seed it prints: PP_FUZZ_SEED=<seed> PP_FUZZ_MS=<ms> npx vitest run test/fuzz-frames.test.ts
 */
import { describe, expect, it } from 'vitest';
import { SnapshotSchema } from '../src/core/contracts/snapshot';
import { Engine } from '../src/core/engine';
import { binanceUsdm } from '../src/binance/adapter';
import { normalizeFrame } from '../src/binance/normalize';
import { PARTITION_KEYS } from '../src/core/contracts/counters';
import { FramePipeline } from '../src/core/pipeline';
import type { Frame, FrameResult } from '../src/core/source';
import { SystemState } from '../src/core/system-state';
import { parseCaptureLine } from '../src/capture/format';
import { aggTradeFrame, envelope, forceOrderFrame, klineFrame, markPriceFrame } from '../src/simulator/frames';
import type { FormattedLiquidation } from '../src/simulator/liquidations';
import { Rng } from '../src/simulator/rng';
import { consoleLine } from '../src/collector/log';
import { isSafeText } from '../src/text/safe';
import { FIXTURE_FILES, readLines } from './fixtures/paths';
import { mutateFrame } from './fuzz/mutate';

/** The frame path under test: the one frame pipeline live, replay and benchmarks use. */
const ingest = (pipeline: FramePipeline, frame: Frame): FrameResult => pipeline.ingest(frame);

const SEED = Number(process.env.PP_FUZZ_SEED ?? 20240808);
const BUDGET_MS = Number(process.env.PP_FUZZ_MS ?? 3000);
const MIN_MUTANTS = 2000;
const OUTCOMES = new Set(['event', 'ignored', 'dropped', 'malformed']);

/** Real frames in receive order, and the live shapes built from the real trades among them. */
function seedFrames(): Frame[] {
  const real = FIXTURE_FILES.flatMap((file) =>
    readLines(file)
      .slice(0, 6000)
      .map((l) => parseCaptureLine(l))
      .flatMap((r) => (r.kind === 'frame' ? [r.frame] : [])),
  ).sort((a, b) => a.recv_ms - b.recv_ms);
  const built: Frame[] = [];
  let agg = 1;
  for (const f of real) {
    const r = normalizeFrame(f);
    if (r.kind !== 'event' || r.event.type !== 'TRADE') continue;
    const t = r.event;
    const s = t.symbol;
    const lower = s.toLowerCase();
    const p = String(t.price);
    const q = String(t.base_qty);
    const src = 'ws:/market/stream';
    built.push({
      recv_ms: f.recv_ms,
      source: src,
      text: envelope(`${lower}@aggTrade`, aggTradeFrame(t.ts_ms, agg++, s, p, q, agg, agg, t.ts_ms, t.is_buyer_maker)),
    });
    if (agg % 5 === 0)
      built.push({ recv_ms: f.recv_ms, source: src, text: envelope(`${lower}@markPrice@1s`, markPriceFrame(t.ts_ms, s, p, p, p, '0', '0.0001', t.ts_ms)) });
    if (agg % 17 === 0) {
      const liq: FormattedLiquidation = { symbol: s, side: t.is_buyer_maker ? 'SELL' : 'BUY', q, p, ap: p, l: q, z: q, T: t.ts_ms, st: 1, ps: s };
      built.push({ recv_ms: f.recv_ms, source: src, text: envelope('!forceOrder@arr', forceOrderFrame(t.ts_ms, liq)) });
    }
    if (agg % 29 === 0) {
      const m = Math.floor(t.ts_ms / 60_000) * 60_000;
      const k = { t: m, T: m + 59_999, f: 1, L: 2, o: p, c: p, h: p, l: p, v: q, n: 2, x: false, q: p, V: q, Q: p };
      built.push({ recv_ms: f.recv_ms, source: src, text: envelope(`${lower}@kline_1m`, klineFrame(t.ts_ms, s, '1m', k)) });
    }
    if (agg % 41 === 0) {
      built.push({ recv_ms: f.recv_ms, source: `rest:/fapi/v1/openInterest?symbol=${s}`, text: `{"symbol":"${s}","openInterest":"${q}","time":${t.ts_ms}}` });
    }
  }
  return [...real, ...built].sort((a, b) => a.recv_ms - b.recv_ms);
}

function sameOutcome(a: FrameResult, b: FrameResult): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

describe('hostile-input fuzzer', () => {
  it(`mutated real frames (seed ${SEED}, ${BUDGET_MS} ms): no throw, one counted outcome each, fast path = reference, partition holds`, () => {
    const seeds = seedFrames();
    const kinds = new Set(seeds.map((f) => normalizeFrame(f)).map((r) => (r.kind === 'event' ? r.event.type : r.kind)));
    // The seeds reach every event type the core consumes.
    for (const k of ['TRADE', 'LIQUIDATION', 'KLINE', 'MARK_PRICE', 'OPEN_INTEREST', 'ignored']) expect(kinds, k).toContain(k);

    // Mutants mostly of the frames the core consumes (most recorded frames are bookTicker/depth).
    const consumed = seeds.map((f) => normalizeFrame(f).kind === 'event');
    const rng = new Rng(SEED);
    const engine = new Engine({ symbols: ['BTCUSDT', 'ETHUSDT'] });
    const pipeline = new FramePipeline(binanceUsdm, engine);
    let mutated = 0;
    let malformed = 0;
    let fed = 0;
    const byOutcome: Record<string, number> = {};
    const t0 = Date.now();
    // The real flow runs in order (windows close, baselines warm) with mutated copies mixed in.
    // At least MIN_MUTANTS whatever the machine's speed; never longer than 10× the budget.
    for (let i = 0; (Date.now() - t0 < BUDGET_MS || mutated < MIN_MUTANTS) && Date.now() - t0 < 10 * BUDGET_MS; i++) {
      const real = seeds[i % seeds.length] as Frame;
      const lap = Math.floor(i / seeds.length);
      // Later laps replay the flow shifted in time, so windows keep closing.
      const shift = lap * 3_600_000;
      const frames: Frame[] = [
        { ...real, recv_ms: real.recv_ms + shift, text: lap === 0 ? real.text : real.text.replace(/(1723\d{9})/g, (d) => String(Number(d) + shift)) },
      ];
      const copies = consumed[i % seeds.length] ? 1 + rng.int(3) : rng.int(4) === 0 ? 1 : 0;
      for (let c = 0; c < copies; c++) frames.push(mutateFrame(rng, real));
      for (const f of frames) {
        const isMutant = f !== frames[0];
        let r: FrameResult;
        try {
          r = ingest(pipeline, f);
        } catch (e) {
          throw new Error(`threw on frame (seed ${SEED}, mutant #${mutated}): ${JSON.stringify(f).slice(0, 500)}: ${(e as Error).stack ?? String(e)}`, {
            cause: e,
          });
        }
        fed++;
        // expect() only on failure: it costs more than the frame itself.
        if (!OUTCOMES.has(r.kind)) expect(r.kind).toBe('one of the four outcomes');
        byOutcome[r.kind] = (byOutcome[r.kind] ?? 0) + 1;
        if (r.kind === 'malformed') {
          malformed++;
          if (r.reason.length === 0) expect(r.reason, JSON.stringify(f)).not.toBe('');
        }
        if (isMutant) {
          mutated++;
          // The fast path and the JSON.parse reference agree on every hostile frame too.
          const ref = normalizeFrame(f, false);
          const fast = normalizeFrame(f, true);
          if (!sameOutcome(ref, fast)) expect({ frame: f, fast }).toEqual({ frame: f, fast: ref });
          // Whatever it holds, quoting it on a console line is safe.
          if (!isSafeText(consoleLine(0, f.text))) expect(consoleLine(0, f.text)).toBe('printable');
        }
      }
    }
    const c = pipeline.counters;
    console.log(`fuzz seed ${SEED}: ${fed} frames (${mutated} mutated) in ${Date.now() - t0} ms; outcomes ${JSON.stringify(byOutcome)}`);
    expect(mutated).toBeGreaterThanOrEqual(MIN_MUTANTS);
    // Every frame has exactly one outcome, and every malformed one is counted by reason.
    expect(c.frames_received).toBe(fed);
    expect(c.frame_outcomes.event + c.frame_outcomes.ignored + c.frame_outcomes.dropped + c.frame_outcomes.malformed).toBe(fed);
    expect(c.frame_outcomes.malformed).toBe(malformed);
    expect(c.malformed_events).toBe(malformed);
    expect(Object.values(c.malformed_by_reason).reduce((a, b) => a + b, 0)).toBe(malformed);
    expect(malformed).toBeGreaterThan(0);
    // Windows closed under fire, each in exactly one partition bucket.
    for (const d of engine.detectorsInRankOrder) {
      expect(d.counters.windows_processed, d.symbol).toBeGreaterThan(0);
      expect(
        PARTITION_KEYS.reduce((s, k) => s + d.counters[k], 0),
        d.symbol,
      ).toBe(d.counters.windows_processed);
    }
    const state = new SystemState(engine, 'fuzz', 'REPLAY', { frames: pipeline.counters });
    expect(SnapshotSchema.safeParse(state.commit(0)).success).toBe(true);
  });
});
