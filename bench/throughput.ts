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
 *
 * Several child processes, one after another, each with a share of the rounds, and the rounds of
 * all pooled (PROCESSES): one process carries state that all its rounds share — where V8 put the
 * frames and the code, which machine neighbours it ran beside for its minute — so a single
 * process's median, however many rounds it has, moved by 10–22 % between two runs (README, the
 * throughput section's "Earlier designs"). The per-process medians are printed beside the pooled ones.
 * Where the OS allows it, each process also starts with the same memory layout (./load's
 * fixedLayoutPrefix and THROUGHPUT_LAYOUT_FLAGS: no address-space randomisation, V8's seeds fixed),
 * which removes the layout part of that state instead of averaging it.
 */
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { z } from 'zod';
import { argValue, runBenchChild } from './child';
import { openThreadCpu, processCpuNs } from './cpu-clock';
import { type Dataset, filesOfKind, framesOfKind, loadDataset } from './data';
import { fullGc } from './gc';
import { fixedLayoutPrefix, pinTo, placement, startLoad, THROUGHPUT_LAYOUT_FLAGS } from './load';
import { checksumB, checksumBP, type PipelineRun, runA, runB, runBP, runC, runFast, runNormalize, runZod } from './pipelines';
import { fmt, fmtInt, median } from './stats';
import { openSteal, type StealReader } from './steal';
import type { Check, Json, SectionContext, SectionResult, Table } from './types';
import type { Frame } from '../src/core/source';

interface Variant {
  id: string;
  label: string;
  run: () => number;
  /** Timed in one round of this many (1: every round); the costly BP on all frames runs every other round. */
  every?: number;
  /**
   * Warm up once, not `plan.warmups` times: a run of a second or more (A, C, BP on all frames)
   * compiles in a small part of itself, and never repeats per sample, so a second warm-up only
   * spends the section's 2 minutes.
   */
  warmOnce?: boolean;
}

/**
 * How a frame set is measured: at least `rounds` rounds after warm-ups, each sample repeated until
 * it lasts at least `minSampleMs` of CPU; then more rounds while the process's share of the
 * section's time lasts (`budgetMs` of wall time, warm-ups included; up to `maxRounds`).
 */
interface Plan {
  rounds: number;
  warmups: number;
  minSampleMs: number;
  maxRounds: number;
  budgetMs?: number;
}

/** What one process measured of one variant: CPU and wall ms per run in each timed round, in round order (null where it did not run). */
const SamplesSchema = z.object({
  id: z.string(),
  label: z.string(),
  cpu_ms: z.array(z.number().nullable()),
  wall_ms: z.array(z.number().nullable()),
  /** Steal time of the measuring core during each sample, ms per run (./steal; empty where there is no counter). */
  steal_ms: z.array(z.number().nullable()),
  /** Runs per sample: a sample is timed over this many back-to-back runs, divided by it. */
  reps: z.number().int().positive(),
  checksum: z.number(),
});
type Samples = z.infer<typeof SamplesSchema>;

/** One variant over every process: rounds concatenated in process order, so rounds of different variants still pair up. */
interface Measured {
  id: string;
  label: string;
  cpu_ms: (number | null)[];
  /** Steal ms per run in the same rounds (empty without a steal counter). */
  steal_ms: (number | null)[];
  /** Runs per sample in each process. */
  reps: number[];
  median_cpu_ms: number;
  /** (max − min) / median of the rounds' CPU times. */
  spread: number;
  msg_per_s: number;
  mb_per_s: number;
  /** Median wall time over median CPU time: how much the machine took the core away. */
  wall_over_cpu: number;
  /** Steal time over wall time, summed over the variant's samples (null: no steal counter). */
  steal_share: number | null;
  checksum: number;
}

function measure(variants: readonly Variant[], plan: Plan, steal: StealReader | null): Samples[] {
  const { rounds, warmups } = plan;
  const start = performance.now();
  // The longest round so far (BP's rounds on all frames are the long ones): another is started
  // only if one that long still fits the budget.
  let longestRoundMs = 0;
  const cpu = variants.map((): (number | null)[] => []);
  const wall = variants.map((): (number | null)[] => []);
  const stolen = variants.map((): (number | null)[] => []);
  const warm = variants.map((): number[] => []);
  const reps = variants.map(() => 1);
  const sums = new Map<string, number>();
  for (let r = 0; ; r++) {
    const timedSoFar = r - warmups;
    if (timedSoFar >= rounds) {
      const left = plan.budgetMs === undefined ? 0 : plan.budgetMs - (performance.now() - start);
      if (timedSoFar >= plan.maxRounds || left < longestRoundMs) break;
    }
    const roundStart = performance.now();
    if (r === warmups) {
      // A short run is more exposed to one disturbance than a long one: repeat it back to back
      // until a sample lasts about as long as `minSampleMs`, the same count in every round.
      // From the last warm-up run: the first one compiles (B on all frames: ~500 ms cold, ~170 ms warm).
      variants.forEach((_, i) => (reps[i] = Math.max(1, Math.ceil(plan.minSampleMs / Math.max(0.001, (warm[i] as number[]).at(-1) ?? 0)))));
    }
    for (let k = 0; k < variants.length; k++) {
      // Rotate the order each round: no variant always runs right after the same other one.
      const i = (k + r) % variants.length;
      const v = variants[i] as Variant;
      const timed = r >= warmups;
      const every = v.every ?? 1;
      if (!timed && r > 0 && v.warmOnce === true) continue;
      if (timed && (r - warmups) % every !== 0) {
        (cpu[i] as (number | null)[]).push(null);
        (wall[i] as (number | null)[]).push(null);
        (stolen[i] as (number | null)[]).push(null);
        continue;
      }
      const n = reps[i] as number;
      fullGc();
      const s0 = steal?.read() ?? 0;
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
      const s1 = steal?.read() ?? 0;
      const prev = sums.get(v.id);
      if (prev !== undefined && prev !== sum) throw new Error(`${v.id}: checksum changed between runs (${prev} → ${sum})`);
      sums.set(v.id, sum);
      const cpuMs = (c1 - c0) / 1e6 / n;
      if (!timed) (warm[i] as number[]).push(cpuMs);
      else {
        (cpu[i] as (number | null)[]).push(cpuMs);
        (wall[i] as (number | null)[]).push((w1 - w0) / n);
        (stolen[i] as (number | null)[]).push((s1 - s0) / n);
      }
    }
    if (r >= warmups) longestRoundMs = Math.max(longestRoundMs, performance.now() - roundStart);
  }
  const r2 = (x: number | null): number | null => (x === null ? null : Number(x.toFixed(3)));
  return variants.map((v, i) => ({
    id: v.id,
    label: v.label,
    cpu_ms: (cpu[i] as (number | null)[]).map(r2),
    wall_ms: (wall[i] as (number | null)[]).map(r2),
    steal_ms: steal === null ? [] : (stolen[i] as (number | null)[]).map(r2),
    reps: reps[i] as number,
    checksum: sums.get(v.id) as number,
  }));
}

/** Pools each variant's rounds over the processes (every process ran the same variants in the same order). */
function pool(perProcess: readonly (readonly Samples[])[], frames: number, bytes: number): Measured[] {
  const first = perProcess[0] ?? [];
  return first.map((v0) => {
    const mine = perProcess.map((ms) => {
      const m = ms.find((x) => x.id === v0.id);
      if (m === undefined) throw new Error(`a throughput process did not measure ${v0.id}`);
      if (m.checksum !== v0.checksum) throw new Error(`${v0.id}: checksum differs between processes (${v0.checksum} → ${m.checksum})`);
      return m;
    });
    const all = mine.flatMap((m) => m.cpu_ms);
    const c = all.filter((x): x is number => x !== null);
    const w = mine.flatMap((m) => m.wall_ms).filter((x): x is number => x !== null);
    const st = mine.flatMap((m) => m.steal_ms).filter((x): x is number => x !== null);
    const sumOf = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0);
    const med = median(c);
    return {
      id: v0.id,
      label: v0.label,
      cpu_ms: all,
      steal_ms: mine.flatMap((m) => m.steal_ms),
      reps: mine.map((m) => m.reps),
      median_cpu_ms: Number(med.toFixed(2)),
      spread: Number(((Math.max(...c) - Math.min(...c)) / med).toFixed(3)),
      msg_per_s: Math.round(frames / (med / 1000)),
      mb_per_s: Number((bytes / 1e6 / (med / 1000)).toFixed(1)),
      wall_over_cpu: Number((median(w) / med).toFixed(2)),
      steal_share: st.length === 0 ? null : Number((sumOf(st) / sumOf(w)).toFixed(4)),
      checksum: v0.checksum,
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

/**
 * Processes the rounds are spread over, and each one's share of them. At least 9 rounds pooled on
 * each frame set (BP on all frames, ~1–3 s a run, in every other one); then as many more as the
 * section's time allows. The noise is the rounds' own (per-round ratios move by 10–25 % on this
 * VM, and 3–4 rounds per process explain the processes' differences), so more rounds is what
 * steadies a median; a faster machine gets more of them, a slower one still gets the minimum
 * (which took 110–114 s on a day this machine ran everything ~2× slower).
 */
const PROCESSES = 3;
const ALL_PLAN: Plan = { rounds: 3, warmups: 2, minSampleMs: 400, maxRounds: 8 };
const TRADE_PLAN: Plan = { rounds: 3, warmups: 2, minSampleMs: 100, maxRounds: 16 };
const QUICK_PLAN: Plan = { rounds: 3, warmups: 1, minSampleMs: 0, maxRounds: 3 };
/**
 * Wall time the measuring processes share: `npm run bench -- --only=throughput` (the build ~11 s,
 * the section's own data load ~2 s) stays under the issue's 2 minutes.
 */
const SECTION_BUDGET_MS = 90_000;
/** The all-frames rounds' share of a process's time; the trade rounds get what is left. */
const ALL_SHARE = 0.6;

/** The rounds a plan asks for, as the progress lines say it. */
const roundsText = (plan: Plan): string => `${plan.rounds}${plan.budgetMs === undefined ? '' : ` or more (${fmt(plan.budgetMs / 1000, 1)} s)`}`;

/** What one measuring process sends back. */
const ProcessMeasurementSchema = z.object({
  all: z.array(SamplesSchema),
  trade: z.array(SamplesSchema),
  /** The kernel's per-thread counter over the process CPU clock, or null where there is none. */
  thread_share: z.number().nullable(),
  /** Steal time of the measuring core over the process's measuring time (./steal), or null where there is no counter. */
  steal: z.object({ core: z.string(), ms: z.number(), wall_ms: z.number() }).nullable(),
  load_avg_start: z.array(z.number()),
  load_avg_end: z.array(z.number()),
});
type ProcessMeasurement = z.infer<typeof ProcessMeasurementSchema>;

export interface ThroughputOptions {
  quick: boolean;
  log: (message: string) => void;
  /** This process's share of the section's time, as `performance.now()` reads it (since the process started). */
  untilMs?: number;
}

/**
 * One process's share of the measurement; runs in the child (see the module comment). Consumes
 * `ds`: its frame arrays are emptied once the all-frames rounds are done.
 */
export function measureThroughput(ds: Dataset, opts: ThroughputOptions): ProcessMeasurement {
  const symbols = ds.symbols;
  const trades = framesOfKind(ds, 'trade');
  const left = (): number | undefined => (opts.untilMs === undefined ? undefined : Math.max(0, opts.untilMs - performance.now()));
  const budget = (plan: Plan, share: number): Plan => {
    const ms = left();
    return ms === undefined ? plan : { ...plan, budgetMs: ms * share };
  };
  const allPlan = opts.quick ? QUICK_PLAN : budget(ALL_PLAN, ALL_SHARE);
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
  const core = (frames: readonly Frame[], fileOf: readonly number[], bpEvery: number, long: boolean): Variant[] => [
    { id: 'A', label: 'A: JSON.parse only', run: () => runA(frames), warmOnce: long },
    { id: 'B', label: 'B: our pipeline + commit/500 ms', run: () => pipeline(frames) },
    { id: 'BP', label: 'BP: B with books on (+ policy four-pillars-001 + tape)', run: () => withBooks(frames, fileOf), every: bpEvery, warmOnce: long },
    { id: 'C', label: 'C: tardis-dev binance-futures trade mapper', run: () => runC(frames, symbols), warmOnce: long },
  ];
  const thread = openThreadCpu();
  const steal = openSteal();
  const steal0 = steal?.read() ?? 0;
  const wall0 = performance.now();
  const load0 = loadavg();
  const t0 = thread?.read() ?? 0;
  const p0 = processCpuNs();
  opts.log(
    `throughput: all ${ds.frames.length} frames, ${allPlan.warmups} warm-up + ${roundsText(allPlan)} interleaved rounds of A B BP C (CPU time; BP every other round)`,
  );
  const tradeFiles = filesOfKind(ds, 'trade');
  const mAll = measure(core(ds.frames, ds.fileOf, opts.quick ? 1 : 2, true), allPlan, steal);
  // The trade rounds never read the other 79 % of the frames, nor B's and BP's last all-frames
  // runs; left alive, every full GC before a trade sample marked them (~115 ms each, 8 a round).
  ds.frames = [];
  ds.kinds = [];
  ds.fileOf = [];
  previous = null;
  previousBP = null;
  const tradePlan = opts.quick ? QUICK_PLAN : budget(TRADE_PLAN, 1);
  opts.log(`throughput: ${trades.length} trade frames, ${tradePlan.warmups} warm-up + ${roundsText(tradePlan)} rounds of A B BP C N B0 Z F`);
  const mTrade = measure(
    [
      ...core(trades, tradeFiles, 1, false),
      { id: 'N', label: 'diag: normalizeFrame only', run: () => runNormalize(trades) },
      { id: 'B0', label: 'diag: B without commit', run: () => pipeline(trades, null) },
      { id: 'Z', label: 'diag: JSON.parse + zod RawTradeSchema', run: () => runZod(trades) },
      { id: 'F', label: 'diag: JSON.parse + fast path isRawTrade', run: () => runFast(trades) },
    ],
    tradePlan,
    steal,
  );
  const threadShare = thread === null ? null : (thread.read() - t0) / (processCpuNs() - p0);
  thread?.close();
  const stealOf = steal === null ? null : { core: steal.core, ms: Number((steal.read() - steal0).toFixed(1)), wall_ms: Math.round(performance.now() - wall0) };
  steal?.close();
  const r2 = (xs: readonly number[]): number[] => xs.map((x) => Number(x.toFixed(2)));
  return { all: mAll, trade: mTrade, thread_share: threadShare, steal: stealOf, load_avg_start: r2(load0), load_avg_end: r2(loadavg()) };
}

interface Pooled {
  all: Measured[];
  trade: Measured[];
}

/** Ratios read on each frame set: x over y, named `x_over_y`. */
const PAIRS = {
  B_over_A: ['B', 'A'],
  B_over_C: ['B', 'C'],
  BP_over_A: ['BP', 'A'],
  BP_over_B: ['BP', 'B'],
  N_over_A: ['N', 'A'],
  F_over_Z: ['F', 'Z'],
} as const;
type PairKey = keyof typeof PAIRS;
const ALL_KEYS = ['B_over_A', 'B_over_C', 'BP_over_A', 'BP_over_B'] as const satisfies readonly PairKey[];
const TRADE_KEYS = [...ALL_KEYS, 'N_over_A', 'F_over_Z'] as const satisfies readonly PairKey[];

interface Ratios {
  all: Record<(typeof ALL_KEYS)[number], Ratio>;
  trade_only: Record<(typeof TRADE_KEYS)[number], Ratio>;
}

function ratiosOf(m: Pooled): Ratios {
  const of = <K extends PairKey>(ms: readonly Measured[], keys: readonly K[]): Record<K, Ratio> =>
    Object.fromEntries(keys.map((k) => [k, ratio(ms, PAIRS[k][0], PAIRS[k][1])])) as Record<K, Ratio>;
  return { all: of(m.all, ALL_KEYS), trade_only: of(m.trade, TRADE_KEYS) };
}

/** The section's figures from every process's rounds (runs in the parent). */
export function summarizeThroughput(
  ds: Dataset,
  processes: readonly ProcessMeasurement[],
  opts: { quick: boolean; load: boolean; pinnedCpu: number | null; fixedLayout: boolean },
): SectionResult {
  const all = ds.frames;
  const trades = framesOfKind(ds, 'trade');
  const tradeBytes = trades.reduce((s, f) => s + f.text.length, 0);
  const allPlan = opts.quick ? QUICK_PLAN : ALL_PLAN;
  const tradePlan = opts.quick ? QUICK_PLAN : TRADE_PLAN;
  const n = processes.length;
  // Rounds each process ran (A runs in every one).
  const roundsOf = (ms: readonly Samples[]): number => ms[0]?.cpu_ms.length ?? 0;
  const allRounds = processes.map((p) => roundsOf(p.all));
  const tradeRounds = processes.map((p) => roundsOf(p.trade));
  const sum = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0);
  const pooled: Pooled = {
    all: pool(
      processes.map((p) => p.all),
      all.length,
      ds.text_bytes,
    ),
    trade: pool(
      processes.map((p) => p.trade),
      trades.length,
      tradeBytes,
    ),
  };
  const ratios = ratiosOf(pooled);
  const perProcess = processes.map((p) => ratiosOf({ all: pool([p.all], all.length, ds.text_bytes), trade: pool([p.trade], trades.length, tradeBytes) }));
  const row = (set: string, frames: number, m: Measured): string[] => [
    set,
    m.label,
    fmtInt(frames),
    fmtInt(m.msg_per_s),
    fmt(m.mb_per_s, 1),
    fmt(m.median_cpu_ms, 1),
    [...new Set(m.reps)].join('/'),
    `${fmt(m.spread * 100, 0)} %`,
    fmt(m.wall_over_cpu, 2),
    m.steal_share === null ? 'n/a' : `${fmt(m.steal_share * 100, 1)} %`,
  ];
  const totalAll = sum(allRounds);
  const totalTrade = sum(tradeRounds);
  const med = (r: Ratio): string => fmt(r.median, r.median < 0.1 ? 3 : 2);
  const perProcessRow = (set: string, key: PairKey, pick: (r: Ratios) => Ratio): string[] => {
    const ms = perProcess.map((p) => pick(p).median);
    const whole = pick(ratios);
    return [
      set,
      `${PAIRS[key][0]}/${PAIRS[key][1]}`,
      ...perProcess.map((p) => med(pick(p))),
      med(whole),
      `${fmt(((Math.max(...ms) - Math.min(...ms)) / whole.median) * 100, 0)} %`,
    ];
  };
  const tables: Table[] = [
    {
      title: `Throughput in CPU time (median of interleaved rounds pooled over ${n} process${n === 1 ? '' : 'es'}: ${totalAll} on all frames, BP in every other one; ${totalTrade} on trade frames)`,
      columns: ['frames', 'variant', 'n', 'msg/s', 'MB/s', 'CPU ms/run', 'runs/sample', 'spread (max−min)/median', 'wall/CPU', 'steal/wall'],
      rows: [...pooled.all.map((m) => row('all', all.length, m)), ...pooled.trade.map((m) => row('trade-only', trades.length, m))],
    },
    {
      title: 'Ratios (median of the per-round ratios over every process, with their range over the rounds)',
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
    ...(n > 1
      ? [
          {
            title: `The same ratios per process (median of that process's rounds: ${allRounds.join(' / ')} on all frames, ${tradeRounds.join(' / ')} on trades), beside the pooled median`,
            columns: ['frames', 'ratio', ...processes.map((_, i) => `process ${i + 1}`), 'pooled', '(max − min) / pooled'],
            rows: [
              ...ALL_KEYS.map((key) => perProcessRow('all', key, (r) => r.all[key])),
              ...TRADE_KEYS.map((key) => perProcessRow('trade-only', key, (r) => r.trade_only[key])),
            ],
          },
        ]
      : []),
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
  const la = (xs: readonly number[] | undefined): string => (xs ?? []).map((x) => x.toFixed(2)).join(' ');
  const shares = processes.map((p) => p.thread_share).filter((x): x is number => x !== null);
  const stealShares = processes.map((p) => (p.steal === null || p.steal.wall_ms === 0 ? null : p.steal.ms / p.steal.wall_ms));
  const stealNote = stealShares.every((x) => x === null)
    ? 'No steal counter here (/proc/stat).'
    : `Steal (the hypervisor running something else on the physical core behind ${processes[0]?.steal?.core ?? 'the measuring core'}; CPU time leaves it out, but not the cache refill after it): ${stealShares.map((x) => (x === null ? 'n/a' : `${fmt(x * 100, 1)} %`)).join(' / ')} of each process's measuring time; the steal/wall column is the same per variant's samples.`;
  const notes = [
    `Clock: CPU time of the measuring thread (each measuring process runs under V8's --single-threaded, so process CPU time is that thread's; ${shares.length === 0 ? 'no per-thread counter to confirm it on this OS' : `the kernel's per-thread counter attributes ${shares.map((x) => fmt(x * 100, 1)).join(' / ')} % of each process's CPU time to that thread`}). ${opts.load ? 'Run with --load: a CPU-bound process ran beside the measurement all along.' : 'Run without --load.'} ${opts.pinnedCpu === null ? 'Not pinned to a core (no taskset, or one core): the scheduler placed the measuring processes and any load.' : `The measuring processes were pinned to core ${opts.pinnedCpu}${opts.load ? ' and the load to another' : ''} (taskset), so the scheduler never moved one between cores nor put the load on its core: a move costs the measured thread its warm private caches, CPU time the clock would count against whichever variant was running.`} ${opts.fixedLayout ? `Each measuring process starts with the same memory layout: address-space randomisation off (setarch -R) and V8's seeds fixed (${THROUGHPUT_LAYOUT_FLAGS.join(' ')}), so where V8 puts its heap, its code and the frames does not change between processes or runs.` : 'Memory layout not fixed (no setarch -R here): each process places its heap and code at random addresses.'} Load average (1/5/15 min) ${la(processes[0]?.load_avg_start)} at the start, ${la(processes[n - 1]?.load_avg_end)} at the end. wall/CPU above 1 is time the core spent elsewhere, which the figures leave out. ${stealNote}`,
    `Samples: ${n} measuring process${n === 1 ? '' : 'es'} one after another, each loading the capture and running ${allPlan.warmups} warm-up rounds + ${allPlan.rounds} rounds on all frames (A, C and BP, runs of 1–3 s, warm up once; BP runs in every other round: its ratios pair the rounds where it ran), then, with the other frames released, ${tradePlan.warmups} + ${tradePlan.rounds} on trade frames; ${opts.quick ? 'no more (--quick)' : `then more rounds while the process's share of ${SECTION_BUDGET_MS / 1000} s of wall time lasts (${ALL_SHARE * 100} % of it for all frames, up to ${allPlan.maxRounds} rounds; the rest for trades, up to ${tradePlan.maxRounds}): ${allRounds.join(' / ')} and ${tradeRounds.join(' / ')} rounds ran`}; a full GC before every sample; every figure is the median over the rounds of all processes. Why several processes: a process's rounds share its state (where V8 placed the frames and the code, the neighbours of that minute), so one process's median of 11 rounds moved by up to 22 % between two runs, while its rounds agreed much better; the per-process table shows how far processes differ. A variant whose run is shorter than the minimum sample (${allPlan.minSampleMs} ms of CPU on all frames, ${tradePlan.minSampleMs} ms on trades) runs back to back that many times per sample, the count fixed from the variant's last warm-up run (the first compiles) in each process (runs/sample, per process), and its figure is per run: one disturbance then weighs on a short variant no more than on a long one.`,
    `All frames: ${fmtInt(all.length)} frames, ${(ds.text_bytes / 1e6).toFixed(1)} MB of JSON; ${(shareSkipped * 100).toFixed(1)} % are bookTicker/depth, which B counts and skips after reading the stream name from the envelope prefix, while A and C parse every frame. So B can beat the "physical limit" A on this mix: A is the limit for a pipeline that parses everything, not for one that need not.`,
    `Trade-only: every frame is a trade that B reads, validates, normalizes and windows, so B/A there is the per-message cost of the whole pipeline against a bare parse, and B/C what it would be if tardis were handed only trade frames (its server-side channel filter delivers exactly that). C does less per trade than B (no validation, no windows, no detection, no snapshots).`,
    `N is normalizeFrame alone: B reads combined-stream trade frames straight into the canonical event with src/binance/trade-scan.ts (other flat envelopes with src/binance/scan.ts) instead of JSON.parse, validating as it reads; test/scan.test.ts proves on real frames and tens of thousands of mutations that whenever it answers, the result equals JSON.parse + the fast path + the mapping, and otherwise JSON.parse runs. N/A ≥ 1 means the normalizer costs no more than the parse it replaces.`,
    `B includes SystemState.commit every 500 ms of receive time (the live cadence), Engine construction and takeNewPromotions; the previous run's engine stays referenced until the next run replaces it, as a live engine is never garbage (when every instance of a class dies before a full GC, V8 may drop its hidden classes and the optimised code built on them, so every run started deoptimised: B without commit took 2.8× the CPU time that way); C includes the Date per frame and the symbol filter that tardis' replayNormalized applies. Checksums were identical on every run of each variant, in every process.`,
    `BP is B with the books on as the live collector runs it (config books: true): createPipeline with the order books, policy four-pillars-001 and the liquidation tape beside M3, their snapshot sections in every commit. On all frames it parses, validates and applies each of the ${fmtInt(ds.counts.depth)} @depth@0ms diffs and the REST snapshot lines that B counts and skips unparsed (books sync from the capture's own snapshot, as replay does; live, DepthSync only fetches those bodies, whose cost is the REST client's), and samples the books as of every window end; on trade frames alone the books get nothing and BP/B is the policy's and tape's own cost. The app subscribes @depth@100ms, which sends fewer diffs per symbol than this @0ms capture.`,
    `The diag rows Z and F isolate the contract check on trade payloads: zod's RawTradeSchema.safeParse versus the hand-written isRawTrade that test/fastpath.test.ts proves accepts exactly what the schema accepts; the pipeline uses the fast path and consults zod only to explain a rejection.`,
  ];
  const json = (ms: readonly Measured[]): Json => ms.map((m) => ({ ...m, cpu_ms: [...m.cpu_ms], steal_ms: [...m.steal_ms], reps: [...m.reps] }));
  const jr = (rs: Partial<Record<PairKey, Ratio>>): Json => Object.fromEntries(Object.entries(rs).map(([k, r]) => [k, { ...r }]));
  return {
    tables,
    notes,
    checks,
    data: {
      clock: 'process CPU time under --single-threaded',
      processes: n,
      thread_share_of_process_cpu: processes.map((p) => (p.thread_share === null ? null : Number(p.thread_share.toFixed(4)))),
      steal: processes.map((p) => (p.steal === null ? null : { ...p.steal })),
      load: opts.load,
      pinned_cpu: opts.pinnedCpu,
      fixed_layout: opts.fixedLayout,
      load_avg_start: [...(processes[0]?.load_avg_start ?? [])],
      load_avg_end: [...(processes[n - 1]?.load_avg_end ?? [])],
      plan: {
        processes: n,
        section_budget_ms: opts.quick ? null : SECTION_BUDGET_MS,
        all_frames: { ...allPlan, rounds_run: allRounds },
        trade_only: { ...tradePlan, rounds_run: tradeRounds },
      },
      all_frames: { frames: all.length, bytes: ds.text_bytes, variants: json(pooled.all) },
      trade_only: { frames: trades.length, bytes: tradeBytes, variants: json(pooled.trade) },
      ratios: { all: jr(ratios.all), trade_only: jr(ratios.trade_only) },
      ratios_per_process: perProcess.map((p) => ({ all: jr(p.all), trade_only: jr(p.trade_only) })),
    },
  };
}

/** V8 flags of the measuring child: one thread does all the work (see the module comment). */
const CHILD_FLAGS = ['--single-threaded', '--expose-gc', ...THROUGHPUT_LAYOUT_FLAGS];

/** The child's entry (`dist/bench.js --throughput-child --out=FILE [--quick] [--fixture]`). */
export async function runThroughputChild(root: string, argv: readonly string[]): Promise<void> {
  const out = argValue(argv, 'out');
  if (out === undefined) throw new Error('--throughput-child needs --out=FILE');
  const dataset = await loadDataset(root, argv.includes('--fixture'));
  const log = (m: string): void => void process.stderr.write(`${m}\n`);
  const until = argValue(argv, 'until-ms');
  writeFileSync(
    out,
    JSON.stringify(measureThroughput(dataset, { quick: argv.includes('--quick'), log, ...(until === undefined ? {} : { untilMs: Number(until) }) })),
  );
}

export async function throughputSection(ctx: SectionContext): Promise<SectionResult> {
  const where = placement();
  const layout = fixedLayoutPrefix();
  const load = ctx.load === true ? startLoad(where) : null;
  if (load !== null)
    ctx.log(`throughput: --load: a CPU-bound process (pid ${load.pid ?? '?'}${load.cpu === null ? '' : `, core ${load.cpu}`}) runs beside the measurement`);
  const count = ctx.quick ? 1 : PROCESSES;
  const sectionStart = performance.now();
  try {
    const processes: ProcessMeasurement[] = [];
    for (let i = 0; i < count; i++) {
      // An equal share of what is left: a process that ends early leaves its time to the next.
      const shareMs = Math.max(0, (SECTION_BUDGET_MS - (performance.now() - sectionStart)) / (count - i));
      ctx.log(
        `throughput: measuring process ${i + 1} of ${count}${ctx.quick ? '' : ` (${fmt(shareMs / 1000, 1)} s of the section's ${SECTION_BUDGET_MS / 1000})`}`,
      );
      const raw = await runBenchChild({
        name: 'throughput',
        root: ctx.root,
        nodeFlags: CHILD_FLAGS,
        prefix: [...layout, ...(where === null ? [] : pinTo(where.measure))],
        // The child's own clock starts with it: its share counts its start and data load too.
        args: [...(ctx.quick ? ['--quick'] : [`--until-ms=${Math.round(shareMs)}`]), ...(ctx.dataset.origin === 'vendored-fixture' ? ['--fixture'] : [])],
        timeoutMs: 600_000,
        onStderr: (s) => {
          for (const line of s.split('\n')) if (line.length > 0) ctx.log(line);
        },
      });
      processes.push(ProcessMeasurementSchema.parse(raw));
    }
    return summarizeThroughput(ctx.dataset, processes, {
      quick: ctx.quick,
      load: load !== null,
      pinnedCpu: where?.measure ?? null,
      fixedLayout: layout.length > 0,
    });
  } finally {
    load?.stop();
  }
}
