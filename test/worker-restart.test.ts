/**
 * A crashed collector worker restarted by the host (issue 9 item 2, config `worker.onCrash:
 * restart`): the real worker against the simulator, with an uncaught exception injected into it
 * as in dead-worker.test.ts. The restart's backoff runs on a ManualClock, so the new worker starts
 * exactly when the test advances it: nothing waits on time. What the new worker says about the
 * crash (console, audit, health, alert, snapshot), the store's runs (the crashed one unclean, the
 * new one its own run) and the captures of both are read back from the files they wrote.
 */
import Database from 'better-sqlite3';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CollectorConfigSchema } from '../src/collector/config';
import { ManualClock } from '../src/clock/manual';
import { type CrashPolicy, type RestartScheduled, WorkerHost } from '../src/ipc/host';
import { startSimulator } from '../src/simulator/server';
import type { SimulatorHandle } from '../src/simulator/types';
import { ensureCliBuilt } from './fixtures/paths';
import { crashingWorker, readSnapshot } from './crashing-worker';
import { MANUAL_T0, startRig as startManualRig, waitFor } from './collector-harness';

let sim: SimulatorHandle;
beforeAll(async () => {
  ensureCliBuilt();
  sim = await startSimulator({ port: 0, seed: 17, scenario: 'steady' });
});
afterAll(async () => {
  await sim.stop();
});

interface Rig {
  host: WorkerHost;
  clock: ManualClock;
  dir: string;
  lines: string[];
  fatals: { reason: string; detail: string }[];
  scheduled: RestartScheduled[];
  exits: number[];
}

function startRig(crashUntil: number, worker: Partial<Omit<CrashPolicy, 'onCrash'>>): Rig {
  const dir = mkdtempSync(join(tmpdir(), 'pp-restart-'));
  const clock = new ManualClock(1_767_700_000_000);
  const rig: Rig = { host: null as unknown as WorkerHost, clock, dir, lines: [], fatals: [], scheduled: [], exits: [] };
  const config = CollectorConfigSchema.parse({
    restUrl: sim.restUrl,
    wsUrl: sim.wsUrl,
    debugDir: join(dir, 'debug'),
    capture: { dir: join(dir, 'cap') },
    store: { path: join(dir, 'store.db') },
    warmStart: false,
    books: false,
    doctorAtBoot: false,
    // The switch under test, as a user sets it in the config file.
    worker: { onCrash: 'restart', maxRestarts: 3, restartWindowMs: 600_000, restartBackoffMs: 1000, restartBackoffMaxMs: 30_000, ...worker },
  });
  rig.host = new WorkerHost({
    config,
    runId: 'crash',
    workerPath: crashingWorker(dir, crashUntil),
    snapshots: false,
    timers: clock,
    onSnapshot: () => undefined,
    onConsole: (l) => rig.lines.push(l),
    onFatal: (reason, detail) => rig.fatals.push({ reason, detail }),
    onRestartScheduled: (r) => rig.scheduled.push(r),
    onExit: (c) => rig.exits.push(c),
  });
  return rig;
}

function captureLines(dir: string, runId: string): string[] {
  const parts = readdirSync(join(dir, 'cap')).filter((f) => f.endsWith('.pp.gz') && f.includes(`-${runId}-`));
  return parts.flatMap((f) =>
    gunzipSync(readFileSync(join(dir, 'cap', f)))
      .toString('utf8')
      .trim()
      .split('\n'),
  );
}

describe('policy restart: a crashed worker is replaced after its backoff', () => {
  it('the new worker is a new run that says why (console, audit, health, alert, snapshot); the crashed run ends unclean in the store; both captures are complete', async () => {
    const rig = startRig(1, {});
    try {
      await waitFor('the first worker crashed and a restart is scheduled', () => rig.scheduled.length === 1, 30_000);
      const [s] = rig.scheduled as [RestartScheduled];
      // 1 s ± 20 % on the manual clock's mid random: exactly the configured first backoff.
      expect(s.restart).toMatchObject({
        count: 1,
        in_window: 1,
        max: 3,
        previous_run_id: 'crash',
        reason: 'WORKER_EXITED',
        detail: 'boom: injected by the test',
        exit_code: 1,
      });
      expect(s.restart.backoff_ms).toBe(1000);
      expect(s.runId).toBe('crash-r1');
      // The crash reached nobody as a fatal: it is being handled.
      expect(rig.fatals).toEqual([]);
      expect(rig.exits).toEqual([]);
      const before = rig.lines.length;
      rig.clock.advance(999);
      // Nothing starts before the backoff ran out (the new worker would print its banner at once).
      await new Promise((r) => setImmediate(r));
      expect(rig.lines.length).toBe(before);
      expect(rig.host.currentRunId).toBe('crash-r1');
      rig.clock.advance(1);
      await waitFor('the new worker observes', () => rig.lines.slice(before).some((l) => /stage (WARMUP|OBSERVE)/.test(l)), 30_000);
      const fresh = rig.lines.slice(before);
      expect(
        fresh.some((l) => l.includes('collector worker restarted (1 of at most 3 in the window, 1 in all) after run crash crashed: WORKER_EXITED: boom')),
      ).toBe(true);
      // The alert (CRIT, at once) and health DEGRADED with WORKER_RESTARTED.
      expect(fresh.some((l) => l.includes('WORKER_RESTARTED'))).toBe(true);
      await waitFor('the new worker wrote a snapshot', () => readSnapshot(join(rig.dir, 'debug')).run_id === 'crash-r1', 30_000);
    } finally {
      await rig.host.stop(5000);
    }
    // Once: at the stop, the new worker's clean exit.
    expect(rig.exits).toEqual([0]);
    expect(rig.host.restarts).toBe(1);
    const snap = readSnapshot(join(rig.dir, 'debug'));
    expect(snap.run_id).toBe('crash-r1');
    expect(snap.worker).toEqual({
      restarts: 1,
      restarts_in_window: 1,
      max_restarts: 3,
      last_exit: {
        run_id: 'crash',
        reason: 'WORKER_EXITED',
        detail: 'boom: injected by the test',
        exit_code: 1,
        exited_ms: 1_767_700_000_000,
        backoff_ms: 1000,
      },
    });
    expect(snap.health_reasons).toContain('WORKER_RESTARTED');
    expect(snap.health_detail).toContain('the collector worker crashed (WORKER_EXITED: boom: injected by the test) and was restarted as run crash-r1');
    const audit = readFileSync(join(rig.dir, 'debug', 'audit.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { run_id: string; event_type: string; reason_codes?: string[]; payload?: Record<string, unknown> });
    const restarted = audit.filter((a) => a.event_type === 'WORKER_RESTARTED');
    expect(restarted).toHaveLength(1);
    expect(restarted[0]?.run_id).toBe('crash-r1');
    expect(restarted[0]?.payload).toMatchObject({ restarts: 1, previous_run_id: 'crash', reason: 'WORKER_EXITED', exit_code: 1, backoff_ms: 1000 });
    expect(audit.some((a) => a.event_type === 'ALERT_RAISED' && a.run_id === 'crash-r1' && JSON.stringify(a).includes('WORKER_RESTARTED'))).toBe(true);
    // The store: the crashed run ended unclean, the new one (its own run) cleanly at the stop.
    const db = new Database(join(rig.dir, 'store.db'), { readonly: true });
    const runs = db.prepare('SELECT run_id, end_kind FROM runs ORDER BY started_ms, run_id').all() as { run_id: string; end_kind: string | null }[];
    db.close();
    expect(runs).toEqual([
      { run_id: 'crash', end_kind: 'unclean' },
      { run_id: 'crash-r1', end_kind: 'clean' },
    ]);
    // Each run's capture is complete gzip with frames in it (the crashed one flushed at its stop).
    for (const runId of ['crash', 'crash-r1']) expect(captureLines(rig.dir, runId).length, runId).toBeGreaterThan(1);
  }, 90_000);

  it('a worker that keeps crashing: restarts with doubling backoff, then the host gives up (FAILED reason, exit code 1)', async () => {
    const rig = startRig(Number.MAX_SAFE_INTEGER, { maxRestarts: 2, restartBackoffMs: 1000, restartBackoffMaxMs: 1500 });
    try {
      for (const [n, wait] of [
        [1, 1000],
        [2, 1500],
      ] as const) {
        await waitFor(`crash ${n}`, () => rig.scheduled.length === n, 30_000);
        expect(rig.scheduled[n - 1]?.restart.backoff_ms, `backoff ${n}`).toBe(wait);
        rig.clock.advance(wait);
      }
      await waitFor('the host gave up', () => rig.exits.length > 0, 30_000);
    } finally {
      await rig.host.stop(5000);
    }
    expect(rig.scheduled.map((s) => s.runId)).toEqual(['crash-r1', 'crash-r2']);
    expect(rig.exits).toEqual([1]);
    expect(rig.fatals).toEqual([
      { reason: 'WORKER_EXITED', detail: 'boom: injected by the test; gave up after 2 restarts within 10 min (worker.maxRestarts 2)' },
    ]);
    const snap = readSnapshot(join(rig.dir, 'debug'));
    expect(snap.run_id).toBe('crash-r2');
    expect(snap.health_state).toBe('FAILED');
    expect(snap.worker?.restarts).toBe(2);
    const db = new Database(join(rig.dir, 'store.db'), { readonly: true });
    const kinds = db.prepare('SELECT end_kind FROM runs').all() as { end_kind: string }[];
    db.close();
    expect(kinds.map((k) => k.end_kind)).toEqual(['unclean', 'unclean', 'unclean']);
  }, 120_000);
});

describe('a restarted collector on the manual rig', () => {
  it('says WORKER_RESTARTED (DEGRADED, naming the crash) for its first minute, then not', async () => {
    const restart = {
      count: 2,
      in_window: 1,
      max: 5,
      previous_run_id: 'earlier-r1',
      reason: 'WORKER_EXITED' as const,
      detail: 'boom',
      exit_code: 1,
      exited_ms: MANUAL_T0 - 2000,
      backoff_ms: 1000,
    };
    const r = await startManualRig({ runId: 'earlier-r2', config: { books: false, markPrice: false }, collector: { restart } });
    try {
      expect(
        r.lines.some((l) =>
          l.includes('collector worker restarted (1 of at most 5 in the window, 2 in all) after run earlier-r1 crashed: WORKER_EXITED: boom'),
        ),
      ).toBe(true);
      await r.run(1000);
      expect(r.latest().health_state).toBe('DEGRADED');
      expect(r.latest().health_reasons).toContain('WORKER_RESTARTED');
      expect(r.latest().worker).toEqual({
        restarts: 2,
        restarts_in_window: 1,
        max_restarts: 5,
        last_exit: { run_id: 'earlier-r1', reason: 'WORKER_EXITED', detail: 'boom', exit_code: 1, exited_ms: MANUAL_T0 - 2000, backoff_ms: 1000 },
      });
      await r.until('a minute after the start it is no longer a reason', () => !r.latest().health_reasons.includes('WORKER_RESTARTED'), 70_000);
      expect(r.clock.now() - MANUAL_T0).toBeGreaterThanOrEqual(60_000);
      // The worker section stays: the snapshot keeps saying this run followed a crash.
      expect(r.latest().worker?.restarts).toBe(2);
    } finally {
      await r.stop();
    }
  }, 120_000);
});
