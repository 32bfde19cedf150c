/**
 * The view-model of the tabs beside M3 (src/widgets/beside-view.ts), pure, on a snapshot the real
 * pipeline made from the vendored capture with books and policy four-pillars-001 on, OI polls and
 * (synthetic) liquidations merged in: best prices are the book's own decimal strings, the tape is
 * newest activity first, the policy's partition says when it does not hold, sinks and the empty
 * states read as the README says. The UI test reads the same models back from Qt.
 */
process.env.TZ = 'UTC';

import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Snapshot } from '../src/core/contracts/snapshot';
import { POLICY_ID } from '../src/core/policy/constants';
import { runReplay } from '../src/replay/replay';
import { booksPanel, policyPanel, sinksPanel, tapePanel, tickDecimals } from '../src/widgets/beside-view';
import { COLORS, formatClock } from '../src/widgets/view-model';
import { FIXTURE_FILES } from './fixtures/paths';
import { writeLiquidationCapture, writeOiCapture } from './fixtures/synthetic';
import { downPostgresSink } from './fixtures/sink-status';

let s: Snapshot;

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pp-beside-view-'));
  const files = [...FIXTURE_FILES, writeOiCapture(join(dir, 'oi.pp')), writeLiquidationCapture(join(dir, 'liq.pp'))];
  s = (await runReplay({ files, symbols: ['BTCUSDT', 'ETHUSDT'], commitEveryMs: 500 })).state.commit(1_723_161_330_000);
});

describe('tabs beside M3 (view-model)', () => {
  it('books: one row per book in rank order, best prices verbatim from the book, state coloured', () => {
    const p = booksPanel(s);
    expect(p.empty).toBeNull();
    const rows = p.grids[0]?.rows ?? [];
    expect(rows.map((r) => r[0]?.text)).toEqual(['BTCUSDT', 'ETHUSDT']);
    for (const r of rows) {
      const b = s.books?.per_symbol[r[0]?.text ?? ''];
      expect(r[2]?.text).toBe(b?.best_bid);
      expect(r[3]?.text).toBe(b?.best_ask);
      expect(r[1]).toEqual({ text: 'LIVE', color: COLORS.green });
    }
    expect(booksPanel({ ...s, books: null }).empty).toContain('Order books are off');
  });

  it('tape: buckets of both symbols, newest last liquidation first, prices on the tick grid', () => {
    const p = tapePanel(s);
    const rows = p.grids[0]?.rows ?? [];
    expect(rows.length).toBeGreaterThan(0);
    const lasts = Object.values(s.liquidation_tape?.per_symbol ?? {})
      .flatMap((t) => t.buckets.map((b) => b.last_ms))
      .sort((a, b) => b - a);
    expect(rows.length).toBe(lasts.length);
    expect(rows.map((r) => r[7]?.text)).toEqual(lasts.map((ms) => formatClock(ms)));
    const btc = s.liquidation_tape?.per_symbol.BTCUSDT;
    expect(p.lines[0]).toBe(`BTCUSDT: ${btc?.liquidations} liquidations in ${btc?.buckets_total} bucket${btc?.buckets_total === 1 ? '' : 's'}, bucket 61.80`);
    expect(tickDecimals(0.1)).toBe(1);
    expect(tickDecimals(0.0000001)).toBe(7);
    expect(tickDecimals(1)).toBe(0);
    expect(tapePanel({ ...s, liquidation_tape: null }).empty).not.toBeNull();
  });

  it('policy: a partition row per symbol and the total; a partition that does not hold says so in red', () => {
    const p = policyPanel(s);
    const part = p.grids[0]?.rows ?? [];
    expect(part.map((r) => r[0]?.text)).toEqual(['BTCUSDT', 'ETHUSDT', 'All symbols']);
    expect(part.map((r) => r.at(-1)?.text)).toEqual(['holds', 'holds', 'holds']);
    const pol = s.policies[POLICY_ID];
    expect(pol).toBeTruthy();
    if (!pol) return;
    const broken = { ...pol, counters: { ...pol.counters, judged: pol.counters.judged + 1 } };
    const bad = policyPanel({ ...s, policies: { [POLICY_ID]: broken } })
      .grids[0]?.rows.at(-1)
      ?.at(-1);
    expect(bad).toEqual({ text: `≠ (${pol.counters.judged})`, color: COLORS.red });
    expect(policyPanel({ ...s, policies: { [POLICY_ID]: null } }).empty).toBe(`Policy ${POLICY_ID} is not running in this collector.`);
  });

  it('sinks: none configured says so; a failing sink is SINK_DEGRADED with its backlog and error', () => {
    expect(sinksPanel(s).empty).toContain('No sink configured');
    const t = s.timestamp * 1000;
    const p = sinksPanel({
      ...s,
      sinks: [downPostgresSink(t, 60_000)],
    });
    const r = p.grids[0]?.rows[0] ?? [];
    expect(r.map((c) => c.text).slice(0, 4)).toEqual(['postgres://127.0.0.1:5432/pp', 'DEGRADED (SINK_DEGRADED)', '57', '0 / 984']);
    expect(r[1]?.color).toBe(COLORS.red);
    expect(r[7]?.text).toBe('connect ECONNREFUSED 127.0.0.1:5432');
    expect(p.lines[0]).toContain('1 SINK_DEGRADED · 57 rows wait in the local store');
  });
});
