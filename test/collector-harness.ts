/**
 * Runs the real collector (in-process, same code as the worker runs) against the loopback
 * simulator, with a temp directory for its files and helpers to wait for conditions.
 */
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Collector } from '../src/collector/collector';
import { type CollectorConfigInput, CollectorConfigSchema } from '../src/collector/config';
import { silentLogger } from '../src/collector/log';
import type { Snapshot } from '../src/core/contracts/snapshot';
import { startSimulator } from '../src/simulator/server';
import type { SimulatorHandle, SimulatorOptions } from '../src/simulator/types';

export interface Rig {
  sim: SimulatorHandle;
  collector: Collector;
  dir: string;
  snapshots: Snapshot[];
  lines: string[];
  latest(): Snapshot;
  stop(): Promise<void>;
}

export async function startRig(opts: { sim?: SimulatorOptions; config?: Partial<CollectorConfigInput>; useSimClock?: boolean } = {}): Promise<Rig> {
  const sim = await startSimulator({ port: 0, speed: 1, seed: 7, scenario: 'steady', ...(opts.sim ?? {}) });
  const dir = mkdtempSync(join(tmpdir(), 'pp-rig-'));
  const config = CollectorConfigSchema.parse({
    restUrl: sim.restUrl,
    wsUrl: sim.wsUrl,
    debugDir: join(dir, 'debug'),
    capture: { dir: join(dir, 'captures') },
    mode: 'DEMO',
    ...(opts.config ?? {}),
  });
  const snapshots: Snapshot[] = [];
  const lines: string[] = [];
  const collector = new Collector({
    config,
    runId: 'test',
    logger: silentLogger(),
    ...(opts.useSimClock ? { clock: () => sim.now() } : {}),
    publish: (s) => {
      // Keep memory flat in long tests: only the newest few are needed.
      snapshots.push(s);
      if (snapshots.length > 50) snapshots.splice(0, snapshots.length - 50);
    },
    console: (l) => lines.push(l),
  });
  await collector.start();
  return {
    sim,
    collector,
    dir,
    snapshots,
    lines,
    latest: () => {
      const s = snapshots[snapshots.length - 1];
      if (!s) throw new Error('no snapshot published yet');
      return s;
    },
    stop: async () => {
      await collector.stop();
      await sim.stop();
    },
  };
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Poll `pred` every 100 ms until it is true; fail with `what` after `timeoutMs`. */
export async function waitFor(what: string, pred: () => boolean, timeoutMs = 20_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    let ok: boolean;
    try {
      ok = pred();
    } catch {
      ok = false;
    }
    if (ok) return;
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`);
    await sleep(100);
  }
}

export function captureFiles(dir: string): string[] {
  const d = join(dir, 'captures');
  return readdirSync(d)
    .filter((f) => f.endsWith('.pp.gz'))
    .sort()
    .map((f) => join(d, f));
}

/** Trades ingested so far (all symbols), straight from the engine. */
export function tradesSeen(rig: Rig): number {
  const e = rig.collector.engine;
  if (!e) return 0;
  return e.detectorsInRankOrder.reduce((s, d) => s + d.counters.trades, 0);
}
