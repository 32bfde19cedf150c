/**
 * The condition rates behind the README: each condition is re-evaluated on its own from the closed
 * windows of a real replay, and the funnel 1 → 1+2 → 1–3 → all four must reproduce the core's own
 * partition counters exactly (flow failed = warm − 1, large trade failed = 1 − (1+2), …). That
 * ties the README's shares to the verdict code instead of to a second implementation of it.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { RATE_COLUMNS } from '../src/app/rates-command';
import { ConditionRates, type ConditionTally } from '../src/replay/condition-rates';
import { runReplay, type SymbolSummary } from '../src/replay/replay';
import { CLI, ensureCliBuilt, FIXTURE_FILES, haveShared, SHARED_HFT_2023, SHARED_HFT_2024 } from './fixtures/paths';
import { FULL_2024_RECV_SPAN, writeOiCapture } from './fixtures/synthetic';
import { tempDir } from './store-helpers';

const tmp = tempDir('pp-rates-');
afterAll(() => tmp.cleanup());

function expectFunnelMatchesPartition(t: ConditionTally, s: SymbolSummary): void {
  const p = s.partition;
  expect(t.warm).toBe(s.windows_processed - p.empty_windows - p.baseline_not_warm);
  expect(t.warm - t.flow).toBe(p.flow_surge_failed);
  expect(t.flow - t.first_two).toBe(p.large_trade_failed);
  expect(t.first_two - t.first_three).toBe(p.compression_failed);
  expect(t.first_three - t.all_four).toBe(p.missing_streams + p.stress_failed);
  expect(t.all_four).toBe(p.peak_pressure_count);
  expect(t.promoted).toBe(p.peak_pressure_count);
  for (const k of ['flow', 'large_trade', 'compression', 'stress'] as const) expect(t[k]).toBeLessThanOrEqual(t.warm);
}

async function check(files: string[]): Promise<Map<string, ConditionTally>> {
  const rates = new ConditionRates();
  const r = await runReplay({ files, onWindow: rates.add });
  expect(rates.bySymbol.size).toBe(Object.keys(r.summary.per_symbol).length);
  for (const [sym, t] of rates.bySymbol) expectFunnelMatchesPartition(t, r.summary.per_symbol[sym] as SymbolSummary);
  return rates.bySymbol;
}

describe('condition rates reproduce the verdict partition', () => {
  it('on the vendored capture, with and without the synthetic OI polls (condition 4 is 0 without them)', async () => {
    const plain = await check([...FIXTURE_FILES]);
    for (const t of plain.values()) {
      expect(t.warm).toBeGreaterThan(0);
      expect(t.stress).toBe(0);
    }
    const withOi = await check([...FIXTURE_FILES, writeOiCapture(join(tmp.dir, 'oi.capture'))]);
    expect([...withOi.values()].some((t) => t.all_four > 0)).toBe(true);
  });

  it('on every full hftbacktest capture in ../shared/data, each file on its own', async () => {
    if (!haveShared([...SHARED_HFT_2024, ...SHARED_HFT_2023], 'condition rates on the full captures')) return;
    for (const f of [...SHARED_HFT_2024, ...SHARED_HFT_2023]) await check([f]);
    await check([...SHARED_HFT_2024, writeOiCapture(join(tmp.dir, 'oi-full.capture'), ['BTCUSDT', 'ETHUSDT'], FULL_2024_RECV_SPAN)]);
  }, 120_000);
});

describe('peak-pressure rates', () => {
  it('prints one row per file and symbol, and reports a file without trades instead of failing', () => {
    ensureCliBuilt();
    const noTrades = join(tmp.dir, 'oi-only.capture');
    writeOiCapture(noTrades);
    const r = spawnSync(process.execPath, [CLI, 'rates', ...FIXTURE_FILES, noTrades], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const lines = r.stdout.split('\n');
    const cells = (l: string): string[] =>
      l
        .split('|')
        .slice(1, -1)
        .map((c) => c.trim());
    expect(cells(lines[0] ?? '')).toEqual([...RATE_COLUMNS]);
    expect(lines.filter((l) => /^\| (btc|eth)usdt_20240808_first70s\.gz +\| (BTC|ETH)USDT/.test(l))).toHaveLength(2);
    expect(r.stdout).toContain('oi-only.capture: no trades found');
    const bad = spawnSync(process.execPath, [CLI, 'rates'], { encoding: 'utf8' });
    expect(bad.status).toBe(2);
    expect(bad.stderr.split('\n')[0]).toBe('peak-pressure rates: give at least one capture file');
  });
});
