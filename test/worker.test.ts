/**
 * The collector in its worker thread (dist/worker.js, as the app runs it): snapshots cross the
 * thread boundary as versioned messages that validate on the main side, and `stop` ends it cleanly.
 */
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CollectorConfigSchema } from '../src/collector/config';
import type { Snapshot } from '../src/core/contracts/snapshot';
import { WorkerHost } from '../src/ipc/host';
import { parseWorkerMessage } from '../src/ipc/messages';
import { startSimulator } from '../src/simulator/server';
import { ensureCliBuilt, REPO_ROOT } from './fixtures/paths';
import { waitFor } from './collector-harness';

describe('collector worker thread', () => {
  it('posts schema-valid snapshots to the main thread and stops on request', async () => {
    ensureCliBuilt();
    const workerPath = join(REPO_ROOT, 'dist', 'worker.js');
    expect(existsSync(workerPath)).toBe(true);
    const sim = await startSimulator({ port: 0, seed: 5 });
    const dir = mkdtempSync(join(tmpdir(), 'pp-worker-'));
    const snapshots: Snapshot[] = [];
    const lines: string[] = [];
    const got: string[] = [];
    let exitCode: number | null = null;
    const host = new WorkerHost({
      config: CollectorConfigSchema.parse({
        restUrl: sim.restUrl,
        wsUrl: sim.wsUrl,
        debugDir: join(dir, 'debug'),
        capture: { dir: join(dir, 'cap') },
        store: { path: join(dir, 'store.db') },
      }),
      runId: 'worker-test',
      workerPath,
      onSnapshot: (s) => {
        snapshots.push(s);
        if (got[got.length - 1] !== 'snapshot') got.push('snapshot');
      },
      onHistory: (h) => got.push(`history ${h.entries.length}/${h.skipped}`),
      onConsole: (l) => lines.push(l),
      onExit: (c) => {
        exitCode = c;
      },
    });
    try {
      await waitFor('snapshots with trades arrive', () => snapshots.some((s) => Object.values(s.raw_buffers.trades).some((r) => r.length > 0)), 20_000);
      expect(host.invalidMessages).toBe(0);
      const last = snapshots[snapshots.length - 1] as Snapshot;
      // Display-trimmed: at most 20 rows per symbol cross the boundary.
      for (const rows of Object.values(last.raw_buffers.trades)) expect(rows.length).toBeLessThanOrEqual(20);
      expect(last.symbols_active).toEqual([...sim.symbols]);
      // Snapshots are committed in order, every 500 ms.
      const seqs = snapshots.map((s) => s.snapshot_seq);
      expect([...seqs].sort((a, b) => a - b)).toEqual(seqs);
      expect(lines.some((l) => l.includes('stage CONNECT_STREAMS'))).toBe(true);
      // The store's history (empty: a new store) came once, before the first snapshot; this run's store is in the snapshot.
      expect(got.slice(0, 2)).toEqual(['history 0/0', 'snapshot']);
      expect(got.filter((g) => g.startsWith('history'))).toHaveLength(1);
      expect(last.store).toMatchObject({ path: join(dir, 'store.db'), state: 'OK' });
      // Anything else posted to the main thread is refused at the boundary.
      expect(parseWorkerMessage({ v: 1, type: 'snapshot', snapshot: { ...last, health_state: 'MAYBE' } }).ok).toBe(false);
      expect(parseWorkerMessage({ v: 2, type: 'stopped' }).ok).toBe(false);
    } finally {
      await host.stop();
      await sim.stop();
    }
    expect(exitCode).toBe(0);
    expect(lines.some((l) => l.includes('stage SHUTDOWN'))).toBe(true);
    expect(existsSync(join(dir, 'debug', 'latest_snapshot.json'))).toBe(true);
  });
});
