/**
 * Two processes, as in production, for memory over (accelerated) time: the loopback simulator in
 * one (`node dist/cli.js simulate`) and the headless collector in another (`node dist/cli.js live
 * --headless`, capture on), sharing the simulator's clock (`clock {…}` → `--clock`), so the
 * collector's process is measured alone. Used by the `memory-day` benchmark and test/soak.test.ts.
 *
 * Sampled while it runs:
 *   - the collector process from /proc/<pid>/status (VmRSS) and /proc/<pid>/stat (CPU), every
 *     `sampleEveryMs` of wall time (Linux; elsewhere only the snapshot figures exist);
 *   - <debug-dir>/latest_snapshot.json whenever it changed: the worker's heap (`process` figures,
 *     taken at commit), counters, watermark, health;
 *   - the simulator's `stats {…}` lines (frames sent, its own lag and CPU share).
 *
 * The collector runs on the simulator's clock (`--clock`): market durations in its configuration
 * (rotation, backoff, Retry-After, stale and silence thresholds) are simulator time and keep their
 * meaning; machine cadences (commit, snapshot file, heap probe, capture flush, watchdog checks, OI
 * request pacing) are wall time at any speed (src/clock `machineMs`). `collectorConfig` says what it
 * sets and why.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createReadStream, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { constants as zlibConstants, createGunzip } from 'node:zlib';
import { type Snapshot, SnapshotSchema } from '../src/core/contracts/snapshot';
import { type ClockSpec, ClockSpecSchema, clockFromSpec } from '../src/clock/accelerated';
import { GAP_MAGIC, parseCaptureLine } from '../src/capture/format';

// One definition of the launchers' environment, shared with scripts/start.cjs.
// eslint-disable-next-line @typescript-eslint/no-require-imports -- a CommonJS script shared with the launchers
const { withRuntimeEnv } = require('../scripts/runtime-env.cjs') as { withRuntimeEnv: (env: NodeJS.ProcessEnv) => NodeJS.ProcessEnv };

const HOUR_MS = 3_600_000;
/** /proc/<pid>/stat times are in clock ticks; Linux on x86-64 and arm64 uses 100 per second. */
const CLK_TCK = 100;

export interface SoakOptions {
  /** The repository root (dist/cli.js is run from it). */
  root: string;
  speed: number;
  /** Run until this much exchange time has passed since the collector started. */
  exchangeHours: number;
  seed?: number;
  /** Wall ms between /proc samples (default 1000). */
  sampleEveryMs?: number;
  /** Wall ms between snapshot-file writes by the collector (default 1000; production: 5000). */
  snapshotFileEveryMs?: number;
  /** Wall ms between the simulator's stats lines (default 1000). */
  simStatsEveryMs?: number;
  /**
   * Wall ms between forced full GCs in the collector worker that measure its live heap exactly
   * (node --expose-gc + config heapProbeIntervalMs); 0 = none, only V8's own GCs are observed.
   */
  heapProbeEveryMs?: number;
  /** Keep the temp directory (captures, logs) instead of deleting it. */
  keepDir?: boolean;
  log?: (message: string) => void;
  /** Give up (and stop both) after this much wall time (default: 3 × the expected run + 60 s). */
  wallLimitMs?: number;
  /** Order books on (/public depth and REST snapshots); default off (`collectorConfig` says why). */
  books?: boolean;
}

export interface ProcSample {
  wall_s: number;
  exchange_h: number;
  rss_bytes: number;
  /** RSS split: private anonymous memory (heaps, buffers) and mapped files (the node binary). */
  rss_anon_bytes: number;
  rss_file_bytes: number;
  /** VmHWM so far: the peak RSS, including spikes between samples. */
  hwm_bytes: number;
  /** Collector process CPU (user + system), seconds since it started. */
  cpu_s: number;
}

export interface SnapSample {
  wall_s: number;
  /** Exchange hours of the snapshot's own timestamp since the collector started. */
  exchange_h: number;
  seq: number;
  rss_bytes: number;
  heap_used_bytes: number;
  heap_total_bytes: number;
  external_bytes: number;
  array_buffers_bytes: number;
  /** Worker old generation right after its latest full GC (null before the first). */
  heap_live_bytes: number | null;
  /** Of heap_live_bytes, V8's compiled code and bytecode (null before the first full GC). */
  heap_code_bytes: number | null;
  major_gcs: number;
  frames: number;
  windows: number;
  promotions: number;
  promoted_in_panel: number;
  /** Raw liquidation rows retained by the symbol with the fewest (each symbol's ring holds at most LIMITS.RAW_LIQUIDATIONS_PER_SYMBOL). */
  liquidations_retained_min: number;
  /** The store's commit latency over its latest (at most 1000) writes, from the snapshot's `store.persist`. */
  store_writes: number;
  store_p50_ms: number | null;
  store_p99_ms: number | null;
  store_max_ms: number | null;
  /** Exchange ms between the snapshot's clock time and the watermark (how far behind processing runs). */
  watermark_lag_ms: number | null;
  health: string;
  stage: string;
  reconnects: number;
  ws_state: string;
}

export interface SimStat {
  wall_s: number;
  exchange_h: number;
  frames_sent: number;
  lag_ms: number;
  busy_share: number;
  open_connections: number;
  connections: number;
  rest_requests: number;
  cascades: number;
  rss_bytes: number;
}

export interface CaptureScan {
  files: { name: string; bytes: number }[];
  lines: number;
  /** `#` lines: part headers and gap marks. */
  header_lines: number;
  /** Gap marks (`#peak-pressure-gap`) and the frames they say are not in the capture, by reason. */
  gaps: { marks: number; frames: number; by_reason: Record<string, number> };
  /** Frames carrying an exchange event time `"E":…` (WS market data), counted per exchange second. */
  with_event_time: number;
  per_exchange_second: { seconds: number; mean: number; p50: number; p99: number; max: number; max_at_ms: number | null };
  scan_seconds: number;
}

export interface SoakResult {
  dir: string;
  speed: number;
  clock: ClockSpec;
  /** Exchange ms when the collector was started (t = 0 of every `exchange_h`). */
  t0_ms: number;
  wall_seconds: number;
  exchange_hours: number;
  config: Record<string, unknown>;
  proc: ProcSample[];
  snaps: SnapSample[];
  sim: SimStat[];
  final: Snapshot | null;
  collector_exit_code: number | null;
  collector_stdout_lines: number;
  collector_stdout_tail: string[];
  collector_stderr: string;
  capture_files: { name: string; bytes: number }[];
  /** Peak VmHWM of the collector process (Linux), bytes. */
  rss_peak_bytes: number | null;
  have_proc: boolean;
}

/**
 * One point per live-heap reading the snapshots carry (each forced or observed full GC gives a new
 * value; the snapshot file repeats it until the next one): exchange hours → bytes. `part` picks
 * what is read: the whole live heap, V8's compiled code in it, or the rest (the program's data).
 */
export function liveHeapReadings(snaps: readonly SnapSample[], part: 'all' | 'code' | 'data' = 'all'): { x: number; y: number }[] {
  const out: { x: number; y: number }[] = [];
  let prev: number | null = null;
  for (const s of snaps) {
    const live = s.heap_live_bytes;
    if (live !== null && live !== prev) {
      const code = s.heap_code_bytes;
      if (part === 'all') out.push({ x: s.exchange_h, y: live });
      else if (code !== null) out.push({ x: s.exchange_h, y: part === 'code' ? code : live - code });
    }
    prev = live;
  }
  return out;
}

/** The collector's config for an accelerated run, with why each value differs from the default. */
export function collectorConfig(
  speed: number,
  snapshotFileEveryMs: number,
  heapProbeEveryMs = 0,
  books = false,
): { config: Record<string, unknown>; notes: string[] } {
  const config = {
    mode: 'DEMO',
    // 30 s of exchange time would be 30/S s of wall time, less than one GC pause of either
    // process. 3 s of wall time instead (a market threshold: it runs on the simulator's clock).
    staleAfterMs: Math.round(3000 * speed),
    // One OI request per 10 ms of wall time, so the REST path runs about as often as it can; OI
    // is still older than 10 exchange s, so health reports OI_STALE.
    oiPollIntervalMs: 100,
    snapshotFileIntervalMs: snapshotFileEveryMs,
    heapProbeIntervalMs: heapProbeEveryMs,
    // At speed S the simulator sends 100·S depth diffs a second (12,000 at speed 120), each applied
    // to a book: a load no exchange produces, which saturates both cores and turns the run into a
    // CPU test. The rig measures M3's memory and keeping up; the books' memory is a separate figure
    // (memory-day's books-on variant, at a speed the collector keeps up with).
    books,
  };
  const notes = [
    books
      ? `books true (order books on: ${100 * speed} depth diffs a second from the simulator, each applied to a book, and the books' REST snapshots)`
      : `books false (order books off: at speed ${speed} the simulator would send ${100 * speed} depth diffs a second)`,
    `the collector runs on the simulator's clock: market durations (the 23 h 50 min rotation, backoffs, Retry-After pauses, stale and silence thresholds) are exchange time; machine cadences (commit, snapshot file, capture flush, watchdog checks, OI pacing and timeout, heap probe) are wall time at any speed (src/clock machineMs)`,
    `staleAfterMs ${config.staleAfterMs} (= 3 s of wall time, instead of 30/${speed} s)`,
    `oiPollIntervalMs ${config.oiPollIntervalMs} (one OI request per 10 ms of wall time: OI is still older than 10 s of exchange time, so health reports OI_STALE)`,
    `snapshotFileIntervalMs ${config.snapshotFileIntervalMs} (production 5 s)`,
    ...(heapProbeEveryMs > 0
      ? [
          `heapProbeIntervalMs ${config.heapProbeIntervalMs} with node --expose-gc (a forced full GC in the worker every ${heapProbeEveryMs / 1000} wall s = ${(((heapProbeEveryMs / 1000) * speed) / 60).toFixed(1)} exchange min, to read its live heap exactly; off in the product)`,
        ]
      : []),
  ];
  return { config, notes };
}

function procStatus(pid: number): { rss: number; hwm: number; anon: number; file: number } | null {
  try {
    const text = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (key: string): number => {
      const m = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text);
      return m ? Number(m[1]) * 1024 : 0;
    };
    return { rss: kb('VmRSS'), hwm: kb('VmHWM'), anon: kb('RssAnon'), file: kb('RssFile') };
  } catch {
    return null;
  }
}

function procCpuSeconds(pid: number): number | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the parenthesised command name: state is field 3, utime 14, stime 15.
    const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return (Number(rest[11]) + Number(rest[12])) / CLK_TCK;
  } catch {
    return null;
  }
}

/** Lines of a child's stdout, as they come. */
export function onLines(child: ChildProcess, fn: (line: string) => void): void {
  let buf = '';
  child.stdout?.on('data', (c: Buffer) => {
    buf += c.toString('utf8');
    let i: number;
    while ((i = buf.indexOf('\n')) >= 0) {
      fn(buf.slice(0, i));
      buf = buf.slice(i + 1);
    }
  });
}

function num(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : 0;
}

export function waitExit(child: ChildProcess, ms: number): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve(child.exitCode);
    const t = setTimeout(() => {
      child.kill('SIGKILL');
    }, ms);
    child.once('exit', (code) => {
      clearTimeout(t);
      resolve(code);
    });
  });
}

function listCaptures(dir: string): { name: string; bytes: number }[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.pp.gz'))
    .sort()
    .map((f) => ({ name: f, bytes: statSync(join(dir, f)).size }));
}

export interface SimulatorProcess {
  child: ChildProcess;
  /** The simulator's clock (its `clock {…}` line): what `live --clock` takes. */
  clock: ClockSpec;
  restUrl: string;
  wsUrl: string;
  /** The last 4000 characters of its stderr. */
  stderr: () => string;
  /** SIGTERM, then wait for the exit (SIGKILL after 10 s). */
  stop: () => Promise<void>;
}

/**
 * `node dist/cli.js simulate --port 0 --speed S --scenario demo` in its own process; resolves
 * once it printed its URLs and its clock. `onLine` sees every stdout line (the `stats {…}` lines).
 */
export async function startSimulatorProcess(opts: {
  root: string;
  speed: number;
  seed: number;
  scenario?: string;
  statsEveryMs?: number;
  onLine?: (line: string) => void;
}): Promise<SimulatorProcess> {
  const cli = join(opts.root, 'dist', 'cli.js');
  const args = [cli, 'simulate', '--port', '0', '--speed', String(opts.speed), '--scenario', opts.scenario ?? 'demo', '--seed', String(opts.seed)];
  if (opts.statsEveryMs !== undefined) args.push('--stats-every', String(opts.statsEveryMs));
  const sim = spawn(process.execPath, args, { cwd: opts.root, stdio: ['ignore', 'pipe', 'pipe'] });
  let simErr = '';
  sim.stderr?.on('data', (c: Buffer) => (simErr = (simErr + c.toString()).slice(-4000)));
  let clock: ClockSpec | null = null;
  let restUrl: string | null = null;
  let wsUrl: string | null = null;
  const wall0 = Date.now();
  onLines(sim, (line) => {
    restUrl ??= /REST\s+(http:\/\/127\.0\.0\.1:\d+)/.exec(line)?.[1] ?? null;
    wsUrl ??= /WS\s+(ws:\/\/127\.0\.0\.1:\d+)/.exec(line)?.[1] ?? null;
    if (line.startsWith('clock ')) clock = ClockSpecSchema.parse(JSON.parse(line.slice(6)));
    opts.onLine?.(line);
  });
  const ready = await new Promise<{ clock: ClockSpec; restUrl: string; wsUrl: string }>((resolve, reject) => {
    const t = setInterval(() => {
      if (clock !== null && restUrl !== null && wsUrl !== null) {
        clearInterval(t);
        resolve({ clock, restUrl, wsUrl });
      } else if (sim.exitCode !== null) {
        clearInterval(t);
        reject(new Error(`simulator exited (${sim.exitCode}) before listening: ${simErr}`));
      } else if (Date.now() - wall0 > 60_000) {
        clearInterval(t);
        sim.kill('SIGKILL');
        reject(new Error(`simulator did not print its URLs and clock within 60 s: ${simErr}`));
      }
    }, 50);
  });
  return {
    child: sim,
    ...ready,
    stderr: () => simErr,
    stop: async () => {
      sim.kill('SIGTERM');
      await waitExit(sim, 10_000);
    },
  };
}

export async function runSoak(opts: SoakOptions): Promise<SoakResult> {
  const log = opts.log ?? ((): void => undefined);
  const cli = join(opts.root, 'dist', 'cli.js');
  if (!existsSync(cli)) throw new Error(`${cli} is missing: run \`npm run build\` first`);
  const speed = opts.speed;
  const sampleEveryMs = opts.sampleEveryMs ?? 1000;
  const snapEvery = opts.snapshotFileEveryMs ?? 1000;
  const dir = mkdtempSync(join(tmpdir(), 'pp-soak-'));
  const debugDir = join(dir, 'debug');
  const captureDir = join(dir, 'captures');
  const heapProbeEveryMs = opts.heapProbeEveryMs ?? 0;
  const { config } = collectorConfig(speed, snapEvery, heapProbeEveryMs, opts.books ?? false);
  const configPath = join(dir, 'collector.json');
  writeFileSync(configPath, `${JSON.stringify(config, null, 2)}\n`);

  // ---- the simulator ----
  const simStats: SimStat[] = [];
  let now: () => number = Date.now;
  let t0 = 0;
  const wall0 = Date.now();
  let collectorStarted = false;
  const simProc = await startSimulatorProcess({
    root: opts.root,
    speed,
    seed: opts.seed ?? 1,
    statsEveryMs: opts.simStatsEveryMs ?? 1000,
    onLine: (line) => {
      if (!line.startsWith('stats ') || !collectorStarted) return;
      const s = JSON.parse(line.slice(6)) as Record<string, unknown>;
      simStats.push({
        wall_s: (num(s.wallMs) - wall0) / 1000,
        exchange_h: (num(s.nowMs) - t0) / HOUR_MS,
        frames_sent: num(s.framesSent),
        lag_ms: num(s.lagMs),
        busy_share: num(s.busyShare),
        open_connections: num(s.openConnections),
        connections: num(s.connections),
        rest_requests: num(s.restRequests),
        cascades: num(s.cascades),
        rss_bytes: num(s.rssBytes),
      });
    },
  });
  const { child: sim, restUrl, wsUrl } = simProc;
  const spec: ClockSpec = simProc.clock;
  const simClock = clockFromSpec(spec);
  now = () => simClock.now();
  log(`simulator at ${restUrl} (speed ${speed}, clock origin ${new Date(spec.originMs).toISOString()})`);

  // ---- the collector ----
  t0 = now();
  collectorStarted = true;
  const collector = spawn(
    process.execPath,
    [
      ...(heapProbeEveryMs > 0 ? ['--expose-gc'] : []),
      cli,
      'live',
      '--headless',
      '--config',
      configPath,
      '--rest-url',
      restUrl,
      '--ws-url',
      wsUrl,
      '--debug-dir',
      debugDir,
      '--capture-dir',
      captureDir,
      '--clock',
      JSON.stringify(spec),
    ],
    // The environment the app's launchers give it (scripts/runtime-env.cjs), so this measures what users run.
    { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], env: withRuntimeEnv(process.env) },
  );
  const pid = collector.pid ?? -1;
  let stdoutLines = 0;
  const tail: string[] = [];
  let stderr = '';
  collector.stderr?.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-8000)));
  onLines(collector, (line) => {
    stdoutLines++;
    tail.push(line);
    if (tail.length > 40) tail.shift();
  });
  const wallStart = Date.now();
  const wallLimit = opts.wallLimitMs ?? Math.round(((opts.exchangeHours * HOUR_MS) / speed) * 3 + 60_000);
  log(`collector pid ${pid}; running ${opts.exchangeHours} exchange hours ≈ ${((opts.exchangeHours * HOUR_MS) / speed / 1000).toFixed(0)} s of wall time`);

  const proc: ProcSample[] = [];
  const snaps: SnapSample[] = [];
  const haveProc = existsSync(`/proc/${pid}/status`);
  let hwm = 0;
  let lastSeq = -1;
  let lastMtime = 0;
  let reading = false;
  const snapPath = join(debugDir, 'latest_snapshot.json');
  const readSnapshot = async (): Promise<Snapshot | null> => {
    try {
      const r = SnapshotSchema.safeParse(JSON.parse(await readFile(snapPath, 'utf8')));
      return r.success ? r.data : null;
    } catch {
      return null; // not written yet, or replaced while read
    }
  };
  const toSample = (s: Snapshot): SnapSample => ({
    wall_s: (Date.now() - wallStart) / 1000,
    exchange_h: (s.timestamp * 1000 - t0) / HOUR_MS,
    seq: s.snapshot_seq,
    rss_bytes: s.process?.rss_bytes ?? 0,
    heap_used_bytes: s.process?.heap_used_bytes ?? 0,
    heap_total_bytes: s.process?.heap_total_bytes ?? 0,
    external_bytes: s.process?.external_bytes ?? 0,
    array_buffers_bytes: s.process?.array_buffers_bytes ?? 0,
    heap_live_bytes: s.process?.heap_live_bytes ?? null,
    heap_code_bytes: s.process?.heap_code_bytes ?? null,
    major_gcs: s.process?.major_gcs ?? 0,
    frames: s.counters.frames_received,
    windows: s.counters.windows_processed,
    promotions: s.counters.peak_pressure_events,
    promoted_in_panel: s.promoted_events.length,
    liquidations_retained_min: Math.min(...Object.values(s.raw_buffers.liquidations).map((rows) => rows.length)),
    store_writes: s.store?.persist.writes ?? 0,
    store_p50_ms: s.store?.persist.p50_ms ?? null,
    store_p99_ms: s.store?.persist.p99_ms ?? null,
    store_max_ms: s.store?.persist.max_ms ?? null,
    watermark_lag_ms: s.watermark_ms === null ? null : Math.round(s.timestamp * 1000 - s.watermark_ms),
    health: s.health_state,
    stage: s.stage,
    reconnects: s.streams.reconnects,
    ws_state: s.streams.ws_state,
  });
  const sampleOnce = async (): Promise<void> => {
    if (haveProc) {
      const st = procStatus(pid);
      const cpu = procCpuSeconds(pid);
      if (st !== null && cpu !== null) {
        hwm = Math.max(hwm, st.hwm);
        proc.push({
          wall_s: (Date.now() - wallStart) / 1000,
          exchange_h: (now() - t0) / HOUR_MS,
          rss_bytes: st.rss,
          rss_anon_bytes: st.anon,
          rss_file_bytes: st.file,
          hwm_bytes: st.hwm,
          cpu_s: cpu,
        });
      }
    }
    if (reading) return;
    let mtime: number;
    try {
      mtime = statSync(snapPath).mtimeMs;
    } catch {
      return;
    }
    if (mtime === lastMtime) return;
    reading = true;
    try {
      const s = await readSnapshot();
      lastMtime = mtime;
      if (s !== null && s.snapshot_seq !== lastSeq && s.symbols_active.length > 0) {
        lastSeq = s.snapshot_seq;
        snaps.push(toSample(s));
      }
    } finally {
      reading = false;
    }
  };

  let exitedEarly: number | null = null;
  collector.once('exit', (code) => {
    exitedEarly = code ?? -1;
  });
  let lastLog = Date.now();
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setInterval(() => {
        void sampleOnce().catch(() => undefined);
        const h = (now() - t0) / HOUR_MS;
        if (exitedEarly !== null) {
          clearInterval(timer);
          reject(new Error(`the collector exited early (code ${exitedEarly}) at ${h.toFixed(2)} exchange hours:\n${stderr}\n${tail.slice(-10).join('\n')}`));
        } else if (sim.exitCode !== null) {
          clearInterval(timer);
          reject(new Error(`the simulator exited early (code ${sim.exitCode}): ${simProc.stderr()}`));
        } else if (h >= opts.exchangeHours) {
          clearInterval(timer);
          resolve();
        } else if (Date.now() - wallStart > wallLimit) {
          clearInterval(timer);
          reject(new Error(`wall-time limit ${wallLimit} ms reached at ${h.toFixed(2)} exchange hours`));
        }
        if (Date.now() - lastLog > 30_000) {
          lastLog = Date.now();
          const p = proc[proc.length - 1];
          const s = snaps[snaps.length - 1];
          log(
            `  ${h.toFixed(1)} exchange h: RSS ${p ? (p.rss_bytes / 2 ** 20).toFixed(0) : '?'} MiB, heap ${s ? (s.heap_used_bytes / 2 ** 20).toFixed(0) : '?'} MiB, ${s ? s.frames.toLocaleString('en-US') : '?'} frames, health ${s?.health ?? '?'}`,
          );
        }
      }, sampleEveryMs);
    });
  } finally {
    // Stop the collector first (it flushes the capture and writes its last snapshot), then the simulator.
    collector.kill('SIGTERM');
    const code = await waitExit(collector, 30_000);
    sim.kill('SIGTERM');
    await waitExit(sim, 10_000);
    exitedEarly ??= code;
  }
  const wallSeconds = (Date.now() - wallStart) / 1000;
  const final = await readSnapshot();
  const result: SoakResult = {
    dir,
    speed,
    clock: spec,
    t0_ms: t0,
    wall_seconds: wallSeconds,
    exchange_hours: final ? (final.timestamp * 1000 - t0) / HOUR_MS : (now() - t0) / HOUR_MS,
    config,
    proc,
    snaps,
    sim: simStats,
    final,
    collector_exit_code: exitedEarly,
    collector_stdout_lines: stdoutLines,
    collector_stdout_tail: tail,
    collector_stderr: stderr,
    capture_files: listCaptures(captureDir),
    rss_peak_bytes: haveProc ? hwm : null,
    have_proc: haveProc,
  };
  if (!opts.keepDir) cleanup(result);
  return result;
}

/** Delete the run's temp directory (captures can be hundreds of MB). */
export function cleanup(r: SoakResult): void {
  rmSync(r.dir, { recursive: true, force: true });
}

/**
 * Count the lines of the capture and the frames per exchange second (by the frames' own `"E":`
 * event time), streaming the gzip parts. Truncated tails (a part still being written) are read up
 * to the last complete block.
 */
export async function scanCapture(dir: string): Promise<CaptureScan> {
  const started = Date.now();
  const captureDir = join(dir, 'captures');
  const files = listCaptures(captureDir);
  const perSecond = new Map<number, number>();
  let lines = 0;
  let headers = 0;
  let withE = 0;
  const gaps = { marks: 0, frames: 0, by_reason: {} as Record<string, number> };
  for (const f of files) {
    const gunzip = createGunzip({ chunkSize: 1 << 20, finishFlush: zlibConstants.Z_SYNC_FLUSH });
    let carry = '';
    const stream = createReadStream(join(captureDir, f.name)).pipe(gunzip);
    try {
      for await (const chunk of stream as AsyncIterable<Buffer>) {
        const s = carry + chunk.toString('latin1');
        let i = 0;
        for (;;) {
          const j = s.indexOf('\n', i);
          if (j < 0) break;
          if (s.charCodeAt(i) === 35 /* # */) {
            headers++;
            if (s.startsWith(GAP_MAGIC, i)) {
              const r = parseCaptureLine(s.slice(i, j));
              if (r.kind === 'gap') {
                gaps.marks++;
                gaps.frames += r.gap.frames;
                gaps.by_reason[r.gap.reason] = (gaps.by_reason[r.gap.reason] ?? 0) + r.gap.frames;
              }
            }
          } else {
            lines++;
            const e = s.indexOf('"E":', i);
            if (e >= 0 && e < j) {
              const sec = Math.floor(Number(s.slice(e + 4, e + 17)) / 1000);
              if (Number.isFinite(sec)) {
                withE++;
                perSecond.set(sec, (perSecond.get(sec) ?? 0) + 1);
              }
            }
          }
          i = j + 1;
        }
        carry = s.slice(i);
      }
    } catch {
      // A truncated gzip tail ends the part; what was read counts.
    }
  }
  const secs = [...perSecond.keys()].sort((a, b) => a - b);
  // Seconds between the first and last full second, the empty ones included.
  const first = secs[1];
  const last = secs[secs.length - 2];
  const counts: number[] = [];
  let maxAt: number | null = null;
  let max = 0;
  if (first !== undefined && last !== undefined && last >= first) {
    for (let s = first; s <= last; s++) {
      const c = perSecond.get(s) ?? 0;
      counts.push(c);
      if (c > max) {
        max = c;
        maxAt = s * 1000;
      }
    }
  }
  const sorted = [...counts].sort((a, b) => a - b);
  const pct = (p: number): number =>
    sorted.length === 0 ? 0 : (sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] as number);
  return {
    files,
    lines,
    header_lines: headers,
    gaps,
    with_event_time: withE,
    per_exchange_second: {
      seconds: counts.length,
      mean: counts.length > 0 ? counts.reduce((a, b) => a + b, 0) / counts.length : 0,
      p50: pct(50),
      p99: pct(99),
      max,
      max_at_ms: maxAt,
    },
    scan_seconds: (Date.now() - started) / 1000,
  };
}

export interface Fit {
  n: number;
  /** Units of y per unit of x. */
  slope: number;
  intercept: number;
  mean: number;
  r2: number;
  /** Standard error of the slope (NaN with fewer than 3 points). */
  slope_se: number;
}

/** Two-sided 95 % quantile of Student's t for `df` degrees of freedom. */
export function t975(df: number): number {
  const table = [
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131, 2.12, 2.11, 2.101, 2.093, 2.086, 2.08, 2.074,
    2.069, 2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042,
  ];
  if (df < 1) return Number.NaN;
  return df <= table.length ? (table[df - 1] as number) : df <= 60 ? 2.0 : 1.96;
}

/** Ordinary least squares of y on x. */
export function linearFit(points: readonly { x: number; y: number }[]): Fit {
  const n = points.length;
  if (n < 2)
    return { n, slope: Number.NaN, intercept: Number.NaN, mean: n === 1 ? (points[0] as { y: number }).y : Number.NaN, r2: Number.NaN, slope_se: Number.NaN };
  let sx = 0;
  let sy = 0;
  for (const p of points) {
    sx += p.x;
    sy += p.y;
  }
  const mx = sx / n;
  const my = sy / n;
  let sxx = 0;
  let sxy = 0;
  let syy = 0;
  for (const p of points) {
    sxx += (p.x - mx) ** 2;
    sxy += (p.x - mx) * (p.y - my);
    syy += (p.y - my) ** 2;
  }
  const slope = sxx > 0 ? sxy / sxx : Number.NaN;
  const intercept = my - slope * mx;
  let sse = 0;
  for (const p of points) sse += (p.y - (intercept + slope * p.x)) ** 2;
  const slope_se = n > 2 && sxx > 0 ? Math.sqrt(sse / (n - 2) / sxx) : Number.NaN;
  return { n, slope, intercept, mean: my, r2: sxx > 0 && syy > 0 ? (sxy * sxy) / (sxx * syy) : 0, slope_se };
}

/**
 * One point per bucket of `width` x-units: the median of y (robust level) or the minimum (lower
 * envelope: for a garbage-collected heap, the live size between collections).
 */
export function bucketed(points: readonly { x: number; y: number }[], width: number, how: 'median' | 'min'): { x: number; y: number }[] {
  const buckets = new Map<number, number[]>();
  for (const p of points) {
    const k = Math.floor(p.x / width);
    const b = buckets.get(k) ?? [];
    b.push(p.y);
    buckets.set(k, b);
  }
  return [...buckets.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([k, ys]) => {
      const s = [...ys].sort((a, b) => a - b);
      const y = how === 'min' ? (s[0] as number) : (s[s.length >> 1] as number);
      return { x: (k + 0.5) * width, y };
    });
}
