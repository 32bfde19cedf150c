/**
 * A dead worker is a dead process, loudly (issue 9 item 2), on the built app against the
 * simulator: a collector that cannot start (`--symbols` of which none trades) or that crashes
 * while running ends its worker with code 1, the headless process exits 1 with one line naming
 * the reason, and the snapshot file says FAILED with that reason — never a process that runs on
 * for ever in SYMBOL_SELECT. Unknown symbols among known ones are a visible warning.
 */
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CollectorConfigSchema } from '../src/collector/config';
import { WorkerHost } from '../src/ipc/host';
import { startSimulator } from '../src/simulator/server';
import type { SimulatorHandle } from '../src/simulator/types';
import { ensureCliBuilt } from './fixtures/paths';
import { crashingWorker, readSnapshot } from './crashing-worker';
import { startHeadless } from './headless-run';
import { waitFor } from './collector-harness';

let sim: SimulatorHandle;
beforeAll(async () => {
  ensureCliBuilt();
  sim = await startSimulator({ port: 0, seed: 13, scenario: 'steady' });
});
afterAll(async () => {
  await sim.stop();
});

describe('unknown --symbols', () => {
  it('none trades: one line naming them, exit 1 by itself, the snapshot file says FAILED (SYMBOLS_INVALID)', async () => {
    const run = startHeadless(['--rest-url', sim.restUrl, '--ws-url', sim.wsUrl, '--no-capture', '--symbols', 'FOOUSDT,BARUSDT']);
    let result: { code: number | null; signal: NodeJS.Signals | null };
    try {
      // Bounded by the test's timeout only: the process must end without being told to.
      result = await run.exited;
    } finally {
      run.child.kill('SIGKILL');
    }
    expect(result).toEqual({ code: 1, signal: null });
    expect(run.stderr()).toContain(
      'collector SYMBOLS_INVALID: none of the configured symbols (FOOUSDT, BARUSDT) is a trading USDT perpetual on the exchange; fix --symbols',
    );
    expect(run.stdout.some((l) => l.includes('Fetched TOP'))).toBe(false);
    expect(run.stdout.some((l) => l.includes('FAILED (SYMBOLS_INVALID): none of the configured symbols'))).toBe(true);
    const snap = readSnapshot(run.debugDir);
    expect(snap.health_state).toBe('FAILED');
    expect(snap.health_reasons).toEqual(['SYMBOLS_INVALID']);
    expect(snap.health_detail).toContain('FOOUSDT, BARUSDT');
    expect(snap.stage).toBe('SHUTDOWN');
  }, 60_000);

  it('some trade: observed, the others named in a warning on the console and in the log', async () => {
    const known = sim.symbols[0] as string;
    const run = startHeadless(['--rest-url', sim.restUrl, '--ws-url', sim.wsUrl, '--no-capture', '--symbols', `${known},FOOUSDT`]);
    try {
      await run.until('market stream connected', () => run.stdout.some((l) => l.includes('market stream connected')));
    } finally {
      run.child.kill('SIGTERM');
    }
    expect((await run.exited).code).toBe(0);
    expect(run.stdout.some((l) => l.includes('[SYMBOL CONFIG] Observing the 1 configured symbol(s):'))).toBe(true);
    expect(run.stdout.some((l) => l.includes('Fetched TOP'))).toBe(false);
    expect(run.stdout.some((l) => l.includes('[SYMBOL CONFIG] WARNING: not observed, not a trading USDT perpetual on the exchange: FOOUSDT'))).toBe(true);
    const log = readFileSync(join(run.debugDir, 'collector.log'), 'utf8');
    expect(log).toContain('"ignored":["FOOUSDT"]');
    expect(readSnapshot(run.debugDir).symbols_active).toEqual([known]);
  }, 60_000);
});

describe('a worker that crashes while running', () => {
  it('tells the host (WORKER_EXITED), writes FAILED into the snapshot file, flushes the capture and exits with code 1', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pp-dead-worker-'));
    // The real worker, with one uncaught exception thrown inside it once its streams are started.
    const wrapper = crashingWorker(dir);
    const fatals: { reason: string; detail: string }[] = [];
    let exitCode: number | null = null;
    const host = new WorkerHost({
      config: CollectorConfigSchema.parse({ restUrl: sim.restUrl, wsUrl: sim.wsUrl, debugDir: join(dir, 'debug'), capture: { dir: join(dir, 'cap') } }),
      runId: 'crash-test',
      workerPath: wrapper,
      snapshots: false,
      onSnapshot: () => undefined,
      onFatal: (reason, detail) => fatals.push({ reason, detail }),
      onExit: (c) => {
        exitCode = c;
      },
    });
    try {
      await waitFor('the worker exits by itself', () => exitCode !== null, 30_000);
    } finally {
      await host.stop(1000);
    }
    expect(exitCode).toBe(1);
    expect(fatals).toEqual([{ reason: 'WORKER_EXITED', detail: 'boom: injected by the test' }]);
    const snap = readSnapshot(join(dir, 'debug'));
    expect(snap.run_id).toBe('crash-test');
    expect(snap.health_state).toBe('FAILED');
    expect(snap.health_reasons).toEqual(['WORKER_EXITED']);
    expect(snap.health_detail).toBe('boom: injected by the test');
    expect(snap.stage).toBe('SHUTDOWN');
    // The stop after the crash closed the capture: every part is a complete gzip stream with frames in it.
    const parts = readdirSync(join(dir, 'cap')).filter((f) => f.endsWith('.pp.gz'));
    expect(parts.length).toBeGreaterThan(0);
    const lines = parts.flatMap((f) =>
      gunzipSync(readFileSync(join(dir, 'cap', f)))
        .toString('utf8')
        .trim()
        .split('\n'),
    );
    expect(lines.length).toBeGreaterThan(1);
    const log = readFileSync(join(dir, 'debug', 'collector.log'), 'utf8');
    expect(log).toContain('collector worker crashed');
    expect(log).toContain('boom: injected by the test');
  }, 60_000);
});
