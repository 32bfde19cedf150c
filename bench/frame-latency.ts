/**
 * Section 3a: processing time of each frame — process.hrtime.bigint() around every
 * FramePipeline.ingest over the whole capture, with the live 500 ms commit cadence running (commits
 * are timed separately, never inside a frame). Frames are split by outcome: consumed (a trade
 * became an event), ignored (bookTicker/depth, skipped from the envelope prefix without parsing),
 * and the consumed frames whose event moved the watermark far enough to close windows (they carry
 * the window close, the judging and the baseline update).
 */
import { binanceUsdm } from '../src/binance/adapter';
import { Engine } from '../src/core/engine';
import { FramePipeline } from '../src/core/pipeline';
import type { Frame } from '../src/core/source';
import { SystemState } from '../src/core/system-state';
import { fullGc, watchGc } from './gc';
import { COMMIT_EVERY_MS, runB } from './pipelines';
import { combineRepeats, distribution, type Distribution, fmt, fmtInt, scaled } from './stats';
import type { Json, SectionContext, SectionResult } from './types';

const NS_PER_US = 1000;

/** Cost of the timing itself: two hrtime.bigint() calls around nothing. */
function hrtimeOverhead(samples: number): Distribution {
  const d = new Float64Array(samples);
  for (let i = 0; i < samples; i++) {
    const t0 = process.hrtime.bigint();
    const t1 = process.hrtime.bigint();
    d[i] = Number(t1 - t0);
  }
  return distribution(d);
}

interface Pass {
  ns: Float64Array;
  outcome: Uint8Array; // 0 event, 1 ignored, 2 dropped/malformed
  closing: Uint8Array;
  commitNs: number[];
}

function timedPass(frames: readonly Frame[], symbols: readonly string[]): Pass {
  const n = frames.length;
  const ns = new Float64Array(n);
  const outcome = new Uint8Array(n);
  const closing = new Uint8Array(n);
  const commitNs: number[] = [];
  const engine = new Engine({ symbols });
  const pipeline = new FramePipeline(binanceUsdm, engine);
  const state = new SystemState(engine, 'bench', 'REPLAY', { frames: pipeline.counters });
  state.ops.stage = 'OBSERVE';
  let nextCommit = -Infinity;
  for (let i = 0; i < n; i++) {
    const f = frames[i] as Frame;
    const before = engine.firstOpenWindow;
    const t0 = process.hrtime.bigint();
    const r = pipeline.ingest(f);
    const t1 = process.hrtime.bigint();
    ns[i] = Number(t1 - t0);
    outcome[i] = r.kind === 'event' ? 0 : r.kind === 'ignored' ? 1 : 2;
    closing[i] = before !== null && engine.firstOpenWindow !== before ? 1 : 0;
    engine.takeNewPromotions();
    if (f.recv_ms >= nextCommit) {
      const c0 = process.hrtime.bigint();
      state.commit(f.recv_ms);
      commitNs.push(Number(process.hrtime.bigint() - c0));
      nextCommit = f.recv_ms + COMMIT_EVERY_MS;
    }
  }
  return { ns, outcome, closing, commitNs };
}

/** The frames of each pass that `keep` selects, as one distribution per pass combined (stats.combineRepeats). */
function select(passes: readonly Pass[], keep: (p: Pass, i: number) => boolean): Distribution {
  return combineRepeats(
    passes.map((p) => {
      const out: number[] = [];
      for (let i = 0; i < p.ns.length; i++) if (keep(p, i)) out.push(p.ns[i] as number);
      return distribution(out);
    }),
  );
}

export async function frameLatencySection(ctx: SectionContext): Promise<SectionResult> {
  const { frames, symbols } = ctx.dataset;
  const passes = ctx.quick ? 1 : 5;
  ctx.log(`frame latency: warm-up pass, then ${passes} timed passes over ${frames.length} frames`);
  runB(frames, symbols);
  const done: Pass[] = [];
  const gcWatch = watchGc();
  for (let p = 0; p < passes; p++) {
    fullGc();
    done.push(timedPass(frames, symbols));
  }
  const gc = await gcWatch.stop();
  const overhead = hrtimeOverhead(200_000);
  const groups: { id: string; label: string; d: Distribution }[] = [
    { id: 'all', label: 'all frames', d: select(done, () => true) },
    { id: 'consumed', label: 'consumed (trade → event)', d: select(done, (p, i) => p.outcome[i] === 0) },
    { id: 'closing', label: '… of which closed ≥ 1 window', d: select(done, (p, i) => p.closing[i] === 1) },
    { id: 'ignored', label: 'ignored (bookTicker/depth, unparsed)', d: select(done, (p, i) => p.outcome[i] === 1) },
  ];
  const other = select(done, (p, i) => p.outcome[i] === 2);
  if (other.n > 0) groups.push({ id: 'other', label: 'dropped/malformed', d: other });
  const commits = combineRepeats(done.map((p) => distribution(p.commitNs)));
  const us = (x: number): string => fmt(x / NS_PER_US, 2);
  const row = (label: string, d: Distribution): string[] => [label, fmtInt(d.n), us(d.p50), us(d.p99), us(d.p999), us(d.max), us(d.mean)];
  const data: { [k: string]: Json } = {};
  for (const g of groups) data[g.id] = scaled(g.d, NS_PER_US);
  data.commit_2_symbols = scaled(commits, NS_PER_US);
  data.hrtime_overhead = scaled(overhead, NS_PER_US);
  data.passes = passes;
  data.gc_pauses_during_passes = { ...gc };
  return {
    tables: [
      {
        title: `Per-frame processing time, FramePipeline.ingest (µs; median of ${passes} passes over the capture, max of all)`,
        columns: ['frames', 'n', 'p50', 'p99', 'p99.9', 'max', 'mean'],
        rows: [
          ...groups.map((g) => row(g.label, g.d)),
          row(`commit() on this capture (${symbols.length} symbols)`, commits),
          row('timer overhead (empty hrtime pair)', overhead),
        ],
      },
    ],
    notes: [
      `Each figure includes the timer overhead in the last row (two process.hrtime.bigint() calls). Maxima are single events: V8 paused for garbage collection ${gc.count} times during the ${passes} passes (longest ${fmt(gc.max_ms, 2)} ms, ${fmt(gc.total_ms, 1)} ms in all), and other processes share the 2 cores; p99.9 is the robust tail.`,
      `A frame that closes a window pays for closing it in every symbol, judging it, and sorting both 60-value baselines; that happens about once per second per symbol, so it sets the per-frame tail, not the typical cost. Being the longest frames, they are also the likeliest to be interrupted when other processes want the core, so their p99 is the figure most sensitive to machine load (compare the load average in the footer).`,
    ],
    checks: [],
    data,
  };
}
