/**
 * Main-thread side of the collector worker: start it, receive validated messages, stop it.
 * The main thread can do nothing else to the collector: there is no message that mutates state.
 */
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { Worker } from 'node:worker_threads';
import type { PromotedEvent } from '../core/contracts/promoted';
import type { Alert } from '../core/contracts/alert';
import type { Snapshot } from '../core/contracts/snapshot';
import type { History } from '../store/history';
import type { CollectorConfig } from '../collector/config';
import type { ScaleOutSpec } from '../app/scale-out-spec';
import type { ClockSpec } from '../clock/accelerated';
import { type Clock, type Timer, wallClock } from '../clock/clock';
import { backoffDelayMs } from '../collector/backoff';
import { humanBound } from '../collector/config';
import type { ReasonCode } from '../core/contracts/vocabulary';
import { safeMessage } from '../text/safe';
import { IPC_VERSION, type MainToWorker, parseWorkerMessage, type WorkerData, type WorkerRestart } from './messages';

export interface WorkerHostOptions {
  config: CollectorConfig;
  runId: string;
  clock?: ClockSpec;
  /**
   * false: the worker posts no snapshots (headless mode reads them from the file it writes);
   * saves cloning and validating the full snapshot on this thread twice a second.
   */
  snapshots?: boolean;
  /** `--sink` / `--http`: what the worker starts beside the collector. */
  scaleOut?: ScaleOutSpec | null;
  /** Highlight alert lines with ANSI colours (the console is a terminal). */
  consoleColor?: boolean;
  /** Path of the bundled worker (default: worker.js beside this bundle). */
  workerPath?: string;
  /** A snapshot as the window renders it, and the events promoted since the previous one (src/ipc/ui-feed.ts). */
  onSnapshot: (s: Snapshot, events: readonly PromotedEvent[]) => void;
  onConsole?: (line: string) => void;
  /** Every alert the collector raised (for the window's toast, tray and sound). */
  onAlert?: (a: Alert) => void;
  /** Once, before the first snapshot: earlier runs' events from the store (not sent when `snapshots` is false). */
  onHistory?: (h: History) => void;
  /**
   * The collector failed for good: its worker's fatal reason when no restart follows (policy `exit`,
   * a configuration error, a stop under way), or the last one when the restarts were used up.
   */
  onFatal?: (reason: string, detail: string) => void;
  /** A crashed worker will be replaced after `restart.backoff_ms` (policy `restart`). */
  onRestartScheduled?: (r: RestartScheduled) => void;
  /** What to do when the worker ends by itself (default: the config's `worker` section, onCrash `exit`). */
  crashPolicy?: CrashPolicy;
  /** The restart backoff's timers (default the wall clock; tests: a ManualClock). */
  timers?: Clock;
  /** Messages that failed validation (counted; never rendered). */
  onInvalid?: (error: string) => void;
  /** The host is done: the worker ended and no restart follows (a stop, policy `exit`, or restarts used up). */
  onExit?: (code: number) => void;
}

/**
 * V8 limits for the collector worker. Its live heap is about 22 MB after a full GC (10 symbols,
 * full buffers, 1000 promoted events; most of it is the code of the modules it loads). With V8's
 * defaults the old generation may grow to 4× the live size between collections and the young
 * generation to 32 MB under load, which put the `live --headless` process at 150–245 MB RSS in the
 * accelerated day (bench memory-day). A 512 MB old-generation ceiling (20× the live size; never
 * reached) makes V8 pick its smaller growing factor. The young generation is 8 MB (semi-spaces of
 * about 2.7 MB): the collector allocates little per frame and keeps almost nothing young, so a small
 * nursery costs scavenges, not promotions. Measured side by side (memory-day, 8 exchange hours at
 * speed 200, load 6–9): VmHWM 168.7 → 149.5 MB, RSS median after warm-up 149.8 → 132.6 MB against
 * 24 MB; at live rates (headless, demo, 90 s) RSS median 118.7 → 110.5 MB. The price is CPU per
 * frame at saturation: a replay of the two 2024-08-08 hftbacktest files with books, 3 runs each
 * interleaved, `--max-semi-space-size=3` vs 8 (the semi-spaces of 8 and 24 MB): 5.59 vs 5.03 s of
 * CPU, about 11 % more (load 7–9) — at live rates a few tenths of a percent of a core.
 */
export const WORKER_RESOURCE_LIMITS = Object.freeze({ maxOldGenerationSizeMb: 512, maxYoungGenerationSizeMb: 8 });

/**
 * The launchers start the process with `--max-semi-space-size=1` for the main isolate
 * (scripts/runtime-env.cjs). V8 reads that flag again for every isolate it creates and lets it win
 * over a Worker's resourceLimits, which would give the collector a 2 MB young generation instead of
 * its 8. Cleared before a worker starts; the main isolate keeps the size it was created with.
 */
export function workerYoungGenerationFromLimits(): void {
  setFlagsFromString('--max-semi-space-size=0');
}

/** What the host does when its worker ends without being asked to: the config's `worker` section with onCrash resolved. */
export interface CrashPolicy {
  onCrash: 'restart' | 'exit';
  maxRestarts: number;
  restartWindowMs: number;
  restartBackoffMs: number;
  restartBackoffMaxMs: number;
}

/** The config's crash policy; unset onCrash takes the caller's default (the window: restart, headless: exit). */
export function crashPolicy(config: CollectorConfig, fallback: CrashPolicy['onCrash']): CrashPolicy {
  const { onCrash, ...limits } = config.worker;
  return { onCrash: onCrash ?? fallback, ...limits };
}

/** Fatal reasons a new worker cannot fix: the configuration is wrong. */
const NOT_RESTARTED: ReadonlySet<ReasonCode> = new Set<ReasonCode>(['SYMBOLS_INVALID']);

/** ±20 % around the nominal wait, so a restart does not meet the exchange in step with the crash. */
const RESTART_JITTER = 0.2;

export interface RestartScheduled {
  restart: WorkerRestart;
  /** The run id the new worker gets. */
  runId: string;
}

export class WorkerHost {
  private worker: Worker;
  invalidMessages = 0;
  /** The last stop had to terminate the worker: it did not finish its shutdown within the grace. */
  forcedStop = false;
  /** Workers started after a crash. */
  restarts = 0;
  private stopped: Promise<void> | null = null;
  private exited = false;
  private stopping = false;
  /** The current worker's fatal message, if it sent one. */
  private lastFatal: { reason: ReasonCode; detail: string } | null = null;
  /** When each restart was decided (host clock), the newest last: the window's count. */
  private restartTimes: number[] = [];
  private pendingRestart: Timer | null = null;
  private readonly timers: Clock;
  private readonly policy: CrashPolicy;
  private runId: string;

  constructor(private readonly opts: WorkerHostOptions) {
    this.timers = opts.timers ?? wallClock;
    this.policy = opts.crashPolicy ?? crashPolicy(opts.config, 'exit');
    this.runId = opts.runId;
    this.worker = this.spawn(undefined);
  }

  /** The current (or last) worker's run id: `<first>-r<n>` after the n-th restart. */
  get currentRunId(): string {
    return this.runId;
  }

  private spawn(restart: WorkerRestart | undefined): Worker {
    const opts = this.opts;
    const data: WorkerData = {
      v: IPC_VERSION,
      config: opts.config,
      runId: this.runId,
      ...(opts.clock ? { clock: opts.clock } : {}),
      ...(opts.snapshots === false ? { snapshots: false } : {}),
      ...(opts.scaleOut ? { scaleOut: opts.scaleOut } : {}),
      ...(opts.consoleColor ? { consoleColor: true } : {}),
      ...(restart ? { restart } : {}),
    };
    this.exited = false;
    this.lastFatal = null;
    workerYoungGenerationFromLimits();
    const worker = new Worker(opts.workerPath ?? join(__dirname, 'worker.js'), { workerData: data, resourceLimits: { ...WORKER_RESOURCE_LIMITS } });
    worker.on('message', (raw: unknown) => {
      const m = parseWorkerMessage(raw);
      if (!m.ok) {
        this.invalidMessages++;
        opts.onInvalid?.(m.error);
        return;
      }
      const msg = m.msg;
      if (msg.type === 'snapshot') {
        // Taken (validated and handed over) before the ack: the worker posts at most one more meanwhile.
        try {
          opts.onSnapshot(msg.snapshot, msg.events);
        } finally {
          const ack: MainToWorker = { v: IPC_VERSION, type: 'snapshot_ack' };
          worker.postMessage(ack);
        }
      } else if (msg.type === 'console') opts.onConsole?.(msg.line);
      else if (msg.type === 'alert') opts.onAlert?.(msg.alert);
      else if (msg.type === 'history') opts.onHistory?.({ entries: msg.entries, skipped: msg.skipped });
      else if (msg.type === 'fatal') this.fatal(msg.reason, msg.detail);
    });
    worker.on('error', (e) => this.fatal('WORKER_EXITED', `collector worker error: ${safeMessage(e.message)}`));
    worker.on('exit', (code) => this.workerExited(worker, code));
    return worker;
  }

  /** The first fatal of a worker is its reason; it reaches the caller only when no restart follows. */
  private fatal(reason: ReasonCode, detail: string): void {
    this.lastFatal ??= { reason, detail };
    if (this.policy.onCrash === 'exit' || NOT_RESTARTED.has(reason) || this.stopping) this.opts.onFatal?.(reason, detail);
  }

  private workerExited(worker: Worker, code: number): void {
    if (worker !== this.worker) return;
    this.exited = true;
    const fatal = this.lastFatal;
    if (this.stopping || this.policy.onCrash === 'exit' || (fatal !== null && NOT_RESTARTED.has(fatal.reason))) {
      this.opts.onExit?.(code);
      return;
    }
    const now = this.timers.now();
    this.restartTimes = this.restartTimes.filter((t) => now - t < this.policy.restartWindowMs);
    const reason = fatal?.reason ?? 'WORKER_EXITED';
    const detail = fatal?.detail ?? `the collector worker exited (code ${code}) without being asked to stop`;
    if (this.restartTimes.length >= this.policy.maxRestarts) {
      this.opts.onFatal?.(
        reason,
        `${detail}; gave up after ${this.restartTimes.length} restarts within ${humanBound(this.policy.restartWindowMs, 'ms')} (worker.maxRestarts ${this.policy.maxRestarts})`,
      );
      this.opts.onExit?.(code === 0 ? 1 : code);
      return;
    }
    this.restartTimes.push(now);
    this.restarts++;
    const inWindow = this.restartTimes.length;
    const backoffMs = backoffDelayMs(
      { initialMs: this.policy.restartBackoffMs, maxMs: this.policy.restartBackoffMaxMs, jitter: RESTART_JITTER },
      inWindow,
      this.timers.random(),
    );
    const restart: WorkerRestart = {
      count: this.restarts,
      in_window: inWindow,
      max: this.policy.maxRestarts,
      previous_run_id: this.runId,
      reason,
      detail: safeMessage(detail),
      exit_code: code,
      exited_ms: now,
      backoff_ms: backoffMs,
    };
    this.runId = `${this.opts.runId}-r${this.restarts}`;
    this.opts.onRestartScheduled?.({ restart, runId: this.runId });
    this.pendingRestart = this.timers.after(backoffMs, () => {
      this.pendingRestart = null;
      if (this.stopping) return;
      this.worker = this.spawn(restart);
    });
  }

  /** Ask the worker to stop cleanly (flush capture, write the last snapshot); force after `graceMs`. */
  stop(graceMs = 10_000): Promise<void> {
    if (this.stopped) return this.stopped;
    this.stopping = true;
    this.pendingRestart?.cancel();
    this.pendingRestart = null;
    const worker = this.worker;
    this.stopped = new Promise<void>((resolve) => {
      if (this.exited) return resolve();
      const t = wallClock.after(graceMs, () => {
        this.forcedStop = true;
        void worker.terminate().then(() => resolve());
      });
      worker.once('exit', () => {
        t.cancel();
        resolve();
      });
      const msg: MainToWorker = { v: IPC_VERSION, type: 'stop' };
      worker.postMessage(msg);
    });
    return this.stopped;
  }
}
