/**
 * The live size of this thread's V8 heap: what is still reachable right after a full
 * (mark-sweep-compact) collection. A plain `heapUsed` sample swings by the young generation's fill
 * and by garbage the old generation has not collected yet, so a leak hides in its noise; the size
 * after a full GC is the figure a leak makes grow.
 *
 * Two ways, reported as such: `after_major_gc` observes the collections V8 runs anyway through
 * perf_hooks 'gc' entries (no extra work, but incremental marking keeps objects allocated during
 * marking, so at high allocation rates it carries some floating garbage); `forced_gc` runs an
 * atomic full GC on request (benchmarks start node with --expose-gc), which is exact.
 */
import { constants, type PerformanceEntry, PerformanceObserver } from 'node:perf_hooks';
import { getHeapCodeStatistics, getHeapSpaceStatistics } from 'node:v8';
import type { HeapLiveMethod } from '../core/contracts/vocabulary';

/** Old-generation spaces only: the young generation refills between the collection and this callback. */
function oldGenerationUsed(): number {
  let used = 0;
  for (const s of getHeapSpaceStatistics()) if (!s.space_name.startsWith('new_')) used += s.space_used_size;
  return used;
}

/**
 * V8's compiled code and its metadata (machine code, deoptimisation data, baseline code, bytecode):
 * it grows as rarely run paths get compiled and is bounded by the program's size, so a leak check
 * reads the live size without it (heap snapshots of a 24 h day: the only growth left was this).
 */
function compiledCodeBytes(): number {
  const c = getHeapCodeStatistics();
  return c.code_and_metadata_size + c.bytecode_and_metadata_size;
}

/**
 * Reading the code figure walks V8's heap (4–13 ms on a 35 MB heap, measured) and the product
 * observes a major GC about every 5 s (--optimize-for-size), which made it 0.2 % of a core in the
 * window app's worker profile. Code grows by kilobytes an hour, so after an observed GC it is read
 * on the first and then every twelfth (about a minute apart at that pace); a forced probe (the
 * benchmarks' exact figure, live and code at the same moment) reads it every time.
 */
export const CODE_READ_EVERY_OBSERVED_GCS = 12;

/** The `gc` function node exposes under --expose-gc; null when it is not exposed. */
function exposedGc(): (() => void) | null {
  const g: unknown = (globalThis as { gc?: unknown }).gc;
  return typeof g === 'function' ? (g as () => void) : null;
}

export class HeapLiveSampler {
  /** Bytes live after the latest full GC; null until one has happened. */
  liveBytes: number | null = null;
  /** Of liveBytes, V8's compiled code and bytecode with their metadata: read at the same moment by a forced probe, up to CODE_READ_EVERY_OBSERVED_GCS collections earlier otherwise. */
  codeBytes: number | null = null;
  method: HeapLiveMethod = 'after_major_gc';
  majorGcs = 0;
  private readonly observer: PerformanceObserver;
  /** A probe deferred by probeUnless. */
  private due = false;

  /**
   * `gc`: the collector used by probe(); node's exposed one by default (tests pass their own).
   * `codeBytesNow`: reads V8's compiled code (tests count the reads).
   */
  constructor(
    private readonly gc: (() => void) | null = exposedGc(),
    private readonly codeBytesNow: () => number = compiledCodeBytes,
  ) {
    this.observer = new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) {
        // `detail.kind` is set on gc entries since Node 16; the typings of this Node line omit it.
        const detail = (entry as PerformanceEntry & { detail?: { kind?: number } }).detail;
        if (detail?.kind !== constants.NODE_PERFORMANCE_GC_MAJOR) continue;
        this.majorGcs++;
        if (this.method === 'after_major_gc') this.read(oldGenerationUsed(), (this.majorGcs - 1) % CODE_READ_EVERY_OBSERVED_GCS === 0);
      }
    });
    this.observer.observe({ entryTypes: ['gc'] });
  }

  /**
   * Run a full GC now and take the exact live size, if node exposes `gc`; from then on only
   * forced figures are reported (mixing them with observed ones would make a false trend).
   */
  probe(): boolean {
    if (this.gc === null) return false;
    this.gc();
    this.method = 'forced_gc';
    this.read(process.memoryUsage().heapUsed, true);
    return true;
  }

  private read(liveBytes: number, withCode: boolean): void {
    this.liveBytes = liveBytes;
    if (withCode) this.codeBytes = this.codeBytesNow();
  }

  /**
   * The periodic probe, kept out of transients: while `busy` (something large and short-lived is
   * live, e.g. a snapshot file being written) it waits, and runs at the next `settled()`.
   */
  probeUnless(busy: boolean): void {
    this.due = busy;
    if (!busy) this.probe();
  }

  /** The transient `probeUnless` waited for is over: run the probe it deferred, if any. */
  settled(): void {
    if (!this.due) return;
    this.due = false;
    this.probe();
  }

  stop(): void {
    this.observer.disconnect();
  }
}
