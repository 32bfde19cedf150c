/**
 * The whole app at live rates, as a user runs it: `node dist/main.js --demo` (main thread with Qt,
 * the collector worker, in one process; its demo simulator in a child of its own) under a
 * virtual X display, beside the headless collector (`live --headless` against the same demo
 * simulator) for the collector's own share. Both with the launchers' environment
 * (scripts/runtime-env.cjs). After a warm-up (baselines warm, demo cascades under way), samples
 * VmRSS every 2 s, reads VmHWM, the CPU time of every thread, and at the end sorts the resident
 * pages of /proc/<pid>/smaps by what they belong to; the app's --footprint diagnostic adds the V8
 * heaps of both isolates and the main thread's busy time.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fmt, median } from './stats';
import { startStealSpan, type StealSpan } from './steal';
import type { Check, Json, SectionContext, Table } from './types';

// eslint-disable-next-line @typescript-eslint/no-require-imports -- the launchers' CommonJS helper, as the soak rig uses it
const { withRuntimeEnv } = require('../scripts/runtime-env.cjs') as { withRuntimeEnv: (env: NodeJS.ProcessEnv) => NodeJS.ProcessEnv };

const MB = 1024 * 1024;
const TARGET_RSS_MB = 150;
const TARGET_CPU_PCT = 5;
/** USER_HZ: the unit of utime/stime in /proc/<pid>/task/<tid>/stat (100 on Linux). */
const CLK_TCK = 100;

interface ThreadCpu {
  name: string;
  seconds: number;
}

/** CPU seconds of every thread of `pid`, by thread id. */
function threadCpu(pid: number): Map<string, ThreadCpu> {
  const out = new Map<string, ThreadCpu>();
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tids) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(tid, { name, seconds: (Number(f[11]) + Number(f[12])) / CLK_TCK });
    } catch {
      // the thread ended between listing and reading
    }
  }
  return out;
}

function statusKb(pid: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of readFileSync(`/proc/${pid}/status`, 'utf8').split('\n')) {
    const m = /^(VmRSS|VmHWM|RssAnon|RssFile|RssShmem):\s+(\d+)/.exec(line);
    if (m) out[m[1] as string] = Number(m[2]);
  }
  return out;
}

/** What a mapping's resident pages belong to. */
function category(path: string): string {
  if (path === '') return 'anonymous (V8 heaps of both isolates, thread arenas and stacks)';
  if (path === '[heap]') return 'main-thread malloc heap ([heap]: Qt, NodeGui wrappers, V8 compiler zones)';
  if (path.startsWith('[')) return 'other ([stack], [vdso], …)';
  if (/\/node$/.test(path)) return 'node binary (V8, ICU data, built-in JS)';
  if (path.includes('nodegui_core.node')) return 'NodeGui addon';
  if (/libQt6/.test(path)) return 'Qt 6 libraries';
  if (/libicu/.test(path)) return 'ICU libraries (Qt’s)';
  if (/libLLVM|\/dri\/|libGL|libEGL|libgbm|libglapi|libdrm|libz3/.test(path)) return 'GL / Mesa (llvmpipe)';
  if (/memfd:|\/SYSV|\/dev\/shm/.test(path)) return 'X shared memory (window backing store)';
  if (/\.(ttf|otf|pcf|cache-\d+)$|fontconfig/.test(path)) return 'fonts';
  return 'other shared libraries';
}

/** Resident MB per category from /proc/<pid>/smaps. */
function residentByCategory(pid: number): Record<string, number> {
  const out: Record<string, number> = {};
  let cat = '';
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const head = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head) cat = category(head[1] ?? '');
    else if (line.startsWith('Rss:')) out[cat] = (out[cat] ?? 0) + Number(line.split(/\s+/)[1]) / 1024;
  }
  return out;
}

interface Run {
  label: string;
  pid: number;
  rssMb: number[];
  hwmMb: number;
  last: Record<string, number>;
  cpuPct: { total: number; main: number; worker: number; rest: number };
  resident: Record<string, number>;
}

/** Samples `pid` for `seconds` after `warmS`; the busiest thread other than the main one is the collector worker. */
async function measure(label: string, pid: number, warmS: number, seconds: number, alive: () => boolean): Promise<Run> {
  const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
  await sleep(warmS * 1000);
  if (!alive()) throw new Error(`${label} exited during the warm-up`);
  const c0 = threadCpu(pid);
  const w0 = Date.now();
  const rss: number[] = [];
  while (Date.now() - w0 < seconds * 1000) {
    await sleep(2000);
    if (!alive()) throw new Error(`${label} exited while measured`);
    rss.push((statusKb(pid).VmRSS ?? 0) / 1024);
  }
  const c1 = threadCpu(pid);
  const wall = (Date.now() - w0) / 1000;
  const per: { tid: string; s: number }[] = [];
  for (const [tid, t] of c1) per.push({ tid, s: t.seconds - (c0.get(tid)?.seconds ?? 0) });
  const main = per.find((p) => p.tid === String(pid))?.s ?? 0;
  const others = per.filter((p) => p.tid !== String(pid)).sort((a, b) => b.s - a.s);
  const worker = others[0]?.s ?? 0;
  const total = per.reduce((a, p) => a + p.s, 0);
  const st = statusKb(pid);
  const pct = (s: number): number => (100 * s) / wall;
  return {
    label,
    pid,
    rssMb: rss,
    hwmMb: (st.VmHWM ?? 0) / 1024,
    last: Object.fromEntries(Object.entries(st).map(([k, v]) => [k, v / 1024])),
    cpuPct: { total: pct(total), main: pct(main), worker: pct(worker), rest: pct(total - main - worker) },
    resident: residentByCategory(pid),
  };
}

/** A private X server for the window, or null when Xvfb is not installed (the window then runs offscreen). */
async function startXvfb(): Promise<{ display: string; proc: ChildProcess } | null> {
  const bin = ['/usr/bin/Xvfb', '/usr/local/bin/Xvfb'].find((p) => existsSync(p));
  if (bin === undefined) return null;
  const proc = spawn(bin, ['-displayfd', '3', '-screen', '0', '1600x1000x24', '-nolisten', 'tcp'], { stdio: ['ignore', 'ignore', 'ignore', 'pipe'] });
  const display = await new Promise<string>((resolve, reject) => {
    let buf = '';
    const t = setTimeout(() => reject(new Error('Xvfb did not report a display within 10 s')), 10_000);
    proc.stdio[3]?.on('data', (c: Buffer) => {
      buf += c.toString();
      if (buf.includes('\n')) {
        clearTimeout(t);
        resolve(`:${buf.trim()}`);
      }
    });
    proc.once('exit', (code) => reject(new Error(`Xvfb exited (${code})`)));
  });
  return { display, proc };
}

function urlsOf(child: ChildProcess): Promise<{ rest: string; ws: string }> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const t = setTimeout(() => reject(new Error(`the demo simulator printed no URLs within 30 s: ${buf.slice(0, 300)}`)), 30_000);
    child.stdout?.on('data', (c: Buffer) => {
      buf += c.toString();
      const rest = /REST\s+(http:\/\/127\.0\.0\.1:\d+)/.exec(buf)?.[1];
      const ws = /WS\s+(ws:\/\/127\.0\.0\.1:\d+)/.exec(buf)?.[1];
      if (rest && ws) {
        clearTimeout(t);
        resolve({ rest, ws });
      }
    });
  });
}

function stop(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const t = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.once('exit', () => {
      clearTimeout(t);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

interface Footprint {
  main: { heap_total: number; heap_used: number };
  worker: { heap_total_bytes: number; heap_used_bytes: number; heap_live_bytes: number | null } | null;
  message_bytes: number;
  events: number;
}

export interface FootprintResult {
  tables: Table[];
  notes: string[];
  checks: Check[];
  data: { [k: string]: Json };
}

/** Runs the window app (optimize-for-size on, then off) and the headless collector, concurrently. */
export async function appFootprint(ctx: SectionContext): Promise<FootprintResult> {
  const warmS = ctx.quick ? 30 : 60;
  const seconds = ctx.quick ? 40 : 120;
  const dir = mkdtempSync(join(tmpdir(), 'pp-footprint-'));
  const main = join(ctx.root, 'dist', 'main.js');
  const cli = join(ctx.root, 'dist', 'cli.js');
  const x = await startXvfb();
  const platform = x ? `Xvfb ${x.display} (xcb)` : 'offscreen (no Xvfb installed)';
  const baseEnv = withRuntimeEnv({ ...process.env, XDG_CONFIG_HOME: join(dir, 'config'), ...(x ? { DISPLAY: x.display } : { QT_QPA_PLATFORM: 'offscreen' }) });
  const children: ChildProcess[] = [];
  const app = (name: string, env: NodeJS.ProcessEnv): { child: ChildProcess; footprint: string } => {
    const footprint = join(dir, `${name}-footprint.jsonl`);
    const child = spawn(
      process.execPath,
      [main, '--demo', '--debug-dir', join(dir, name, 'debug'), '--capture-dir', join(dir, name, 'captures'), '--footprint', footprint],
      { cwd: ctx.root, env: { ...baseEnv, ...env }, stdio: ['ignore', 'ignore', 'ignore'] },
    );
    children.push(child);
    return { child, footprint };
  };
  try {
    ctx.log(
      `ui-render: whole app at live rates on ${platform}: warm-up ${warmS} s, then ${seconds} s measured (two window runs and the headless collector, concurrently)`,
    );
    const opt = app('app', {});
    const noOpt = app('app-no-optimize', { PEAK_PRESSURE_OPTIMIZE_FOR_SIZE: '0' });
    const sim = spawn(process.execPath, [cli, 'simulate', '--port', '0', '--scenario', 'demo'], { cwd: ctx.root, stdio: ['ignore', 'pipe', 'ignore'] });
    children.push(sim);
    const urls = await urlsOf(sim);
    const headless = spawn(
      process.execPath,
      [
        cli,
        'live',
        '--headless',
        '--rest-url',
        urls.rest,
        '--ws-url',
        urls.ws,
        '--debug-dir',
        join(dir, 'headless', 'debug'),
        '--capture-dir',
        join(dir, 'headless', 'captures'),
      ],
      { cwd: ctx.root, env: withRuntimeEnv(process.env), stdio: ['ignore', 'ignore', 'ignore'] },
    );
    children.push(headless);
    const alive = (c: ChildProcess) => (): boolean => c.exitCode === null && c.signalCode === null;
    // The cores' steal over the measured span: a hypervisor's use of them raises everyone's CPU per unit of work.
    let span: StealSpan | null = null;
    const stealStart = setTimeout(() => (span = startStealSpan()), warmS * 1000);
    const [runOpt, runNoOpt, runHeadless] = await Promise.all([
      measure('window app', opt.child.pid as number, warmS, seconds, alive(opt.child)),
      measure('window app, PEAK_PRESSURE_OPTIMIZE_FOR_SIZE=0', noOpt.child.pid as number, warmS, seconds, alive(noOpt.child)),
      measure('headless collector (live --headless)', headless.pid as number, warmS, seconds, alive(headless)),
    ]);
    clearTimeout(stealStart);
    const stealShare = (span as StealSpan | null)?.end().share ?? null;
    const readFoot = (f: string): Footprint[] =>
      existsSync(f)
        ? readFileSync(f, 'utf8')
            .split('\n')
            .filter((l) => l.length > 0)
            .map((l) => JSON.parse(l) as Footprint)
        : [];
    const footOpt = readFoot(opt.footprint);
    const footNoOpt = readFoot(noOpt.footprint);
    const runs = [runOpt, runNoOpt, runHeadless];
    const row = (r: Run): string[] => [
      r.label,
      fmt(median(r.rssMb), 1),
      fmt(Math.min(...r.rssMb), 1),
      fmt(Math.max(...r.rssMb), 1),
      fmt(r.hwmMb, 1),
      fmt(r.cpuPct.total, 2),
      fmt(r.cpuPct.main, 2),
      fmt(r.cpuPct.worker, 2),
      fmt(r.cpuPct.rest, 2),
    ];
    const cats = [...new Set(runs.flatMap((r) => Object.keys(r.resident)))].sort((a, b) => (runOpt.resident[b] ?? 0) - (runOpt.resident[a] ?? 0));
    const heapRow = (label: string, f: Footprint[]): string[] => {
      const tail = f.slice(Math.floor(f.length / 2));
      const mid = (g: (x: Footprint) => number): string => (tail.length ? fmt(median(tail.map(g)) / MB, 1) : '—');
      return [
        label,
        mid((x) => x.main.heap_total),
        mid((x) => x.main.heap_used),
        mid((x) => x.worker?.heap_total_bytes ?? 0),
        mid((x) => x.worker?.heap_used_bytes ?? 0),
        mid((x) => x.worker?.heap_live_bytes ?? 0),
        tail.length ? fmt(median(tail.map((x) => x.message_bytes)) / 1024, 1) : '—',
      ];
    };
    const rssMax = Math.max(...runOpt.rssMb);
    const checks: Check[] = [
      {
        name: 'app-footprint: window app RSS median, MB',
        value: median(runOpt.rssMb),
        target: `<= ${TARGET_RSS_MB}`,
        met: median(runOpt.rssMb) <= TARGET_RSS_MB,
      },
      { name: 'app-footprint: window app RSS max sampled, MB', value: rssMax, target: `<= ${TARGET_RSS_MB}`, met: rssMax <= TARGET_RSS_MB },
      {
        name: 'app-footprint: window app CPU, % of a core',
        value: runOpt.cpuPct.total,
        target: `<= ${TARGET_CPU_PCT}`,
        met: runOpt.cpuPct.total <= TARGET_CPU_PCT,
      },
    ];
    const events = footOpt.at(-1)?.events ?? 0;
    return {
      tables: [
        {
          title: `Whole process at live rates (demo, speed 1; ${platform}; ${seconds} s after a ${warmS} s warm-up; RSS sampled every 2 s, MB; CPU in % of one core)`,
          columns: ['process', 'RSS median', 'min', 'max', 'VmHWM', 'CPU total', 'main thread', 'collector worker', 'other threads'],
          rows: runs.map(row),
        },
        {
          title: 'Where the resident memory is, at the end of the run (MB, /proc/<pid>/smaps)',
          columns: ['pages of', ...runs.map((r) => r.label)],
          rows: cats.map((c) => [c, ...runs.map((r) => fmt(r.resident[c] ?? 0, 1))]),
        },
        {
          title: 'V8 heaps of the window app, median of the second half (MB; --footprint), and one snapshot message to the window (KB, serialized)',
          columns: ['run', 'main heap total', 'main heap used', 'worker heap total', 'worker heap used', 'worker live after GC', 'message KB'],
          rows: [heapRow(runOpt.label, footOpt), heapRow(runNoOpt.label, footNoOpt)],
        },
      ],
      notes: [
        `The demo serves the recorded 2024-08-08 BTCUSDT/ETHUSDT trades cloned onto 10 symbols at speed 1 (about 150 trades/s), with scripted OI and liquidation cascades; ${events} events were promoted by the end. The window is the real app (\`node dist/main.js --demo\`), shown and active on ${platform}, rendering every 500 ms; the headless collector runs the same worker without Qt against its own demo simulator. Environment: scripts/runtime-env.cjs (MALLOC_MMAP_THRESHOLD_=65536, QT_XCB_GL_INTEGRATION=none, NODE_OPTIONS=--max-semi-space-size=1 for the main isolate); the three ran at the same time, so they saw the same machine load (load average in the footer${
          stealShare === null ? '' : `; the hypervisor took ${fmt(100 * stealShare, 1)} % of each core's time while they were measured, steal in /proc/stat`
        }).`,
        `"collector worker" is the busiest thread other than the main one; "other threads" are V8's GC and compiler helpers, libuv's pool and Qt's. The window's own cost is its main thread plus what V8's helpers spend on its heap; the rest is the collector, as in the headless row. PEAK_PRESSURE_OPTIMIZE_FOR_SIZE=0 turns off V8's --optimize-for-size (src/app/main.ts): the collector's heap is then collected about every 40 s instead of every 5 s, for more memory and less CPU.`,
      ],
      checks,
      data: {
        platform,
        warmup_s: warmS,
        measured_s: seconds,
        steal_share: stealShare === null ? null : Number(stealShare.toFixed(4)),
        events_promoted: events,
        runs: runs.map((r) => ({
          label: r.label,
          rss_median_mb: Number(median(r.rssMb).toFixed(1)),
          rss_min_mb: Number(Math.min(...r.rssMb).toFixed(1)),
          rss_max_mb: Number(Math.max(...r.rssMb).toFixed(1)),
          vm_hwm_mb: Number(r.hwmMb.toFixed(1)),
          cpu_pct: Object.fromEntries(Object.entries(r.cpuPct).map(([k, v]) => [k, Number(v.toFixed(2))])),
          resident_mb: Object.fromEntries(Object.entries(r.resident).map(([k, v]) => [k, Number(v.toFixed(1))])),
          status_mb: Object.fromEntries(Object.entries(r.last).map(([k, v]) => [k, Number(v.toFixed(1))])),
        })),
      },
    };
  } finally {
    for (const c of children.reverse()) await stop(c);
    if (x) await stop(x.proc);
    rmSync(dir, { recursive: true, force: true });
  }
}
