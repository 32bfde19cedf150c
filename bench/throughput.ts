/**
 * Section 2 of the issue: throughput of A (bare JSON.parse), B (our full pipeline) and C (the
 * tardis-dev peer) on the same in-memory frames, interleaved A B C A B C … after a JIT warm-up,
 * each figure the median of several runs. Two frame sets: the whole capture as recorded (mostly
 * bookTicker/depth, which B skips unparsed) and its trade frames alone (every frame is work for
 * everyone), so the ratios can be read both ways.
 */
import { performance } from 'node:perf_hooks';
import { type Dataset, framesOfKind } from './data';
import { fullGc } from './gc';
import { checksumB, runA, runB, runC, runFast, runNormalize, runZod } from './pipelines';
import { fmt, fmtInt, median } from './stats';
import type { Check, Json, SectionContext, SectionResult, Table } from './types';
import type { Frame } from '../src/core/source';

interface Variant {
  id: string;
  label: string;
  run: () => number;
}

interface Measured {
  id: string;
  label: string;
  runs_ms: number[];
  median_ms: number;
  msg_per_s: number;
  mb_per_s: number;
  checksum: number;
}

function measure(variants: readonly Variant[], frames: readonly Frame[], rounds: number, warmups: number): Measured[] {
  const bytes = frames.reduce((s, f) => s + f.text.length, 0);
  const runs = new Map<string, number[]>(variants.map((v) => [v.id, []]));
  const sums = new Map<string, number>();
  for (let r = 0; r < warmups + rounds; r++) {
    for (const v of variants) {
      fullGc();
      const t0 = performance.now();
      const sum = v.run();
      const ms = performance.now() - t0;
      const prev = sums.get(v.id);
      if (prev !== undefined && prev !== sum) throw new Error(`${v.id}: checksum changed between runs (${prev} → ${sum})`);
      sums.set(v.id, sum);
      if (r >= warmups) (runs.get(v.id) as number[]).push(ms);
    }
  }
  return variants.map((v) => {
    const ms = runs.get(v.id) as number[];
    const med = median(ms);
    return {
      id: v.id,
      label: v.label,
      runs_ms: ms.map((x) => Number(x.toFixed(2))),
      median_ms: Number(med.toFixed(2)),
      msg_per_s: Math.round(frames.length / (med / 1000)),
      mb_per_s: Number((bytes / 1e6 / (med / 1000)).toFixed(1)),
      checksum: sums.get(v.id) as number,
    };
  });
}

function byId(ms: readonly Measured[], id: string): Measured {
  const m = ms.find((x) => x.id === id);
  if (!m) throw new Error(`no variant ${id}`);
  return m;
}

export function throughputSection(ctx: SectionContext): SectionResult {
  const ds: Dataset = ctx.dataset;
  const symbols = ds.symbols;
  const all = ds.frames;
  const trades = framesOfKind(ds, 'trade');
  const rounds = ctx.quick ? 3 : 9;
  const warmups = ctx.quick ? 1 : 2;
  const core = (frames: readonly Frame[]): Variant[] => [
    { id: 'A', label: 'A: JSON.parse only', run: () => runA(frames) },
    { id: 'B', label: 'B: our pipeline + commit/500 ms', run: () => checksumB(runB(frames, symbols)) },
    { id: 'C', label: 'C: tardis-dev binance-futures trade mapper', run: () => runC(frames, symbols) },
  ];
  ctx.log(`throughput: all ${all.length} frames, ${warmups} warm-up + ${rounds} interleaved rounds of A B C`);
  const mAll = measure(core(all), all, rounds, warmups);
  ctx.log(`throughput: ${trades.length} trade frames, ${warmups} warm-up + ${rounds} rounds of A B C Z F`);
  const mTrade = measure(
    [
      ...core(trades),
      { id: 'N', label: 'diag: normalizeFrame only', run: () => runNormalize(trades) },
      { id: 'B0', label: 'diag: B without commit', run: () => checksumB(runB(trades, symbols, null)) },
      { id: 'Z', label: 'diag: JSON.parse + zod RawTradeSchema', run: () => runZod(trades) },
      { id: 'F', label: 'diag: JSON.parse + fast path isRawTrade', run: () => runFast(trades) },
    ],
    trades,
    rounds,
    warmups,
  );

  const ratio = (ms: readonly Measured[], x: string, y: string): number => byId(ms, x).msg_per_s / byId(ms, y).msg_per_s;
  const ratios = {
    all: { B_over_A: ratio(mAll, 'B', 'A'), B_over_C: ratio(mAll, 'B', 'C') },
    trade_only: { B_over_A: ratio(mTrade, 'B', 'A'), B_over_C: ratio(mTrade, 'B', 'C'), zod_over_fast: ratio(mTrade, 'Z', 'F') },
  };
  const row = (set: string, n: number, m: Measured): string[] => [
    set,
    m.label,
    fmtInt(n),
    fmtInt(m.msg_per_s),
    fmt(m.mb_per_s, 1),
    fmt(m.median_ms, 1),
    `${fmtInt(n / (Math.max(...m.runs_ms) / 1000))}–${fmtInt(n / (Math.min(...m.runs_ms) / 1000))}`,
  ];
  const tables: Table[] = [
    {
      title: `Throughput (median of ${rounds} interleaved runs each)`,
      columns: ['frames', 'variant', 'n', 'msg/s', 'MB/s', 'ms/run', 'msg/s range'],
      rows: [...mAll.map((m) => row('all', all.length, m)), ...mTrade.map((m) => row('trade-only', trades.length, m))],
    },
    {
      title: 'Ratios',
      columns: ['ratio', "all frames (the capture: the issue's target)", 'trade-only frames (diagnostic)', 'target (issue)'],
      rows: [
        ['B/A', fmt(ratios.all.B_over_A, 2), fmt(ratios.trade_only.B_over_A, 2), '≥ 0.5'],
        ['B/C', fmt(ratios.all.B_over_C, 2), fmt(ratios.trade_only.B_over_C, 2), '≥ 2'],
        ['F/Z (fast path vs zod, check only)', '', fmt(1 / ratios.trade_only.zod_over_fast, 2), ''],
      ],
    },
  ];
  const checks: Check[] = [
    { name: 'B/A, all frames', value: ratios.all.B_over_A, target: '>= 0.5', met: ratios.all.B_over_A >= 0.5 },
    { name: 'B/C, all frames', value: ratios.all.B_over_C, target: '>= 2', met: ratios.all.B_over_C >= 2 },
  ];
  const shareSkipped = (ds.counts.bookTicker + ds.counts.depth) / all.length;
  const notes = [
    `All frames: ${fmtInt(all.length)} frames, ${(ds.text_bytes / 1e6).toFixed(1)} MB of JSON; ${(shareSkipped * 100).toFixed(1)} % are bookTicker/depth, which B counts and skips after reading the stream name from the envelope prefix, while A and C parse every frame. So B can beat the "physical limit" A on this mix: A is the limit for a pipeline that parses everything, not for one that need not.`,
    `Trade-only: every frame is a trade that B parses, validates, normalizes and windows, so B/A there is the honest per-message cost of the pipeline over the parse it cannot avoid. It is also B/C as it would be if tardis were handed only trade frames (its server-side channel filter delivers exactly that). C does less work per trade than B (no validation, no windows, no detection, no snapshots), so B/C < 1 there is expected. The issue states its targets on the capture as recorded; on trades alone B/A is ${fmt(ratios.trade_only.B_over_A, 2)} and B/C ${fmt(ratios.trade_only.B_over_C, 2)}, below those numbers, and shown here so nobody mistakes the all-frames figures for the per-trade cost.`,
    `B reads combined-stream envelopes around flat payloads (every trade frame) with the scanner in src/binance/scan.ts instead of JSON.parse; test/scan.test.ts proves on real frames and 40,000 mutations that whenever it answers, it answers what JSON.parse does, and otherwise JSON.parse runs. A is JSON.parse itself, so B/A < 1 on trades means the work after parsing (validation, normalization, windows, baselines, commits) costs more than the parse.`,
    `B includes ${'SystemState.commit'} every 500 ms of receive time (the live cadence), Engine construction and takeNewPromotions; C includes the Date per frame and the symbol filter that tardis' replayNormalized applies. Checksums were identical on every run of each variant.`,
    `The diag rows isolate the contract check on trade payloads: zod's RawTradeSchema.safeParse versus the hand-written isRawTrade that test/fastpath.test.ts proves accepts exactly what the schema accepts; the pipeline uses the fast path and consults zod only to explain a rejection.`,
  ];
  const json = (ms: readonly Measured[]): Json => ms.map((m) => ({ ...m, runs_ms: [...m.runs_ms] }));
  return {
    tables,
    notes,
    checks,
    data: {
      rounds,
      warmups,
      all_frames: { frames: all.length, bytes: ds.text_bytes, variants: json(mAll) },
      trade_only: { frames: trades.length, bytes: trades.reduce((s, f) => s + f.text.length, 0), variants: json(mTrade) },
      ratios: { all: { ...ratios.all }, trade_only: { ...ratios.trade_only } },
    },
  };
}
