/**
 * Main-thread side of the collector worker: start it, receive validated messages, stop it.
 * The main thread can do nothing else to the collector: there is no message that mutates state.
 */
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { PromotedEvent } from '../core/contracts/promoted';
import type { Alert } from '../core/contracts/alert';
import type { Snapshot } from '../core/contracts/snapshot';
import type { History } from '../store/history';
import type { CollectorConfig } from '../collector/config';
import type { ScaleOutSpec } from '../app/scale-out-spec';
import type { ClockSpec } from '../clock/accelerated';
import { wallClock } from '../clock/clock';
import { safeMessage } from '../text/safe';
import { IPC_VERSION, type MainToWorker, parseWorkerMessage, type WorkerData } from './messages';

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
  onFatal?: (reason: string, detail: string) => void;
  /** Messages that failed validation (counted; never rendered). */
  onInvalid?: (error: string) => void;
  onExit?: (code: number) => void;
}

/**
 * V8 limits for the collector worker. Its live heap is about 23 MB after a full GC (10 symbols,
 * full buffers, 1000 promoted events). With V8's defaults the old generation may grow to 4× the
 * live size between collections and the young generation to 32 MB under load, which put the
 * `live --headless` process at 150–245 MB RSS in the accelerated day (bench memory-day). A 512 MB
 * old-generation ceiling (20× the live size; never reached) makes V8 pick its smaller growing
 * factor, and a 24 MB young generation (two 8 MB semi-spaces) halves the nursery: about 125 MB
 * instead of 185 MB mean RSS at 56 k frames/s, for 1.4 % more of a core spent in GC (measured in
 * process at 300× speed; at live rates the difference in GC time is negligible).
 */
export const WORKER_RESOURCE_LIMITS = Object.freeze({ maxOldGenerationSizeMb: 512, maxYoungGenerationSizeMb: 24 });

export class WorkerHost {
  private readonly worker: Worker;
  invalidMessages = 0;
  /** The last stop had to terminate the worker: it did not finish its shutdown within the grace. */
  forcedStop = false;
  private stopped: Promise<void> | null = null;
  private exited = false;

  constructor(private readonly opts: WorkerHostOptions) {
    const data: WorkerData = {
      v: IPC_VERSION,
      config: opts.config,
      runId: opts.runId,
      ...(opts.clock ? { clock: opts.clock } : {}),
      ...(opts.snapshots === false ? { snapshots: false } : {}),
      ...(opts.scaleOut ? { scaleOut: opts.scaleOut } : {}),
      ...(opts.consoleColor ? { consoleColor: true } : {}),
    };
    this.worker = new Worker(opts.workerPath ?? join(__dirname, 'worker.js'), { workerData: data, resourceLimits: { ...WORKER_RESOURCE_LIMITS } });
    this.worker.on('message', (raw: unknown) => {
      const m = parseWorkerMessage(raw);
      if (!m.ok) {
        this.invalidMessages++;
        opts.onInvalid?.(m.error);
        return;
      }
      const msg = m.msg;
      if (msg.type === 'snapshot') opts.onSnapshot(msg.snapshot, msg.events);
      else if (msg.type === 'console') opts.onConsole?.(msg.line);
      else if (msg.type === 'alert') opts.onAlert?.(msg.alert);
      else if (msg.type === 'history') opts.onHistory?.({ entries: msg.entries, skipped: msg.skipped });
      else if (msg.type === 'fatal') opts.onFatal?.(msg.reason, msg.detail);
    });
    this.worker.on('error', (e) => opts.onFatal?.('WORKER_EXITED', `collector worker error: ${safeMessage(e.message)}`));
    this.worker.on('exit', (code) => {
      this.exited = true;
      opts.onExit?.(code);
    });
  }

  /** Ask the worker to stop cleanly (flush capture, write the last snapshot); force after `graceMs`. */
  stop(graceMs = 10_000): Promise<void> {
    if (this.stopped) return this.stopped;
    this.stopped = new Promise<void>((resolve) => {
      if (this.exited) return resolve();
      const t = wallClock.after(graceMs, () => {
        this.forcedStop = true;
        void this.worker.terminate().then(() => resolve());
      });
      this.worker.once('exit', () => {
        t.cancel();
        resolve();
      });
      const msg: MainToWorker = { v: IPC_VERSION, type: 'stop' };
      this.worker.postMessage(msg);
    });
    return this.stopped;
  }
}
