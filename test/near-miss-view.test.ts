/**
 * The "why silent?" view-model on snapshots the real pipeline produced from the vendored capture
 * (with 5 s synthetic OI polls, and without any OI), plus a boot snapshot.
 */
process.env.TZ = 'UTC';

import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Snapshot } from '../src/core/contracts/snapshot';
import { bootSnapshot, defaultOps } from '../src/core/system-state';
import { runReplay } from '../src/replay/replay';
import { COLORS } from '../src/widgets/view-model';
import { NEAR_MISS_COLUMNS, nearMissPanel } from '../src/widgets/near-miss-view';
import { FIXTURE_FILES } from './fixtures/paths';
import { writeOiCapture } from './fixtures/synthetic';
import { tempDir } from './store-helpers';

const tmp = tempDir('pp-nm-view-');
afterAll(() => tmp.cleanup());

let withOi: Snapshot;
let noOi: Snapshot;

beforeAll(async () => {
  const oi = writeOiCapture(join(tmp.dir, 'oi5.capture'), ['BTCUSDT', 'ETHUSDT'], undefined, 5_000);
  const a = await runReplay({ files: [...FIXTURE_FILES, oi], nearMisses: true });
  withOi = a.state.commit(1_723_161_330_000);
  const b = await runReplay({ files: FIXTURE_FILES, nearMisses: true });
  noOi = b.state.commit(1_723_161_330_000);
});

describe('near-miss panel', () => {
  it('one row per near miss of every symbol, newest first, with the margins and the snapshot thresholds in words', () => {
    const p = nearMissPanel(withOi);
    const total = Object.values(withOi.near_misses).reduce((n, l) => n + l.length, 0);
    expect(total).toBeGreaterThan(0);
    expect(p.rows).toHaveLength(total);
    expect(p.empty).toBeNull();
    expect(p.title).toBe('=== WHY SILENT? Near misses, all symbols (windows that passed conditions 1 and 2) ===');
    const ends = p.rows.map((r) => r.time);
    expect([...ends].sort().reverse()).toEqual(ends);
    const newest = Object.entries(withOi.near_misses)
      .flatMap(([symbol, l]) => l.map((m) => ({ symbol, m })))
      .sort((a, b) => b.m.window_end_ms - a.m.window_end_ms)[0];
    if (newest === undefined) throw new Error('no near miss');
    const row = p.rows[0];
    expect(row?.symbol).toBe(newest.symbol);
    expect(row?.time).toBe(new Date(newest.m.window_end_ms).toISOString().slice(11, 19));
    expect(row?.flow).toBe(`×${(newest.m.flow_margin as number).toFixed(2)}`);
    expect(row?.largest).toBe(`×${(newest.m.large_trade_margin as number).toFixed(2)}`);
    expect(Object.keys(row ?? {}).length - 1).toBe(NEAR_MISS_COLUMNS.length);
    for (const r of p.rows) {
      if (r.stopped === '3 candle') {
        expect(r.why).toMatch(/^body ratio \d\.\d\d is neither ≤ 0\.30 nor ≥ 0\.70/);
        expect(Number(r.body)).toBeGreaterThan(0.3);
        expect(Number(r.body)).toBeLessThan(0.7);
      } else {
        expect(r.stopped).toBe('4 stress');
        expect(r.stress).toBe('none (OI fresh)');
        expect(r.why).toBe('no liquidation in the last 60 s and no OI change in the window');
      }
      expect(r.color).toBe(COLORS.grey);
    }
  });

  it('per-symbol lines count the stops at 3 and 4; one symbol and a row limit filter the rows', () => {
    const p = nearMissPanel(withOi);
    for (const [i, line] of p.perSymbol.entries()) {
      const symbol = withOi.symbols_active.filter((s) => (withOi.near_misses[s] ?? []).length > 0)[i] as string;
      const list = withOi.near_misses[symbol] ?? [];
      const at3 = list.filter((m) => m.stopped_at === 3).length;
      expect(line).toBe(`${symbol}: last ${list.length} — ${at3} stopped at 3 (candle), ${list.length - at3} at 4 (stress)`);
    }
    const eth = nearMissPanel(withOi, { symbol: 'ETHUSDT', limit: 3 });
    expect(eth.title).toContain('Near misses, ETHUSDT');
    expect(eth.rows.length).toBe(Math.min(3, (withOi.near_misses.ETHUSDT ?? []).length));
    expect(eth.rows.every((r) => r.symbol === 'ETHUSDT')).toBe(true);
  });

  it('without OI, windows stopped at 4 are missing data: orange, stress unknown, and counted as such', () => {
    const p = nearMissPanel(noOi);
    const missing = p.rows.filter((r) => r.stopped === '4 stress');
    expect(missing.length).toBeGreaterThan(0);
    for (const r of missing) {
      expect(r.color).toBe(COLORS.orange);
      expect(r.stress).toBe('unknown (OI stale)');
      expect(r.why).toBe('no liquidation, and OI too stale to tell whether it changed (missing_streams)');
    }
    expect(p.perSymbol.some((l) => / for missing data$/.test(l))).toBe(true);
  });

  it('explains an empty panel: warming up before baselines, else nothing passed conditions 1 and 2', () => {
    const boot = bootSnapshot(defaultOps('r', 'LIVE_PEAK_PRESSURE'), 1, 0);
    const p = nearMissPanel(boot);
    expect(p.rows).toEqual([]);
    expect(p.empty).toBe('No near misses yet: baselines warming up (0 / 0 symbols ready).');
    const warmNone: Snapshot = { ...withOi, near_misses: {} };
    expect(nearMissPanel(warmNone).empty).toBe(
      'No near misses yet: no window has passed both the flow surge (P90) and the large-trade (P95) conditions since start.',
    );
  });
});
