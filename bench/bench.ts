/**
 * `npm run bench`: performance figures of the detection pipeline on a real capture.
 *
 *   node dist/bench.js [--quick] [--fixture] [--load] [--only=id,id] [--no-write] [--json=FILE] [--day-hours=N] [--day-speed=S]
 *
 * --fixture uses the vendored 70 s extract (test/fixtures) even when ../shared/data is present;
 * --only runs some sections and never writes results.json; --day-hours / --day-speed shorten or
 * change the memory-day run (a shortened run never writes results.json either). --load runs a
 * CPU-bound process beside the throughput measurement (the busy-machine run of issue 15). --json=FILE
 * writes the run's results (the same object as results.json, every sample included) to FILE, for
 * any run, a partial one too.
 *
 * Loads the capture into memory, runs every registered section in order, prints each section's
 * tables as markdown and writes everything (with machine info and the git commit) to
 * bench/results.json. To add a section (e.g. memory over a day, UI), write a `Section` in its own
 * module and append it to SECTIONS below; nothing else changes.
 */
import { writeFileSync, renameSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { loadDataset } from './data';
import { gcAvailable } from './gc';
import { gitInfo, machineInfo } from './machine';
import { renderTable } from './table';
import { commitLatencySection } from './commit-latency';
import { frameLatencySection } from './frame-latency';
import { memoryDayBooksSection, memoryDaySection } from './memory-day';
import { promotionLatencySection } from './promotion-latency';
import { runProfileChild, summariseProfile } from './profile';
import { sinksSection } from './sinks';
import { storeSection } from './store';
import { runThroughputChild, throughputSection } from './throughput';
import { runUiRenderChild, uiRenderSection } from './ui-render';
import type { Check, Json, Section, SectionContext } from './types';

const SECTIONS: readonly Section[] = [
  { id: 'throughput', title: 'Throughput: A (JSON.parse) vs B (pipeline) vs C (tardis-dev)', run: throughputSection },
  { id: 'frame-latency', title: 'Latency: per-frame processing time', run: frameLatencySection },
  { id: 'commit-latency', title: 'Latency: commit() with 10 symbols and full raw buffers', run: commitLatencySection },
  { id: 'promotion-latency', title: 'Latency: window close → promoted event in the active snapshot', run: promotionLatencySection },
  { id: 'store', title: 'Store: insert latency (persist → committed)', run: storeSection },
  { id: 'sinks', title: 'Sinks and HTTP API under load, beside the collector', run: sinksSection },
  { id: 'ui-render', title: 'UI: snapshot → widget updates (view-model + binding + paint)', run: uiRenderSection },
  { id: 'memory-day', title: 'Memory over a day: the collector against the simulator, accelerated', run: memoryDaySection },
  { id: 'memory-day-books', title: 'Memory with order books on: the collector against the simulator, depth included', run: memoryDayBooksSection },
];

/** The repository root: dist/bench.js and bench/bench.ts both sit one level below it. */
const ROOT = resolve(__dirname, '..');

interface Args {
  quick: boolean;
  /** Use the vendored 70 s extract even when ../shared is present. */
  fixture: boolean;
  /** A CPU-bound process beside the throughput measurement. */
  load: boolean;
  only: Set<string> | null;
  write: boolean;
  dayHours: number | undefined;
  daySpeed: number | undefined;
  json: string | undefined;
}

function parseArgs(argv: readonly string[]): Args {
  const args: Args = { quick: false, fixture: false, load: false, only: null, write: true, dayHours: undefined, daySpeed: undefined, json: undefined };
  const positive = (a: string, prefix: string): number => {
    const x = Number(a.slice(prefix.length));
    if (!(x > 0) || !Number.isFinite(x)) throw new Error(`${prefix}N needs a positive number, got ${a}`);
    return x;
  };
  for (const a of argv) {
    if (a === '--quick') args.quick = true;
    else if (a === '--fixture') args.fixture = true;
    else if (a === '--load') args.load = true;
    else if (a === '--no-write') args.write = false;
    else if (a.startsWith('--only=')) {
      // A partial run never replaces the committed results file.
      args.only = new Set(
        a
          .slice(7)
          .split(',')
          .filter((s) => s.length > 0),
      );
      args.write = false;
    } else if (a.startsWith('--day-hours=')) {
      args.dayHours = positive(a, '--day-hours=');
      // The committed results always cover the full day.
      if (args.dayHours < 24) args.write = false;
    } else if (a.startsWith('--day-speed=')) args.daySpeed = positive(a, '--day-speed=');
    else if (a.startsWith('--json=') && a.length > 7) args.json = resolve(a.slice(7));
    else
      throw new Error(
        `unknown argument ${a} (use --quick, --fixture, --load, --only=id,id, --no-write, --json=FILE, --day-hours=N, --day-speed=S; sections: ${SECTIONS.map((s) => s.id).join(', ')})`,
      );
  }
  return args;
}

async function main(): Promise<void> {
  // The UI section runs its measurements in a child process of this same bundle (NodeGui must
  // never load in the main bench process: without a display it aborts the process).
  if (process.argv[2] === '--ui-render-child') {
    await runUiRenderChild(ROOT, process.argv.slice(3));
    return;
  }
  if (process.argv[2] === '--profile-child') {
    await runProfileChild(ROOT, process.argv.slice(3));
    return;
  }
  if (process.argv[2] === '--profile-summary') {
    const file = process.argv[3];
    if (file === undefined) throw new Error('--profile-summary needs the .cpuprofile file written by --cpu-prof');
    process.stdout.write(`${summariseProfile(file)}\n`);
    return;
  }
  if (process.argv[2] === '--throughput-child') {
    await runThroughputChild(ROOT, process.argv.slice(3));
    return;
  }
  const args = parseArgs(process.argv.slice(2));
  const started = performance.now();
  const log = (m: string): void => {
    process.stderr.write(`[bench ${((performance.now() - started) / 1000).toFixed(1)}s] ${m}\n`);
  };
  const machine = machineInfo();
  const git = gitInfo(ROOT);
  log(
    `${machine.cpu_model} × ${machine.cores}, node ${machine.node}, commit ${git.commit ?? '?'}${git.dirty_files ? ` (+${git.dirty_files} uncommitted files)` : ''}`,
  );
  const t0 = performance.now();
  const dataset = await loadDataset(ROOT, args.fixture);
  const loadS = (performance.now() - t0) / 1000;
  log(
    `loaded ${dataset.frames.length} frames (${(dataset.text_bytes / 1e6).toFixed(1)} MB) from ${dataset.origin} in ${loadS.toFixed(1)} s (not timed by any section)`,
  );
  const ctx: SectionContext = {
    dataset,
    quick: args.quick,
    load: args.load,
    log,
    root: ROOT,
    ...(args.dayHours !== undefined ? { dayHours: args.dayHours } : {}),
    ...(args.daySpeed !== undefined ? { daySpeed: args.daySpeed } : {}),
  };

  const out: { [id: string]: Json } = {};
  const checks: (Check & { section: string })[] = [];
  const printed: string[] = [];
  for (const s of SECTIONS) {
    if (args.only && !args.only.has(s.id)) continue;
    const st = performance.now();
    log(`section ${s.id} …`);
    const r = await s.run(ctx);
    const secs = (performance.now() - st) / 1000;
    out[s.id] = {
      title: s.title,
      seconds: Number(secs.toFixed(1)),
      tables: r.tables.map((t) => ({ ...t, columns: [...t.columns], rows: t.rows.map((x) => [...x]) })),
      notes: [...r.notes],
      checks: r.checks.map((c) => ({ ...c })),
      data: r.data,
    };
    for (const c of r.checks) checks.push({ section: s.id, ...c });
    const text = [`### ${s.title}`, '', ...r.tables.map((t) => `${renderTable(t)}\n`), ...r.notes.map((n) => `- ${n}`), ''].join('\n');
    printed.push(text);
    process.stdout.write(`${text}\n`);
  }
  if (checks.length > 0) {
    const lines = checks.map((c) => `- ${c.met ? 'met    ' : 'MISSED '} ${c.name}: ${Number(c.value.toPrecision(4))} (target ${c.target})`);
    process.stdout.write(`### Targets\n\n${lines.join('\n')}\n\n`);
  }
  const total = (performance.now() - started) / 1000;
  const loadEnd = loadavg().map((x) => Number(x.toFixed(2)));
  const machineLine = `${machine.cpu_model}, ${machine.cores} cores, ${machine.os}, node ${machine.node}, commit ${git.commit?.slice(0, 12) ?? '?'}, run ${total.toFixed(0)} s, load average ${machine.load_avg_at_start[0]} → ${loadEnd[0]}`;
  process.stdout.write(`_${machineLine}_\n`);
  if (!args.write && args.json === undefined) return;
  const results: Json = {
    schema: 1,
    generated_at: new Date().toISOString(),
    quick: args.quick,
    load: args.load,
    duration_s: Number(total.toFixed(1)),
    git: { commit: git.commit, dirty_files: git.dirty_files },
    machine: { ...machine, load_avg_at_start: [...machine.load_avg_at_start], load_avg_at_end: loadEnd },
    gc_between_runs: gcAvailable(),
    dataset: {
      origin: dataset.origin,
      files: [...dataset.files],
      frames: dataset.frames.length,
      text_bytes: dataset.text_bytes,
      counts: { ...dataset.counts },
      bad_lines: dataset.bad_lines,
      recv_span_ms: { ...dataset.recv_span_ms },
      symbols: [...dataset.symbols],
      load_seconds: Number(loadS.toFixed(1)),
    },
    checks: checks.map((c) => ({ ...c })),
    sections: out,
  };
  const text = `${JSON.stringify(results, null, 2)}\n`;
  if (args.json !== undefined) {
    writeFileSync(args.json, text);
    log(`wrote ${args.json}`);
  }
  if (!args.write) return;
  const path = join(ROOT, 'bench', 'results.json');
  writeFileSync(`${path}.tmp`, text);
  renameSync(`${path}.tmp`, path);
  log(`wrote ${path} in ${total.toFixed(1)} s total`);
}

main().catch((e: unknown) => {
  process.stderr.write(`bench failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exitCode = 1;
});
