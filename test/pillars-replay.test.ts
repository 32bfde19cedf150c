/**
 * Books + policy `four-pillars-001` + tape over real captures, through runReplay (the one replay
 * path): every book syncs with zero `pu` gaps, the policy's partition holds per symbol, pillar-4
 * depths equal a naive reference book as of each window's end, replays are byte-identical, and
 * M3's events and counters are byte-identical with the policy and books on or off, and equal to a
 * pipeline that has nothing beside M3 at all.
 *
 * The real captures have no liquidation or OI stream. Two clearly synthetic companions are merged
 * where a stress stream is needed: the OI polls of test/fixtures/synthetic.ts (M3 promotions) and a
 * forceOrder capture written here (one liquidation per symbol per second, sides alternating), so
 * the policy's pillar 3 passes and pillar 4 is judged on the real books.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { binanceUsdm } from '../src/binance/adapter';
import { mergeCaptures } from '../src/capture/reader';
import type { DepthUpdate } from '../src/binance/book/contracts';
import type { PromotedEvent } from '../src/core/contracts/promoted';
import { createPipeline } from '../src/core/pipeline';
import { SnapshotSchema } from '../src/core/contracts/snapshot';
import { POLICY_OUTCOMES, type PolicyEvent } from '../src/core/policy/contracts';
import type { PolicyVerdict } from '../src/core/policy/four-pillars';
import { policyEventLine } from '../src/replay/beside-summary';
import { eventLine, type ReplayOptions, type ReplayResult, type ReplaySummary, runReplay, summarize } from '../src/replay/replay';
import { bridgeIndex, depthInput, NaiveBook, type DepthInput } from './book-helpers';
import { FIXTURE_FILES, haveShared, SHARED_HFT_2023, SHARED_HFT_2024 } from './fixtures/paths';
import { FIXTURE_RECV_SPAN, FULL_2024_RECV_SPAN, writeLiquidationCapture, writeOiCapture } from './fixtures/synthetic';

const tmp = mkdtempSync(join(tmpdir(), 'pp-pillars-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

interface Run {
  result: ReplayResult;
  summary: ReplaySummary;
  m3Events: PromotedEvent[];
  policyEvents: PolicyEvent[];
}

async function replay(opts: Omit<ReplayOptions, 'onPromotion' | 'onPolicyEvent'>): Promise<Run> {
  const m3Events: PromotedEvent[] = [];
  const policyEvents: PolicyEvent[] = [];
  const result = await runReplay({ ...opts, onPromotion: (e) => m3Events.push(e), onPolicyEvent: (e) => policyEvents.push(e) });
  return { result, summary: result.summary, m3Events, policyEvents };
}

/** M3's part of a summary: every key but the two beside it. */
function m3Part(s: ReplaySummary): string {
  const { policy: _p, books: _b, ...m3 } = s;
  return JSON.stringify(m3);
}

/** M3 with nothing beside it: createPipeline({ beside: false }) over the same merged frames. */
async function m3Only(files: readonly string[]): Promise<{ events: PromotedEvent[]; summary: string }> {
  const pipeline = createPipeline({ adapter: binanceUsdm, symbols: ['BTCUSDT', 'ETHUSDT'], beside: false });
  const events: PromotedEvent[] = [];
  let frames = 0;
  let firstWatermark: number | null = null;
  let lastRecvMs = 0;
  for await (const item of mergeCaptures(files)) {
    if (item.kind !== 'frame') continue;
    frames++;
    lastRecvMs = item.frame.recv_ms;
    pipeline.ingest(item.frame, item.file);
    if (firstWatermark === null && pipeline.engine.watermark !== null) firstWatermark = pipeline.engine.watermark;
    events.push(...pipeline.engine.takeNewPromotions());
  }
  const s = summarize(pipeline, { files: [...files], symbolsFrom: 'data', frames, badLines: 0, firstWatermark, lastRecvMs });
  expect(s.policy).toBeNull();
  expect(s.books).toBeNull();
  return { events, summary: m3Part(s) };
}

/** Depth as of `end` by the naive reference: the snapshot and every diff with E ≤ end. */
function referenceDepth(input: DepthInput, end: number, side: 'bids' | 'asks'): number {
  const ref = new NaiveBook(input.snapshot);
  for (let i = bridgeIndex(input); i < input.diffs.length && (input.diffs[i] as DepthUpdate).E <= end; i++) ref.apply(input.diffs[i] as DepthUpdate);
  return ref.depth(side, 10);
}

function expectPolicyPartition(r: Run): void {
  const p = r.summary.policy;
  expect(p?.partition_holds).toBe(true);
  for (const [symbol, s] of Object.entries(p?.per_symbol ?? {})) {
    expect(
      POLICY_OUTCOMES.reduce((sum, k) => sum + s.partition[k], 0),
      symbol,
    ).toBe(s.judged);
    expect(s.judged + s.empty).toBe(s.windows_seen);
    // The policy sees every window M3 closed.
    expect(s.windows_seen).toBe(r.summary.per_symbol[symbol]?.windows_processed);
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
  let plain: Run;
  let withLiq: Run;
  let liqFile: string;

  beforeAll(async () => {
    liqFile = writeLiquidationCapture(join(tmp, `liq-${files.length}-${span.to}.capture`), span);
    plain = await replay({ files });
    withLiq = await replay({ files: [...files, liqFile], onVerdict: (v) => verdicts.push(v) });
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
    expect(withLiq.result.pipeline.beside?.tape.view('BTCUSDT', { latestPrice: null, tick: 0.1 }).liquidations).toBeGreaterThan(300);
  });

  it('the committed snapshot carries the books, the policy’s section and the liquidation tape', () => {
    const snap = withLiq.result.state.commit(span.to);
    const parsed = SnapshotSchema.safeParse(JSON.parse(JSON.stringify(snap)));
    expect(parsed.success, parsed.error?.message).toBe(true);
    for (const symbol of ['BTCUSDT', 'ETHUSDT']) {
      const end = withLiq.summary.books?.per_symbol[symbol];
      expect(snap.books?.per_symbol[symbol]).toMatchObject({ state: 'LIVE', pu_gaps: 0, best_bid: end?.best_bid, best_ask: end?.best_ask });
      const policy = snap.policies['four-pillars-001']?.per_symbol[symbol];
      expect(policy?.counters.judged).toBe(withLiq.summary.policy?.per_symbol[symbol]?.judged);
      // One synthetic liquidation per symbol per second at one price: a single bucket holding them all.
      const tape = snap.liquidation_tape?.per_symbol[symbol];
      expect(tape?.buckets).toHaveLength(1);
      expect((tape?.buckets[0]?.buy_count ?? 0) + (tape?.buckets[0]?.sell_count ?? 0)).toBe(tape?.liquidations);
      expect(tape?.liquidations).toBe(withLiq.result.engine.detector(symbol)?.counters.liquidations);
    }
    const section = snap.policies['four-pillars-001'];
    expect(section?.events.map(policyEventLine).join('')).toBe(withLiq.policyEvents.map(policyEventLine).join(''));
    // Nothing changed: the next commit shares the frozen events array instead of copying the ring.
    expect(withLiq.result.state.commit(span.to + 500).policies['four-pillars-001']?.events).toBe(section?.events);
  });

  it('replays are deterministic: byte-identical policy events and summaries', async () => {
    const again = await replay({ files: [...files, liqFile] });
    expect(again.policyEvents.map(policyEventLine).join('')).toBe(withLiq.policyEvents.map(policyEventLine).join(''));
    expect(JSON.stringify(again.summary)).toBe(JSON.stringify(withLiq.summary));
  });

  // The full files add nothing here but time: M3 identity is shown on the vendored extracts.
  it.runIf(!long)('M3 is untouched: events and counters byte-identical with the policy and books on, off, and with nothing beside M3', async () => {
    const oi = writeOiCapture(join(tmp, `oi-${files.length}-${span.to}.capture`), ['BTCUSDT', 'ETHUSDT'], span);
    const input = [...files, oi, liqFile];
    const on = await replay({ files: input });
    const noPolicy = await replay({ files: input, policy: false });
    const off = await replay({ files: input, policy: false, books: false });
    const bare = await m3Only(input);
    expect(on.m3Events.length).toBeGreaterThan(0);
    expect(on.summary.policy?.per_symbol.BTCUSDT?.judged).toBeGreaterThan(0);
    expect(noPolicy.summary.policy).toBeNull();
    expect(off.summary.books).toBeNull();
    const lines = (es: readonly PromotedEvent[]): string => es.map(eventLine).join('');
    for (const other of [noPolicy, off]) {
      expect(lines(other.m3Events)).toBe(lines(on.m3Events));
      expect(m3Part(other.summary)).toBe(m3Part(on.summary));
    }
    expect(lines(bare.events)).toBe(lines(on.m3Events));
    expect(bare.summary).toBe(m3Part(on.summary));
    // The committed snapshot's M3 part too: everything but the sections beside M3.
    const m3Snap = (r: Run): string => {
      const { books: _b, policies: _p, liquidation_tape: _t, ...rest } = r.result.state.commit(0);
      return JSON.stringify(rest);
    };
    expect(m3Snap(off)).toBe(m3Snap(on));
  });
});

describe.runIf(haveShared(SHARED_HFT_2023, 'hftbacktest 2023 captures'))('books over two files that continue each other (2023-04-04 → 05)', () => {
  it('the REST body, unlabelled and before any diff of its file, is held for that file, then the book syncs and never breaks', async () => {
    const r = await replay({ files: SHARED_HFT_2023 });
    expect(r.summary.books?.per_symbol.BTCUSDT).toMatchObject({ state: 'LIVE', pu_gaps: 0, resyncs: 0, snapshots_applied: 1 });
    expect(r.summary.books?.snapshots_unattributed).toBe(0);
    expectPolicyPartition(r);
  });
});
