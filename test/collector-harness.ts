/**
 * Runs the real collector (in-process, same code as the worker runs) against the loopback
 * simulator, with a temp directory for its files and helpers to let time pass.
 *
 * The simulator and the collector share one ManualClock: nothing happens in time until the test
 * lets it (`run`, `until`), in steps of STEP_MS; after each step the rig waits until the
 * collector has read what the simulator sent (real sockets, real I/O), so a test covers a minute
 * of exchange time in about a second and never depends on the machine's speed. (The accelerated
 * clock of soak runs is exercised by test/soak.test.ts, and unit-tested in test/clock.test.ts.)
 */
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Clock } from '../src/clock/clock';
import { ManualClock } from '../src/clock/manual';
import { Collector, type CollectorOptions, type CollectorSinks } from '../src/collector/collector';
import type { DoctorIo } from '../src/doctor/checks';
import { type CollectorConfigInput, CollectorConfigSchema } from '../src/collector/config';
import { silentLogger } from '../src/collector/log';
import type { Snapshot } from '../src/core/contracts/snapshot';
import { startSimulator } from '../src/simulator/server';
import type { SimulatorHandle, SimulatorOptions } from '../src/simulator/types';

/** Clock time per step of a manual rig; the simulator batches its frames at the same cadence. */
export const STEP_MS = 100;
/** Where a manual rig's clock starts (2026-01-06, a Tuesday): any fixed time makes runs repeatable. */
export const MANUAL_T0 = 1_767_700_000_000;

export interface RigOptions {
  sim?: SimulatorOptions;
  config?: Partial<CollectorConfigInput>;
  /** Called before the collector starts: faults it must meet at once, files a previous run left in `dir`. */
  beforeStart?: (sim: SimulatorHandle, dir: string) => void;
  /** Default 'test'. */
  runId?: string;
  /** Use this directory (e.g. a second run on the first one's store) instead of a new temp one. */
  dir?: string;
  /** The collector's doctor I/O (e.g. a small disk), given the rig's clock. */
  doctorIo?: (clock: Clock) => DoctorIo;
  /** Scale-out sinks the collector reports to at each commit (SPEC §22). */
  sinks?: CollectorSinks;
  /** More collector options (a restarted worker's facts, the capture's tuning). */
  collector?: Pick<CollectorOptions, 'restart' | 'captureTuning'>;
}

export interface Rig {
  sim: SimulatorHandle;
  collector: Collector;
  dir: string;
  snapshots: Snapshot[];
  lines: string[];
  /** The clock shared by simulator and collector. */
  clock: ManualClock;
  /** Set the collector's local clock this far from the exchange's (negative: behind), as a wrong PC clock is. */
  skew(ms: number): void;
  latest(): Snapshot;
  /** Let `ms` of clock time pass. */
  run(ms: number): Promise<void>;
  /** Let time pass until `pred` holds; fail with `what` after `withinMs` of clock time. */
  until(what: string, pred: () => boolean, withinMs?: number): Promise<void>;
  stop(): Promise<void>;
}

export async function startRig(opts: RigOptions = {}): Promise<Rig> {
  const clock = new ManualClock(MANUAL_T0);
  const sim = await startSimulator({ port: 0, seed: 7, scenario: 'steady', ...(opts.sim ?? {}), clock, tickMs: STEP_MS });
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'pp-rig-'));
  const config = CollectorConfigSchema.parse({
    restUrl: sim.restUrl,
    wsUrl: sim.wsUrl,
    debugDir: join(dir, 'debug'),
    capture: { dir: join(dir, 'captures') },
    store: { path: join(dir, 'data', 'peak-pressure.db') },
    mode: 'DEMO',
    // The tests written for a cold start keep it; test/warm-start-live.test.ts turns the warm start on.
    warmStart: false,
    // The doctor's probes wait in wall time for frames the manual clock only sends when stepped; the rig-doctor test turns it on.
    doctorAtBoot: false,
    ...(opts.config ?? {}),
  });
  const snapshots: Snapshot[] = [];
  const lines: string[] = [];
  let skewMs = 0;
  // The collector reads time through this view of the shared clock; timers stay on the shared one.
  const local: Clock = {
    speed: clock.speed,
    now: () => clock.now() + skewMs,
    after: (ms, fn) => clock.after(ms, fn),
    every: (ms, fn) => clock.every(ms, fn),
    random: () => clock.random(),
  };
  const collector = new Collector({
    config,
    runId: opts.runId ?? 'test',
    logger: silentLogger(),
    clock: local,
    publish: (s) => {
      // Keep memory flat in long tests: only the newest few are needed.
      snapshots.push(s);
      if (snapshots.length > 50) snapshots.splice(0, snapshots.length - 50);
    },
    console: (l) => lines.push(l),
    ...(opts.doctorIo ? { doctorIo: opts.doctorIo(clock) } : {}),
    ...(opts.sinks ? { sinks: opts.sinks } : {}),
    ...(opts.collector ?? {}),
  });
  opts.beforeStart?.(sim, dir);

  /** The collector has read everything the simulator wrote, or nothing has moved for a while. */
  const settle = async (): Promise<void> => {
    const read = (): string => {
      const s = collector.stats();
      return `${(s.market?.received ?? 0) + (s.depth?.received ?? 0)}/${s.rest.answered}`;
    };
    const sent = (): string => {
      const s = sim.stats();
      return `${s.framesSent}/${s.restAnswered ?? 0}`;
    };
    let last = read();
    let quietSince = Date.now();
    const giveUp = quietSince + 10_000;
    for (;;) {
      await new Promise<void>((r) => setImmediate(r));
      const now = read();
      // Equal counts: all read. Unequal for good: frames lost with a killed connection, a request
      // the client gave up on; then a short quiet spell means nothing more is coming.
      if (now === sent()) return;
      if (now !== last) {
        last = now;
        quietSince = Date.now();
      } else if (Date.now() - quietSince > 25 || Date.now() > giveUp) return;
    }
  };
  const step = async (ms: number): Promise<void> => {
    clock.advance(ms);
    await settle();
  };
  /** Drive time until `p` settles (starting and stopping may wait on the clock: retries, close grace). */
  const drive = async <T>(p: Promise<T>): Promise<T> => {
    let done = false;
    const watched = p.finally(() => {
      done = true;
    });
    await settle();
    while (!done) await step(STEP_MS);
    return watched;
  };

  await drive(collector.start());
  const rig: Rig = {
    sim,
    collector,
    dir,
    snapshots,
    lines,
    clock,
    skew: (ms) => {
      skewMs = ms;
    },
    latest: () => {
      const s = snapshots[snapshots.length - 1];
      if (!s) throw new Error('no snapshot published yet');
      return s;
    },
    run: async (ms) => {
      for (let done = 0; done < ms; done += STEP_MS) await step(Math.min(STEP_MS, ms - done));
    },
    until: async (what, pred, withinMs = 20_000) => {
      for (let waited = 0; ; waited += STEP_MS) {
        if (holds(pred)) return;
        if (waited >= withinMs) throw new Error(`not true after ${withinMs} ms of clock time: ${what}`);
        await step(STEP_MS);
      }
    },
    stop: async () => {
      await drive(collector.stop());
      await sim.stop();
    },
  };
  return rig;
}

function holds(pred: () => boolean): boolean {
  try {
    return pred();
  } catch {
    return false;
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Poll `pred` every 100 ms of wall time until it is true; fail with `what` after `timeoutMs`. */
export async function waitFor(what: string, pred: () => boolean, timeoutMs = 20_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (holds(pred)) return;
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`);
    await sleep(100);
  }
}

/**
 * Wait for real I/O (a socket event, a response), not for time: polls `pred` every 2 ms of wall
 * time, failing with `what` after `timeoutMs` (a guard for a broken test, never a schedule).
 */
export async function eventually(what: string, pred: () => boolean, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!holds(pred)) {
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms of wall time waiting for: ${what}`);
    await sleep(2);
  }
}

export function captureFiles(dir: string): string[] {
  const d = join(dir, 'captures');
  return readdirSync(d)
    .filter((f) => f.endsWith('.pp.gz'))
    .sort()
    .map((f) => join(d, f));
}

/** Trades ingested so far (all symbols). */
export function tradesSeen(rig: Rig): number {
  return rig.collector.counters()?.symbols.reduce((s, d) => s + d.counters.trades, 0) ?? 0;
}
