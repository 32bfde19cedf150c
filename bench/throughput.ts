/**
 * Section 2 of the issue: throughput of A (bare JSON.parse), B (our full pipeline) and C (the
 * tardis-dev peer) on the same in-memory frames. Two frame sets: the whole capture as recorded
 * (mostly bookTicker/depth, which B skips unparsed) and its trade frames alone (every frame is work
 * for everyone), so the ratios can be read both ways. BP is B with the books on (issue 12: order
 * books, policy four-pillars-001 and tape beside M3), so on the whole capture it parses and applies
 * every depth diff that B skips; BP/B is what turning the books on costs.
 *
 * Figures that hold on a busy machine (issue 15): each run is timed in CPU time of the thread that
 * runs it, not wall time, so time the core spent on other processes does not count. The section
 * runs in a child process under V8's `--single-threaded`, where process CPU time is that thread's
 * (./cpu-clock explains why, and the section checks it against the kernel's per-thread counter);
 * garbage collection then happens on the same thread and counts against the variant that caused
 * it. Variants are interleaved (each round runs every variant once, starting one later each
 * round), a full GC precedes every sample, a variant shorter than the plan's minimum sample is run
 * several times back to back per sample (the same count every round), and each ratio is the median
 * over rounds of the ratio within a round, so a disturbance that hits one round hits every variant
 * in it. `--load` starts a CPU-bound process beside the measurement (./load).
 */
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { z } from 'zod';
import { argValue, runBenchChild } from './child';
import { openThreadCpu, processCpuNs } from './cpu-clock';
import { type Dataset, filesOfKind, framesOfKind, loadDataset } from './data';
import { fullGc } from './gc';
import { pinTo, placement, startLoad } from './load';
import { checksumB, checksumBP, type PipelineRun, runA, runB, runBP, runC, runFast, runNormalize, runZod } from './pipelines';
import { fmt, fmtInt, median } from './stats';
import type { Check, Json, SectionContext, SectionResult, Table } from './types';
import type { Frame } from '../src/core/source';

interface Variant {
  id: string;
  label: string;
  run: () => number;
  /** Timed in one round of this many (1: every round); the costly BP on all frames runs every other round. */
  every?: number;
}

/** How a frame set is measured: rounds after warm-ups, each sample repeated until it lasts at least `minSampleMs` of CPU. */
interface Plan {
  rounds: number;
  warmups: number;
  minSampleMs: number;
}

interface Measured {
  id: string;
  label: string;
  /** CPU ms per run in each timed round, in round order (so rounds of different variants pair up); null where it did not run. */
  cpu_ms: (number | null)[];
  wall_ms: (number | null)[];
  /** Runs per sample: a sample is timed over this many back-to-back runs, divided by it. */
  reps: number;
  median_cpu_ms: number;
  /** (max − min) / median of the rounds' CPU times. */
  spread: number;
  msg_per_s: number;
  mb_per_s: number;
  /** Median wall time over median CPU time: how much the machine took the core away. */
  wall_over_cpu: number;
  checksum: number;
}

function measure(variants: readonly Variant[], frames: readonly Frame[], plan: Plan): Measured[] {
  const { rounds, warmups } = plan;
  const bytes = frames.reduce((s, f) => s + f.text.length, 0);
  const cpu = variants.map((): (number | null)[] => []);
  const wall = variants.map((): (number | null)[] => []);
  const warm = variants.map((): number[] => []);
  const reps = variants.map(() => 1);
  const sums = new Map<string, number>();
  for (let r = 0; r < warmups + rounds; r++) {
    if (r === warmups) {
      // A short run is more exposed to one disturbance than a long one: repeat it back to back
      // until a sample lasts about as long as `minSampleMs`, the same count in every round.
      variants.forEach((_, i) => (reps[i] = Math.max(1, Math.ceil(plan.minSampleMs / Math.max(0.001, median(warm[i] as number[]))))));
    }
    for (let k = 0; k < variants.length; k++) {
      // Rotate the order each round: no variant always runs right after the same other one.
      const i = (k + r) % variants.length;
      const v = variants[i] as Variant;
      const timed = r >= warmups;
      if (timed && (r - warmups) % (v.every ?? 1) !== 0) {
        (cpu[i] as (number | null)[]).push(null);
        (wall[i] as (number | null)[]).push(null);
        continue;
      }
      const n = reps[i] as number;
      fullGc();
      const w0 = performance.now();
      const c0 = processCpuNs();
      let sum = 0;
      for (let j = 0; j < n; j++) {
        const got = v.run();
        if (j > 0 && got !== sum) throw new Error(`${v.id}: checksum changed between runs (${sum} → ${got})`);
        sum = got;
      }
      const c1 = processCpuNs();
      const w1 = performance.now();
      const prev = sums.get(v.id);
      if (prev !== undefined && prev !== sum) throw new Error(`${v.id}: checksum changed between runs (${prev} → ${sum})`);
      sums.set(v.id, sum);
      const cpuMs = (c1 - c0) / 1e6 / n;
      if (!timed) (warm[i] as number[]).push(cpuMs);
      else {
        (cpu[i] as (number | null)[]).push(cpuMs);
        (wall[i] as (number | null)[]).push((w1 - w0) / n);
      }
    }
  }
  return variants.map((v, i) => {
    const all = cpu[i] as (number | null)[];
    const c = all.filter((x): x is number => x !== null);
    const w = (wall[i] as (number | null)[]).filter((x): x is number => x !== null);
    const med = median(c);
    return {
      id: v.id,
      label: v.label,
      cpu_ms: all.map((x) => (x === null ? null : Number(x.toFixed(2)))),
      wall_ms: (wall[i] as (number | null)[]).map((x) => (x === null ? null : Number(x.toFixed(2)))),
      reps: reps[i] as number,
      median_cpu_ms: Number(med.toFixed(2)),
      spread: Number(((Math.max(...c) - Math.min(...c)) / med).toFixed(3)),
      msg_per_s: Math.round(frames.length / (med / 1000)),
      mb_per_s: Number((bytes / 1e6 / (med / 1000)).toFixed(1)),
      wall_over_cpu: Number((median(w) / med).toFixed(2)),
      checksum: sums.get(v.id) as number,
    };
  });
}

function byId(ms: readonly Measured[], id: string): Measured {
  const m = ms.find((x) => x.id === id);
  if (!m) throw new Error(`no variant ${id}`);
  return m;
}

interface Ratio {
  /** Median over rounds of x's speed over y's within the round. */
  median: number;
  min: number;
  max: number;
  /** Rounds in which both ran. */
  rounds: number;
}

/** x's throughput over y's (y's CPU time over x's), paired by round (rounds where both ran). */
function ratio(ms: readonly Measured[], x: string, y: string): Ratio {
  const a = byId(ms, x).cpu_ms;
  const b = byId(ms, y).cpu_ms;
  const per: number[] = [];
  a.forEach((t, r) => {
    const u = b[r];
    if (t !== null && u !== null && u !== undefined) per.push(u / t);
  });
  const r3 = (v: number): number => Number(v.toFixed(3));
  return { median: r3(median(per)), min: r3(Math.min(...per)), max: r3(Math.max(...per)), rounds: per.length };
}

/** Two decimals, three below 0.1 (BP/B on all frames is ~0.06: two would hide a 10 % change). */
const fmtRatio = (r: Ratio): string => {
  const d = r.median < 0.1 ? 3 : 2;
  return `${fmt(r.median, d)} (${fmt(r.min, d)}–${fmt(r.max, d)})`;
};

export interface ThroughputOptions {
  quick: boolean;
  /** Whether a CPU-bound process ran beside the measurement (labels the figures; started by the parent). */
  load: boolean;
  /** The core the parent pinned this child to (and the load to another), or null when unpinned. */
  pinnedCpu: number | null;
  log: (message: string) => void;
}

/** The measurement itself; runs in the child (see the module comment). */
export function measureThroughput(ds: Dataset, opts: ThroughputOptions): SectionResult {
  const symbols = ds.symbols;
  const all = ds.frames;
  const trades = framesOfKind(ds, 'trade');
  // Rounds are what makes two runs agree (issue 15: every ratio within 10 % between a quiet and a
  // loaded run): with 9 the medians of two runs differed by up to 14 %. Trade rounds are cheap
  // (~1.3 s), so there are many; on all frames BP alone costs ~3 s a run, so it runs every other
  // round. About 95 s of CPU in all, data loading included (the issue allows 2 minutes).
  const allPlan: Plan = opts.quick ? { rounds: 3, warmups: 1, minSampleMs: 0 } : { rounds: 11, warmups: 1, minSampleMs: 400 };
  const tradePlan: Plan = opts.quick ? { rounds: 3, warmups: 1, minSampleMs: 0 } : { rounds: 17, warmups: 2, minSampleMs: 100 };
  // The previous run of B stays referenced until the next one replaces it. A live engine is never
  // garbage, but a bench run's is, right before the forced full GC: when every instance of a class
  // is gone V8 may drop its hidden classes and with them the optimised code that used them, so
  // each run would start deoptimised — a cost the collector never pays.
  let previous: PipelineRun | null = null;
  const pipeline = (frames: readonly Frame[], commitEveryMs?: number | null): number => {
    const r = runB(frames, symbols, commitEveryMs);
    previous = r;
    return checksumB(previous);
  };
  // BP's previous run is kept the same way, in its own reference (B's and BP's classes differ in part).
  let previousBP: PipelineRun | null = null;
  const withBooks = (frames: readonly Frame[], fileOf: readonly number[]): number => {
    previousBP = runBP(frames, fileOf, symbols);
    return checksumBP(previousBP);
  };
  const core = (frames: readonly Frame[], fileOf: readonly number[], bpEvery: number): Variant[] => [
    { id: 'A', label: 'A: JSON.parse only', run: () => runA(frames) },
    { id: 'B', label: 'B: our pipeline + commit/500 ms', run: () => pipeline(frames) },
    { id: 'BP', label: 'BP: B with books on (+ policy four-pillars-001 + tape)', run: () => withBooks(frames, fileOf), every: bpEvery },
    { id: 'C', label: 'C: tardis-dev binance-futures trade mapper', run: () => runC(frames, symbols) },
  ];
  const thread = openThreadCpu();
  const load0 = loadavg();
  const t0 = thread?.read() ?? 0;
  const p0 = processCpuNs();
  opts.log(
    `throughput: all ${all.length} frames, ${allPlan.warmups} warm-up + ${allPlan.rounds} interleaved rounds of A B BP C (CPU time; BP every other round)`,
  );
  const mAll = measure(core(all, ds.fileOf, opts.quick ? 1 : 2), all, allPlan);
  opts.log(`throughput: ${trades.length} trade frames, ${tradePlan.warmups} warm-up + ${tradePlan.rounds} rounds of A B BP C N B0 Z F`);
  const mTrade = measure(
    [
      ...core(trades, filesOfKind(ds, 'trade'), 1),
      { id: 'N', label: 'diag: normalizeFrame only', run: () => runNormalize(trades) },
      { id: 'B0', label: 'diag: B without commit', run: () => pipeline(trades, null) },
      { id: 'Z', label: 'diag: JSON.parse + zod RawTradeSchema', run: () => runZod(trades) },
      { id: 'F', label: 'diag: JSON.parse + fast path isRawTrade', run: () => runFast(trades) },
    ],
    trades,
    tradePlan,
  );
  const threadShare = thread === null ? null : (thread.read() - t0) / (processCpuNs() - p0);
  thread?.close();
  const load1 = loadavg();

  const ratios = {
    all: { B_over_A: ratio(mAll, 'B', 'A'), B_over_C: ratio(mAll, 'B', 'C'), BP_over_A: ratio(mAll, 'BP', 'A'), BP_over_B: ratio(mAll, 'BP', 'B') },
    trade_only: {
      B_over_A: ratio(mTrade, 'B', 'A'),
      B_over_C: ratio(mTrade, 'B', 'C'),
      BP_over_A: ratio(mTrade, 'BP', 'A'),
      BP_over_B: ratio(mTrade, 'BP', 'B'),
      N_over_A: ratio(mTrade, 'N', 'A'),
      F_over_Z: ratio(mTrade, 'F', 'Z'),
    },
  };
  const row = (set: string, n: number, m: Measured): string[] => [
    set,
    m.label,
    fmtInt(n),
    fmtInt(m.msg_per_s),
    fmt(m.mb_per_s, 1),
    fmt(m.median_cpu_ms, 1),
    String(m.reps),
    `${fmt(m.spread * 100, 0)} %`,
    fmt(m.wall_over_cpu, 2),
  ];
  const tables: Table[] = [
    {
      title: `Throughput in CPU time (median of interleaved rounds: ${allPlan.rounds} on all frames, BP in every other one; ${tradePlan.rounds} on trade frames)`,
      columns: ['frames', 'variant', 'n', 'msg/s', 'MB/s', 'CPU ms/run', 'runs/sample', 'spread (max−min)/median', 'wall/CPU'],
      rows: [...mAll.map((m) => row('all', all.length, m)), ...mTrade.map((m) => row('trade-only', trades.length, m))],
    },
    {
      title: 'Ratios (median of the per-round ratios, with their range over the rounds)',
      columns: ['ratio', 'all frames (the capture as recorded)', 'trade-only frames', 'target (issues 2 and 15)'],
      rows: [
        ['B/A', fmtRatio(ratios.all.B_over_A), fmtRatio(ratios.trade_only.B_over_A), '≥ 0.5 all; ≥ 0.8 trades'],
        ['B/C', fmtRatio(ratios.all.B_over_C), fmtRatio(ratios.trade_only.B_over_C), '≥ 3 all; ≥ 1.5 trades'],
        ['BP/A (books on vs JSON.parse)', fmtRatio(ratios.all.BP_over_A), fmtRatio(ratios.trade_only.BP_over_A), ''],
        ['BP/B (books on vs off)', fmtRatio(ratios.all.BP_over_B), fmtRatio(ratios.trade_only.BP_over_B), ''],
        ['N/A (normalizeFrame vs JSON.parse)', '', fmtRatio(ratios.trade_only.N_over_A), '≥ 1.0 trades'],
        ['F/Z (fast path vs zod, check only)', '', fmtRatio(ratios.trade_only.F_over_Z), ''],
      ],
    },
  ];
  const check = (name: string, r: Ratio, target: number): Check => ({ name, value: r.median, target: `>= ${target}`, met: r.median >= target });
  const checks: Check[] = [
    check('B/A, all frames', ratios.all.B_over_A, 0.5),
    check('B/C, all frames', ratios.all.B_over_C, 3),
    check('B/A, trade frames', ratios.trade_only.B_over_A, 0.8),
    check('B/C, trade frames', ratios.trade_only.B_over_C, 1.5),
    check('normalizeFrame/JSON.parse, trade frames', ratios.trade_only.N_over_A, 1),
  ];
  const shareSkipped = (ds.counts.bookTicker + ds.counts.depth) / all.length;
  const la = (xs: readonly number[]): string => xs.map((x) => x.toFixed(2)).join(' ');
  const notes = [
    `Clock: CPU time of the measuring thread (the section runs in a child process under V8's --single-threaded, so process CPU time is that thread's; ${threadShare === null ? 'no per-thread counter to confirm it on this OS' : `the kernel's per-thread counter attributes ${fmt(threadShare * 100, 1)} % of the process's CPU time over the section to that thread`}). ${opts.load ? 'Run with --load: a CPU-bound process ran beside the measurement all along.' : 'Run without --load.'} ${opts.pinnedCpu === null ? 'Not pinned to a core (no taskset, or one core): the scheduler placed the measuring process and any load.' : `The measuring process was pinned to core ${opts.pinnedCpu}${opts.load ? ' and the load to another' : ''} (taskset), so the scheduler never moved it between cores nor put the load on its core: a move costs the measured thread its warm private caches, CPU time the clock would count against whichever variant was running.`} Load average (1/5/15 min) ${la(load0)} at the start, ${la(load1)} at the end. wall/CPU above 1 is time the core spent elsewhere, which the figures leave out.`,
    `Samples: ${allPlan.rounds} rounds on all frames after ${allPlan.warmups} warm-up (BP, ~3 s a run, in every other round: its ratios pair the rounds where it ran), ${tradePlan.rounds} on trade frames after ${tradePlan.warmups}; a full GC before every sample. A variant whose run is shorter than the minimum sample (${allPlan.minSampleMs} ms of CPU on all frames, ${tradePlan.minSampleMs} ms on trades) runs back to back that many times per sample, the count fixed after the warm-ups (runs/sample), and its figure is per run: one disturbance then weighs on a short variant no more than on a long one.`,
    `All frames: ${fmtInt(all.length)} frames, ${(ds.text_bytes / 1e6).toFixed(1)} MB of JSON; ${(shareSkipped * 100).toFixed(1)} % are bookTicker/depth, which B counts and skips after reading the stream name from the envelope prefix, while A and C parse every frame. So B can beat the "physical limit" A on this mix: A is the limit for a pipeline that parses everything, not for one that need not.`,
    `Trade-only: every frame is a trade that B reads, validates, normalizes and windows, so B/A there is the per-message cost of the whole pipeline against a bare parse, and B/C what it would be if tardis were handed only trade frames (its server-side channel filter delivers exactly that). C does less per trade than B (no validation, no windows, no detection, no snapshots).`,
    `N is normalizeFrame alone: B reads combined-stream trade frames straight into the canonical event with src/binance/trade-scan.ts (other flat envelopes with src/binance/scan.ts) instead of JSON.parse, validating as it reads; test/scan.test.ts proves on real frames and tens of thousands of mutations that whenever it answers, the result equals JSON.parse + the fast path + the mapping, and otherwise JSON.parse runs. N/A ≥ 1 means the normalizer costs no more than the parse it replaces.`,
    `B includes SystemState.commit every 500 ms of receive time (the live cadence), Engine construction and takeNewPromotions; the previous run's engine stays referenced until the next run replaces it, as a live engine is never garbage (when every instance of a class dies before a full GC, V8 may drop its hidden classes and the optimised code built on them, so every run started deoptimised: B without commit took 2.8× the CPU time that way); C includes the Date per frame and the symbol filter that tardis' replayNormalized applies. Checksums were identical on every run of each variant.`,
    `BP is B with the books on as the live collector runs it (config books: true): createPipeline with the order books, policy four-pillars-001 and the liquidation tape beside M3, their snapshot sections in every commit. On all frames it parses, validates and applies each of the ${fmtInt(ds.counts.depth)} @depth@0ms diffs and the REST snapshot lines that B counts and skips unparsed (books sync from the capture's own snapshot, as replay does; live, DepthSync only fetches those bodies, whose cost is the REST client's), and samples the books as of every window end; on trade frames alone the books get nothing and BP/B is the policy's and tape's own cost. The app subscribes @depth@100ms, which sends fewer diffs per symbol than this @0ms capture.`,
    `The diag rows Z and F isolate the contract check on trade payloads: zod's RawTradeSchema.safeParse versus the hand-written isRawTrade that test/fastpath.test.ts proves accepts exactly what the schema accepts; the pipeline uses the fast path and consults zod only to explain a rejection.`,
  ];
  const json = (ms: readonly Measured[]): Json => ms.map((m) => ({ ...m, cpu_ms: [...m.cpu_ms], wall_ms: [...m.wall_ms] }));
  const jr = (r: Ratio): Json => ({ ...r });
  return {
    tables,
    notes,
    checks,
    data: {
      clock: 'process CPU time under --single-threaded',
      thread_share_of_process_cpu: threadShare === null ? null : Number(threadShare.toFixed(4)),
      load: opts.load,
      pinned_cpu: opts.pinnedCpu,
      load_avg_start: load0.map((x) => Number(x.toFixed(2))),
      load_avg_end: load1.map((x) => Number(x.toFixed(2))),
      plan: { all_frames: { ...allPlan }, trade_only: { ...tradePlan } },
      all_frames: { frames: all.length, bytes: ds.text_bytes, variants: json(mAll) },
      trade_only: { frames: trades.length, bytes: trades.reduce((s, f) => s + f.text.length, 0), variants: json(mTrade) },
      ratios: {
        all: { B_over_A: jr(ratios.all.B_over_A), B_over_C: jr(ratios.all.B_over_C), BP_over_A: jr(ratios.all.BP_over_A), BP_over_B: jr(ratios.all.BP_over_B) },
        trade_only: {
          B_over_A: jr(ratios.trade_only.B_over_A),
          B_over_C: jr(ratios.trade_only.B_over_C),
          BP_over_A: jr(ratios.trade_only.BP_over_A),
          BP_over_B: jr(ratios.trade_only.BP_over_B),
          N_over_A: jr(ratios.trade_only.N_over_A),
          F_over_Z: jr(ratios.trade_only.F_over_Z),
        },
      },
    },
  };
}

/** V8 flags of the measuring child: one thread does all the work (see the module comment). */
const CHILD_FLAGS = ['--single-threaded', '--expose-gc'];

const SectionResultSchema = z.object({
  tables: z.array(z.object({ title: z.string(), columns: z.array(z.string()), rows: z.array(z.array(z.string())) })),
  notes: z.array(z.string()),
  checks: z.array(z.object({ name: z.string(), value: z.number(), target: z.string(), met: z.boolean() })),
  data: z.json(),
});

/** The child's entry (`dist/bench.js --throughput-child --out=FILE [--quick] [--fixture] [--load]`). */
export async function runThroughputChild(root: string, argv: readonly string[]): Promise<void> {
  const out = argValue(argv, 'out');
  if (out === undefined) throw new Error('--throughput-child needs --out=FILE');
  const dataset = await loadDataset(root, argv.includes('--fixture'));
  const log = (m: string): void => void process.stderr.write(`${m}\n`);
  const pinned = argValue(argv, 'pinned');
  const result = measureThroughput(dataset, {
    quick: argv.includes('--quick'),
    load: argv.includes('--load'),
    pinnedCpu: pinned === undefined ? null : Number(pinned),
    log,
  });
  writeFileSync(out, JSON.stringify(result));
}

export async function throughputSection(ctx: SectionContext): Promise<SectionResult> {
  const where = placement();
  const load = ctx.load === true ? startLoad(where) : null;
  if (load !== null)
    ctx.log(`throughput: --load: a CPU-bound process (pid ${load.pid ?? '?'}${load.cpu === null ? '' : `, core ${load.cpu}`}) runs beside the measurement`);
  try {
    const raw = await runBenchChild({
      name: 'throughput',
      root: ctx.root,
      nodeFlags: CHILD_FLAGS,
      prefix: where === null ? [] : pinTo(where.measure),
      args: [
        ...(ctx.quick ? ['--quick'] : []),
        ...(ctx.dataset.origin === 'vendored-fixture' ? ['--fixture'] : []),
        ...(load !== null ? ['--load'] : []),
        ...(where === null ? [] : [`--pinned=${where.measure}`]),
      ],
      timeoutMs: 600_000,
      onStderr: (s) => {
        for (const line of s.split('\n')) if (line.length > 0) ctx.log(line);
      },
    });
    return SectionResultSchema.parse(raw);
  } finally {
    load?.stop();
  }
}
