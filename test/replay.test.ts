/**
 * Replay on real exchange data: the vendored hftbacktest extract (always), the full captures in
 * ../shared/data (when present), in process through runReplay and end to end through the CLI.
 *
 * The real data has no liquidation or OI stream, so for the promotion-carrying runs a synthetic
 * OI poll capture (test/fixtures/synthetic.ts, clearly labelled) is merged in.
 */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PromotedEvent } from '../src/core/contracts/promoted';
import { OUTCOME_COUNTERS, PARTITION_KEYS, type PartitionKey } from '../src/core/contracts/counters';
import type { ClosedWindow } from '../src/core/symbol-detector';
import { eventLine, runReplay, type ReplayOptions, type ReplayResult, type ReplaySummary } from '../src/replay/replay';
import { CLI, ensureCliBuilt, FIXTURE_COUNTS, FIXTURE_ETH, FIXTURE_FILES, haveShared, REPO_ROOT, SHARED_HFT_2023, SHARED_HFT_2024 } from './fixtures/paths';
import { FULL_2024_RECV_SPAN, writeOiCapture } from './fixtures/synthetic';
import { snapshotPartitionSum } from './helpers';

const tmp = mkdtempSync(join(tmpdir(), 'pp-replay-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const OI_FIXTURE = writeOiCapture(join(tmp, 'oi-fixture.capture'));

interface Run {
  result: ReplayResult;
  windows: ClosedWindow[];
  events: PromotedEvent[];
  jsonl: string;
  summaryJson: string;
}

async function replay(opts: Omit<ReplayOptions, 'onWindow' | 'onPromotion'>): Promise<Run> {
  const windows: ClosedWindow[] = [];
  const events: PromotedEvent[] = [];
  const result = await runReplay({ ...opts, onWindow: (w) => windows.push(w), onPromotion: (e) => events.push(e) });
  return { result, windows, events, jsonl: events.map(eventLine).join(''), summaryJson: JSON.stringify(result.summary) };
}

/** The partition invariant, checked three independent ways: counters, closed windows, snapshot. */
function expectPartition(run: Run): void {
  const s = run.result.summary;
  let total = 0;
  for (const [symbol, p] of Object.entries(s.per_symbol)) {
    const sum = PARTITION_KEYS.reduce((acc, k) => acc + p.partition[k], 0);
    expect(sum, `${symbol}: ${JSON.stringify(p.partition)}`).toBe(p.windows_processed);
    expect(p.partition_holds).toBe(true);
    // Each closed window reported exactly once, in the bucket the counters say.
    const mine = run.windows.filter((w) => w.symbol === symbol);
    expect(mine).toHaveLength(p.windows_processed);
    const byOutcome = Object.fromEntries(PARTITION_KEYS.map((k) => [k, 0])) as Record<PartitionKey, number>;
    for (const w of mine) byOutcome[OUTCOME_COUNTERS[w.outcome]]++;
    expect(byOutcome).toEqual(p.partition);
    expect(new Set(mine.map((w) => w.window_start_ms)).size).toBe(mine.length);
    total += sum;
  }
  expect(total).toBe(s.windows_processed);
  expect(s.partition_holds).toBe(true);
  expect(s.promotions).toBe(run.events.length);
  // The committed snapshot carries the same totals.
  const snap = run.result.state.commit(0);
  const c = snap.counters;
  expect(c.windows_processed).toBe(s.windows_processed);
  expect(snapshotPartitionSum(c)).toBe(c.windows_processed);
}

describe('replay of the vendored hftbacktest extract (first 70 s, BTCUSDT + ETHUSDT)', () => {
  let plain: Run;
  let withOi: Run;
  beforeAll(async () => {
    plain = await replay({ files: FIXTURE_FILES });
    withOi = await replay({ files: [...FIXTURE_FILES, OI_FIXTURE] });
  });

  it('discovers both symbols from the data, most traded first', () => {
    expect(plain.result.summary.symbols).toEqual(['BTCUSDT', 'ETHUSDT']);
    expect(plain.result.summary.symbols_from).toBe('data');
  });

  it('keeps the counter partition per symbol and in total', () => {
    expectPartition(plain);
    expectPartition(withOi);
    expect(plain.result.summary.windows_processed).toBeGreaterThanOrEqual(2 * 69);
  });

  it('warms both baselines and then judges more windows', () => {
    for (const symbol of ['BTCUSDT', 'ETHUSDT']) {
      const d = plain.result.engine.detector(symbol);
      expect(d?.warm, symbol).toBe(true);
      expect(d?.flowHistory.length).toBe(60);
      const p = plain.result.summary.per_symbol[symbol];
      expect(p?.partition.baseline_not_warm).toBe(60);
      const judged = (p?.windows_processed ?? 0) - (p?.partition.empty_windows ?? 0) - (p?.partition.baseline_not_warm ?? 0);
      expect(judged, symbol).toBeGreaterThanOrEqual(5);
    }
    const snap = plain.result.state.commit(0);
    expect(snap.baseline_status).toEqual({ ready_symbols: 2, total_symbols: 2 });
  });

  it('finds no malformed frame in the real data and counts every frame', () => {
    const s = plain.result.summary;
    expect(s.counters.malformed_events).toBe(0);
    expect(s.malformed_by_reason).toEqual({});
    expect(s.bad_lines).toBe(0);
    expect(s.frames).toBe(FIXTURE_COUNTS.lines.BTCUSDT + FIXTURE_COUNTS.lines.ETHUSDT);
    expect(s.counters.frames_received).toBe(s.frames);
    expect(s.counters.symbol_not_allowed).toBe(0);
    for (const symbol of ['BTCUSDT', 'ETHUSDT'] as const) {
      const p = s.per_symbol[symbol];
      expect((p?.trades ?? 0) + (p?.non_market_trades ?? 0) + (p?.duplicate_trades ?? 0)).toBe(FIXTURE_COUNTS.trades[symbol]);
      expect(p?.window_not_closed).toBe(0);
    }
  });

  it('counts ignored frames by kind', () => {
    const s = plain.result.summary;
    expect(s.ignored_by_kind).toEqual({ bookTicker: FIXTURE_COUNTS.bookTicker, depth: FIXTURE_COUNTS.depth, 'rest:depth': FIXTURE_COUNTS.restDepth });
    expect(s.counters.ignored_frames).toBe(FIXTURE_COUNTS.bookTicker + FIXTURE_COUNTS.depth + FIXTURE_COUNTS.restDepth);
    expect(s.counters.ignored_frames + FIXTURE_COUNTS.trades.BTCUSDT + FIXTURE_COUNTS.trades.ETHUSDT).toBe(s.frames);
  });

  it('promotes nothing without a stress stream, and promotes with the synthetic OI polls', () => {
    expect(plain.events).toEqual([]);
    expect(plain.result.summary.promotions).toBe(0);
    expect(withOi.events.length).toBeGreaterThan(0);
    for (const e of withOi.events) {
      expect(e.stress_sources).toEqual(['oi_change']);
      expect(e.event_id).toBe(`${e.symbol}-${e.window_start_ms}`);
    }
    // The OI polls change nothing else.
    const a = plain.result.summary.per_symbol;
    const b = withOi.result.summary.per_symbol;
    for (const symbol of ['BTCUSDT', 'ETHUSDT']) {
      expect(b[symbol]?.windows_processed).toBe(a[symbol]?.windows_processed);
      expect(b[symbol]?.partition.flow_surge_failed).toBe(a[symbol]?.partition.flow_surge_failed);
      expect(b[symbol]?.oi_polls).toBe(71);
    }
  });

  it('is deterministic: a second replay gives byte-identical events JSONL and summary JSON', async () => {
    const again = await replay({ files: [...FIXTURE_FILES, OI_FIXTURE] });
    expect(again.jsonl.length).toBeGreaterThan(0);
    expect(again.jsonl).toBe(withOi.jsonl);
    expect(again.summaryJson).toBe(withOi.summaryJson);
    const again2 = await replay({ files: FIXTURE_FILES });
    expect(again2.summaryJson).toBe(plain.summaryJson);
  });
});

// ---- CLI end to end ---------------------------------------------------------------------------

function cli(args: readonly string[]): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [CLI, ...args], { cwd: tmp, encoding: 'utf8', maxBuffer: 64 << 20 });
}

interface CliRun {
  status: number | null;
  stdout: string;
  stderr: string;
  events: Buffer;
}

function cliReplay(files: readonly string[], out: string, extra: readonly string[] = []): CliRun {
  const dead = `${out}.dead.jsonl`;
  const r = cli(['replay', ...files, '--json', '--out', out, '--dead-letters', dead, ...extra]);
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, events: existsSync(out) ? readFileSync(out) : Buffer.alloc(0) };
}

type CliSummary = ReplaySummary & { events_file: string; dead_letters: number };

describe('CLI: peak-pressure replay, end to end', () => {
  beforeAll(() => ensureCliBuilt(), 180_000);

  it('gives byte-identical output twice, exit code 0, and the same result as the in-process replay', async () => {
    const files = [...FIXTURE_FILES, OI_FIXTURE];
    const out = join(tmp, 'cli-events.jsonl');
    const first = cliReplay(files, out);
    expect(first.stderr).toBe('');
    expect(first.status).toBe(0);
    const second = cliReplay(files, out);
    expect(second.status).toBe(0);
    expect(second.stdout).toBe(first.stdout);
    expect(second.events.equals(first.events)).toBe(true);
    expect(first.events.length).toBeGreaterThan(0);

    const json = JSON.parse(first.stdout) as CliSummary;
    expect(json.events_file).toBe(out);
    expect(json.dead_letters).toBe(0);
    expect(existsSync(`${out}.dead.jsonl`)).toBe(false);
    const inProcess = await replay({ files });
    const { events_file: _f, dead_letters: _d, ...summary } = json;
    expect(JSON.stringify(summary)).toBe(inProcess.summaryJson);
    expect(first.events.toString('utf8')).toBe(inProcess.jsonl);
  });

  it('--symbols BTCUSDT restricts the allow-list: ETH trades count as symbol_not_allowed', () => {
    const r = cliReplay(FIXTURE_FILES, join(tmp, 'cli-btc.jsonl'), ['--symbols', 'btcusdt']);
    expect(r.status).toBe(0);
    const s = JSON.parse(r.stdout) as CliSummary;
    expect(s.symbols).toEqual(['BTCUSDT']);
    expect(s.symbols_from).toBe('option');
    expect(Object.keys(s.per_symbol)).toEqual(['BTCUSDT']);
    expect(s.counters.symbol_not_allowed).toBe(FIXTURE_COUNTS.trades.ETHUSDT);
    expect(s.counters.malformed_events).toBe(0);
    expect(s.partition_holds).toBe(true);
    const full = JSON.parse(cliReplay(FIXTURE_FILES, join(tmp, 'cli-both.jsonl')).stdout) as CliSummary;
    // BTC is judged exactly as when ETH is allowed too: symbols are isolated.
    expect(s.per_symbol.BTCUSDT).toEqual(full.per_symbol.BTCUSDT);
  });

  it('prints the table without --json, and exits 2 with usage when given no file', () => {
    const r = cli(['replay', FIXTURE_ETH, '--out', join(tmp, 'cli-eth.jsonl'), '--dead-letters', join(tmp, 'cli-eth.dead.jsonl')]);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/Partition holds: yes/);
    expect(r.stdout).toMatch(/symbols \(data\): ETHUSDT/);
    const u = cli(['replay']);
    expect(u.status).toBe(2);
    expect(u.stderr).toMatch(/usage: peak-pressure replay/);
  });
});

// ---- the full captures in ../shared -----------------------------------------------------------

describe('replay of the full captures in ../shared/data', () => {
  const have2024 = haveShared(SHARED_HFT_2024, 'full 2024-08-08 hftbacktest replay');
  const have2023 = haveShared(SHARED_HFT_2023, 'full 2023-04-04/05 hftbacktest replay');

  it.runIf(have2024)('2024-08-08 BTCUSDT + ETHUSDT (≈ 6 min): partition, warm, no malformed, ignored by kind, deterministic', async () => {
    const oi = writeOiCapture(join(tmp, 'oi-full.capture'), ['BTCUSDT', 'ETHUSDT'], FULL_2024_RECV_SPAN);
    const files = [...SHARED_HFT_2024, oi];
    const a = await replay({ files });
    expectPartition(a);
    const s = a.result.summary;
    expect(s.symbols).toEqual(['BTCUSDT', 'ETHUSDT']);
    expect(s.counters.malformed_events).toBe(0);
    expect(s.ignored_by_kind).toEqual({ bookTicker: 66_089 + 53_992, depth: 6_551 + 6_586, 'rest:depth': 2 });
    expect(s.frames).toBe(93_954 + 74_655 + 2 * 346);
    expect((s.per_symbol.BTCUSDT?.trades ?? 0) + (s.per_symbol.BTCUSDT?.non_market_trades ?? 0)).toBe(21_313);
    expect((s.per_symbol.ETHUSDT?.trades ?? 0) + (s.per_symbol.ETHUSDT?.non_market_trades ?? 0)).toBe(14_076);
    expect(a.result.engine.detector('BTCUSDT')?.warm).toBe(true);
    expect(a.result.engine.detector('ETHUSDT')?.warm).toBe(true);
    expect(s.windows_processed).toBeGreaterThanOrEqual(2 * 340);
    expect(a.events.length).toBeGreaterThan(0);
    const b = await replay({ files });
    expect(b.jsonl).toBe(a.jsonl);
    expect(b.summaryJson).toBe(a.summaryJson);
  });

  it.runIf(have2024)('2024-08-08 through the CLI twice: byte-identical', () => {
    const out = join(tmp, 'cli-full.jsonl');
    ensureCliBuilt();
    const first = cliReplay(SHARED_HFT_2024, out);
    const second = cliReplay(SHARED_HFT_2024, out);
    expect(first.status).toBe(0);
    expect(second.status).toBe(0);
    expect(second.stdout).toBe(first.stdout);
    expect(second.events.equals(first.events)).toBe(true);
    const s = JSON.parse(first.stdout) as CliSummary;
    expect(s.partition_holds).toBe(true);
    expect(s.counters.malformed_events).toBe(0);
  });

  it.runIf(have2023)('2023-04-04/05 BTCUSDT (two consecutive files, µs timestamps, markPrice@1s)', async () => {
    const a = await replay({ files: SHARED_HFT_2023 });
    expectPartition(a);
    const s = a.result.summary;
    expect(s.symbols).toEqual(['BTCUSDT']);
    expect(s.counters.malformed_events).toBe(0);
    expect(s.ignored_by_kind).toEqual({ bookTicker: 6_765 + 37_440, depth: 4_322 + 11_788, 'rest:depth': 1 });
    expect(s.frames).toBe(13_384 + 60_381);
    expect(a.result.engine.detector('BTCUSDT')?.counters.mark_prices).toBe(99 + 415);
    expect((s.per_symbol.BTCUSDT?.trades ?? 0) + (s.per_symbol.BTCUSDT?.non_market_trades ?? 0) + (s.per_symbol.BTCUSDT?.duplicate_trades ?? 0)).toBe(
      2_197 + 10_738,
    );
    expect(a.result.engine.detector('BTCUSDT')?.warm).toBe(true);
    // The second file continues the first: no gap reset at the file boundary.
    expect(s.counters.gap_resets).toBe(0);
  });
});

it('resolves ../shared from the repository root', () => {
  expect(existsSync(join(REPO_ROOT, 'package.json'))).toBe(true);
});
