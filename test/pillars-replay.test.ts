/**
 * Books + policy `four-pillars-001` + tape over real captures (src/replay/pillars.ts): every book
 * syncs with zero `pu` gaps, the policy's partition holds per symbol, pillar-4 depths equal a naive
 * reference book as of each window's end, replays are byte-identical, and M3's events and counters
 * are byte-identical with the policy and books on or off.
 *
 * The real captures have no liquidation or OI stream. Two clearly synthetic companions are merged
 * where a stress stream is needed: the OI polls of test/fixtures/synthetic.ts (M3 promotions) and a
 * forceOrder capture written here (one liquidation per symbol per second, sides alternating), so
 * the policy's pillar 3 passes and pillar 4 is judged on the real books.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatCaptureLine } from '../src/capture/format';
import type { DepthUpdate } from '../src/binance/book/contracts';
import { POLICY_OUTCOMES } from '../src/core/policy/contracts';
import type { PolicyVerdict } from '../src/core/policy/four-pillars';
import { policyEventLine, type PillarsReplayResult, runPillarsReplay } from '../src/replay/pillars';
import { eventLine, runReplay } from '../src/replay/replay';
import { bridgeIndex, depthInput, NaiveBook, type DepthInput } from './book-helpers';
import { FIXTURE_FILES, haveShared, SHARED_HFT_2023, SHARED_HFT_2024 } from './fixtures/paths';
import { FIXTURE_CLOCK_SKEW_MS, FIXTURE_RECV_SPAN, FULL_2024_RECV_SPAN, writeOiCapture } from './fixtures/synthetic';

const tmp = mkdtempSync(join(tmpdir(), 'pp-pillars-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Synthetic (not market data): one `!forceOrder@arr` frame per symbol per second, BUY and SELL alternating. */
function writeLiquidationCapture(path: string, span: { from: number; to: number }): string {
  const lines: string[] = [];
  const prices: Record<string, string> = { BTCUSDT: '61800.00', ETHUSDT: '2680.00' };
  for (let recv = span.from, i = 0; recv <= span.to; recv += 1000, i++) {
    for (const [s, p] of Object.entries(prices)) {
      const E = recv + FIXTURE_CLOCK_SKEW_MS;
      const o = { s, S: i % 2 === 0 ? 'BUY' : 'SELL', o: 'LIMIT', f: 'IOC', q: '0.010', p, ap: p, X: 'FILLED', l: '0.010', z: '0.010', T: E };
      lines.push(
        formatCaptureLine({ recv_ms: recv, source: 'ws:/market/stream', text: JSON.stringify({ stream: '!forceOrder@arr', data: { e: 'forceOrder', E, o } }) }),
      );
    }
  }
  writeFileSync(path, `${lines.join('\n')}\n`);
  return path;
}

/** Depth as of `end` by the naive reference: the snapshot and every diff with E ≤ end. */
function referenceDepth(input: DepthInput, end: number, side: 'bids' | 'asks'): number {
  const ref = new NaiveBook(input.snapshot);
  for (let i = bridgeIndex(input); i < input.diffs.length && (input.diffs[i] as DepthUpdate).E <= end; i++) ref.apply(input.diffs[i] as DepthUpdate);
  return ref.depth(side, 10);
}

function expectPolicyPartition(r: PillarsReplayResult): void {
  const p = r.summary.policy;
  expect(p?.partition_holds).toBe(true);
  for (const [symbol, s] of Object.entries(p?.per_symbol ?? {})) {
    expect(
      POLICY_OUTCOMES.reduce((sum, k) => sum + s.partition[k], 0),
      symbol,
    ).toBe(s.judged);
    expect(s.judged + s.empty).toBe(s.windows_seen);
    // The policy sees every window M3 closed.
    expect(s.windows_seen).toBe(r.summary.m3.per_symbol[symbol]?.windows_processed);
  }
}

interface Case {
  name: string;
  files: readonly string[];
  span: { from: number; to: number };
  /** Long enough for the policy to warm up and reach pillar 4. */
  long: boolean;
}

const CASES: Case[] = [{ name: 'vendored 70 s extracts', files: FIXTURE_FILES, span: FIXTURE_RECV_SPAN, long: false }];
if (haveShared(SHARED_HFT_2024, 'full 2024 hftbacktest captures'))
  CASES.push({ name: 'full 2024-08-08 captures', files: SHARED_HFT_2024, span: FULL_2024_RECV_SPAN, long: true });

describe.each(CASES)('books and policy over $name', ({ files, span, long }) => {
  const verdicts: PolicyVerdict[] = [];
  let plain: PillarsReplayResult;
  let withLiq: PillarsReplayResult;
  let liqFile: string;

  beforeAll(async () => {
    liqFile = writeLiquidationCapture(join(tmp, `liq-${files.length}-${span.to}.capture`), span);
    plain = await runPillarsReplay({ files });
    withLiq = await runPillarsReplay({ files: [...files, liqFile], onVerdict: (v) => verdicts.push(v) });
  });

  it('every book syncs, with zero pu gaps, and ends at the exchange’s best prices', () => {
    for (const r of [plain, withLiq]) {
      const books = r.summary.books;
      expect(books?.malformed).toBe(0);
      expect(books?.snapshots_unattributed).toBe(0);
      for (const [symbol, b] of Object.entries(books?.per_symbol ?? {})) {
        expect({ symbol, state: b.state, pu_gaps: b.pu_gaps, resyncs: b.resyncs, snapshots: b.snapshots_applied }).toEqual({
          symbol,
          state: 'LIVE',
          pu_gaps: 0,
          resyncs: 0,
          snapshots: 1,
        });
      }
    }
    const input = depthInput([files[0] as string]);
    const ref = new NaiveBook(input.snapshot);
    for (let i = bridgeIndex(input); i < input.diffs.length; i++) ref.apply(input.diffs[i] as DepthUpdate);
    expect(plain.summary.books?.per_symbol.BTCUSDT).toMatchObject({ best_bid: ref.best('bids'), best_ask: ref.best('asks') });
  });

  it('the policy’s partition holds per symbol; without liquidations no window passes pillar 3', () => {
    expectPolicyPartition(plain);
    expectPolicyPartition(withLiq);
    for (const s of Object.values(plain.summary.policy?.per_symbol ?? {})) {
      expect(s.partition.not_warm).toBe(Math.min(60, s.judged));
      expect(s.partition.book_unavailable + s.partition.exhaustion_failed + s.partition.promoted).toBe(0);
    }
    expect(plain.policyEvents).toEqual([]);
  });

  it.runIf(long)('with liquidations, pillar 4 is judged on the real books, as of each window’s end', () => {
    const reached = verdicts.filter((v) => v.outcome === 'exhaustion_failed' || v.outcome === 'promoted');
    expect(reached.length).toBeGreaterThan(0);
    const inputs: Record<string, DepthInput> = { BTCUSDT: depthInput([files[0] as string]), ETHUSDT: depthInput([files[1] as string]) };
    for (const v of reached) {
      const side = v.dominant_side === 'BUY' ? 'asks' : 'bids';
      expect(v.passive_depth).toBe(referenceDepth(inputs[v.symbol] as DepthInput, v.window_start_ms + 1000, side));
    }
    expect(withLiq.policyEvents.length).toBe(verdicts.filter((v) => v.outcome === 'promoted').length);
    // The tape saw the same liquidations: one per symbol per second, within the last 60 min.
    expect(withLiq.pipeline.tape.view('BTCUSDT', { latestPrice: null, tick: 0.1 }).liquidations).toBeGreaterThan(300);
  });

  it('replays are deterministic: byte-identical policy events and summaries', async () => {
    const again = await runPillarsReplay({ files: [...files, liqFile] });
    expect(again.policyEvents.map(policyEventLine).join('')).toBe(withLiq.policyEvents.map(policyEventLine).join(''));
    expect(JSON.stringify(again.summary)).toBe(JSON.stringify(withLiq.summary));
  });

  // The full files add nothing here but time: M3 identity is shown on the vendored extracts.
  it.runIf(!long)('M3 is untouched: events and counters byte-identical with the policy and books on, off, and in plain replay', async () => {
    const oi = writeOiCapture(join(tmp, `oi-${files.length}-${span.to}.capture`), ['BTCUSDT', 'ETHUSDT'], span);
    const input = [...files, oi, liqFile];
    const on = await runPillarsReplay({ files: input });
    const off = await runPillarsReplay({ files: input, policy: false, books: false });
    const m3 = await runReplay({ files: input });
    expect(on.m3Events.length).toBeGreaterThan(0);
    const lines = (es: typeof on.m3Events): string => es.map(eventLine).join('');
    expect(lines(on.m3Events)).toBe(lines(off.m3Events));
    expect(lines(on.m3Events)).toBe(lines(m3.engine.promotions.toArray()));
    expect(JSON.stringify(on.summary.m3)).toBe(JSON.stringify(off.summary.m3));
    expect(JSON.stringify(on.summary.m3)).toBe(JSON.stringify(m3.summary));
  });
});

describe.runIf(haveShared(SHARED_HFT_2023, 'hftbacktest 2023 captures'))('books over two files that continue each other (2023-04-04 → 05)', () => {
  it('the REST body, unlabelled and before any diff of its file, is held for that file, then the book syncs and never breaks', async () => {
    const r = await runPillarsReplay({ files: SHARED_HFT_2023 });
    expect(r.summary.books?.per_symbol.BTCUSDT).toMatchObject({ state: 'LIVE', pu_gaps: 0, resyncs: 0, snapshots_applied: 1 });
    expect(r.summary.books?.snapshots_unattributed).toBe(0);
    expectPolicyPartition(r);
  });
});
