/**
 * Insert latency of the store's two SQLite drivers (src/store/driver.ts), as the collector uses
 * it: one `persist` per commit holding one real promoted event (the fixture replay's), committed
 * with synchronous FULL (an fsync per commit) or NORMAL, on a fresh file in the temp folder. Not a
 * benchmark section: a small measurement for the driver choice.
 *
 *   node -r ./test/fixtures/ts-register.cjs scripts/measure-store.ts [commits]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { RULE_SET_ID, RULE_SET_VERSION } from '../src/core/constants';
import type { PromotedEvent } from '../src/core/contracts/promoted';
import { runReplay } from '../src/replay/replay';
import type { DriverName } from '../src/store/driver';
import { EventStore } from '../src/store/store';

const FIXTURE = join(__dirname, '..', 'test', 'fixtures');
const commits = Number(process.argv[2] ?? 300);

function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] as number;
}

async function main(): Promise<void> {
  const { readdirSync } = await import('node:fs');
  const files = readdirSync(FIXTURE)
    .filter((f) => f.endsWith('.gz'))
    .map((f) => join(FIXTURE, f));
  const found: PromotedEvent[] = [];
  await runReplay({ files, onPromotion: (e) => found.push(e) });
  // The fixtures alone lack OI polls, so they may promote nothing: any event shape will do for timing.
  const template = found[0];
  const dir = mkdtempSync(join(tmpdir(), 'pp-measure-store-'));
  try {
    for (const synchronous of ['FULL', 'NORMAL'] as const) {
      for (const driver of ['native', 'wasm'] as DriverName[]) {
        const t0 = performance.now();
        const store = EventStore.open({ path: join(dir, `${driver}-${synchronous}.db`), driver, synchronous }, 0);
        const openMs = performance.now() - t0;
        store.startRun(
          { run_id: 'm', started_ms: 0, mode: 'DEMO', rule_set: { id: RULE_SET_ID, version: RULE_SET_VERSION }, config_hash: 'm', app_version: 'm' },
          0,
        );
        const ms: number[] = [];
        for (let i = 0; i < commits; i++) {
          const e = template
            ? { ...template, event_id: `M-${i}` }
            : {
                event_id: `M-${i}`,
                symbol: 'BTCUSDT',
                window_start_ms: i * 1000,
                window_end_ms: i * 1000 + 1000,
                rule_set: { id: RULE_SET_ID, version: RULE_SET_VERSION },
              };
          const s = performance.now();
          const r = store.persist({ events: [e as PromotedEvent] }, i);
          ms.push(performance.now() - s);
          if (!r.ok) throw new Error(`${driver}: ${r.fault.message}`);
        }
        store.close(commits);
        ms.sort((a, b) => a - b);
        const f = (x: number): string => x.toFixed(3);
        process.stdout.write(
          `${driver.padEnd(6)} ${synchronous.padEnd(6)} open ${f(openMs)} ms; ${commits} commits of 1 event: p50 ${f(quantile(ms, 0.5))} ms, p99 ${f(quantile(ms, 0.99))} ms, max ${f(ms[ms.length - 1] as number)} ms\n`,
        );
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

void main();
