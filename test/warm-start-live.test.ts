/**
 * The warm start of the real collector (SPEC §20, issue 14 A) against the loopback simulator,
 * whose `GET /fapi/v1/aggTrades` lists its recorded market (real hftbacktest trades, time-shifted)
 * before start and since. Simulator and collector share the rig's manual clock, so the times
 * asserted below are clock times and a slow machine only makes the test take longer.
 *
 * What it proves: baselines warm (backfilled) in the first live seconds instead of after 60 live
 * windows; the warm start stays inside its share of the weight budget; backfill and live stream
 * meet by trade id with neither a gap nor a double trade (checked id by id against the capture);
 * `warmStart: false` (`--no-warm-start`) is the cold start it was; every failure kind starts its
 * symbol cold with WARM_START_FAILED (health, console, alert) while the others stay warm; and a
 * replay of the warm run's capture reproduces its events and counters exactly.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readCapture } from '../src/capture/reader';
import type { WarmStartFailure } from '../src/core/contracts/warm-start';
import { eventLine, runReplay } from '../src/replay/replay';
import type { SimFault } from '../src/simulator/types';
import { statusBar } from '../src/widgets/view-model';
import { captureFiles, MANUAL_T0, type Rig, type RigOptions, startRig } from './collector-harness';

let rigs: Rig[] = [];
afterEach(async () => {
  for (const r of rigs) await r.stop();
  rigs = [];
});

async function rig(opts: RigOptions = {}): Promise<Rig> {
  const r = await startRig({ ...opts, config: { warmStart: true, ...(opts.config ?? {}) } });
  rigs.push(r);
  return r;
}

/** Stop a rig now (its files are complete afterwards) and forget it. */
async function stopped(r: Rig): Promise<Rig> {
  rigs = rigs.filter((x) => x !== r);
  await r.stop();
  return r;
}

async function warmStartDone(r: Rig, withinMs = 20_000): Promise<void> {
  await r.until('the warm start ended', () => r.latest().warm_start.state === 'DONE', withinMs);
}

type Row = { a: number };

interface Captured {
  /** Per symbol: the aggregate ids of the REST pages the core used and of the live stream. */
  ids: Map<string, { rest: number[]; live: number[] }>;
  /** Receive times of the first live aggTrade and of the end marker. */
  firstLiveRecv: number;
  endMarkerRecv: number;
}

async function captured(r: Rig): Promise<Captured> {
  const out = new Map<string, { rest: number[]; live: number[] }>();
  let firstLiveRecv = Number.NaN;
  let endMarkerRecv = Number.NaN;
  const of = (s: string): { rest: number[]; live: number[] } => {
    let e = out.get(s);
    if (e === undefined) out.set(s, (e = { rest: [], live: [] }));
    return e;
  };
  for (const file of captureFiles(r.dir)) {
    for await (const item of readCapture(file)) {
      if (item.kind !== 'frame') continue;
      const f = item.frame;
      if (f.source.startsWith('rest:/fapi/v1/aggTrades?')) {
        const symbol = /symbol=([A-Z0-9]+)/.exec(f.source)?.[1] ?? '';
        // A page by time starts the chain (again: the planner shortens a busy symbol's span so); the core drops what came before.
        if (f.source.includes('startTime=')) of(symbol).rest = [];
        of(symbol).rest.push(...(JSON.parse(f.text) as Row[]).map((x) => x.a));
      } else if (f.source.startsWith('ws:') && f.text.includes('@aggTrade"')) {
        const d = (JSON.parse(f.text) as { data: { s: string; a: number } }).data;
        of(d.s).live.push(d.a);
        if (Number.isNaN(firstLiveRecv)) firstLiveRecv = f.recv_ms;
      } else if (f.source === 'local:warm-start' && f.text.includes('"end"')) endMarkerRecv = f.recv_ms;
    }
  }
  return { ids: out, firstLiveRecv, endMarkerRecv };
}

function auditLines(r: Rig): { event_type: string; symbol: string; severity?: string; reasons: string[]; payload: Record<string, unknown> }[] {
  return readFileSync(join(r.dir, 'debug', 'audit.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { event_type: string; symbol: string; severity?: string; reasons: string[]; payload: Record<string, unknown> });
}

describe('warm start of the live collector', () => {
  it('warm (backfilled) in the first live seconds, inside its weight budget, stitched to the stream by trade id', async () => {
    const r = await rig();
    expect(r.collector.stats().stage).toBe('WARM_START');
    expect(r.lines.some((l) => l.endsWith('stage WARM_START — backfilling the last 5 min of aggTrades for 10 symbols; live events wait until it ends'))).toBe(
      true,
    );
    await warmStartDone(r);
    const warmAtMs = r.clock.now() - MANUAL_T0;
    const s = r.latest();
    // Warm at once: every symbol, from the backfill, in the same commit the end marker went in.
    expect(warmAtMs).toBeLessThan(5_000);
    expect(s.baseline_status).toEqual({ ready_symbols: 10, total_symbols: 10 });
    expect(s.stage).toBe('OBSERVE');
    expect(statusBar(s).baselines.text).toBe('Baselines: 10 / 10 (backfilled)');
    expect(s.warm_start).toMatchObject({ state: 'DONE', span_ms: 300_000, backfilled: [...r.sim.symbols], failed: {}, held_events: 0 });
    for (const symbol of r.sim.symbols) {
      expect(s.per_symbol[symbol]?.baseline_state, symbol).toBe('warm_backfilled');
      // About 300 windows of backfill each, none of them judged.
      expect(s.per_symbol[symbol]?.counters.backfilled_windows, symbol).toBeGreaterThanOrEqual(290);
      expect(s.per_symbol[symbol]?.counters.windows_processed, symbol).toBeLessThan(10);
    }
    expect(s.health_reasons).not.toContain('WARM_START_FAILED');
    // The budget: 20 weight a page, at most half the free weight (the summary line says both).
    const summary = r.lines.find((l) => l.includes('] warm start: 10 symbols backfilled in '));
    const m = /\((\d+) pages, (\d+) of (\d+) weight, [\d,]+ trades, [\d,]+ windows\)$/.exec(summary ?? '');
    expect(m, summary).not.toBeNull();
    const [pages, weight, budget] = [Number(m?.[1]), Number(m?.[2]), Number(m?.[3])];
    expect(r.sim.stats().restRequests['/fapi/v1/aggTrades']).toBe(pages);
    expect(weight).toBe(pages * 20);
    // exchangeInfo (1) and ticker/24hr (40) came before: half of 2400 − 41.
    expect(budget).toBe(1179);
    expect(weight).toBeLessThanOrEqual(budget);

    // A few live seconds later: every trade id from the first backfilled to the last live one, each once.
    await r.run(3_000);
    await stopped(r);
    const { ids, firstLiveRecv, endMarkerRecv } = await captured(r);
    // The live stream is held while the backfill runs (each busy symbol's pages one after the other,
    // one rig step each here), so the warm baselines are there within a second or two of the first live trade...
    console.log(`[warm start] end marker ${endMarkerRecv - firstLiveRecv} ms after the first live trade, ${warmAtMs} ms after start`);
    expect(endMarkerRecv - firstLiveRecv).toBeLessThan(2_000);
    const counters = r.collector.counters();
    let overlap = 0;
    for (const symbol of r.sim.symbols) {
      const { rest, live } = ids.get(symbol) ?? { rest: [], live: [] };
      expect(rest.length, symbol).toBeGreaterThan(0);
      expect(live.length, symbol).toBeGreaterThan(0);
      const last = rest[rest.length - 1] as number;
      // The stream starts inside the backfill: the first live id is at most one past the last backfilled.
      expect(live[0], symbol).toBeLessThanOrEqual(last + 1);
      const union = new Set([...rest, ...live]);
      expect(union.size, symbol).toBe((live[live.length - 1] as number) - (rest[0] as number) + 1);
      const k = counters?.symbols.find((d) => d.symbol === symbol)?.counters;
      // ...and judge the live stream from its first second: no live window met a cold baseline.
      expect(k?.windows_processed, symbol).toBeGreaterThan(0);
      expect(k?.baseline_not_warm, symbol).toBe(0);
      expect(k?.trade_id_gaps, symbol).toBe(0);
      expect(k?.duplicate_trades, symbol).toBe(0);
      expect(k?.trades, symbol).toBe(union.size);
      expect(k?.backfill_duplicates, symbol).toBe(live.filter((a) => a <= last).length);
      overlap += k?.backfill_duplicates ?? 0;
    }
    expect(overlap).toBeGreaterThan(0);
  });

  it('warmStart: false (--no-warm-start) is the cold start: no aggTrades asked for, WARMUP, baselines cold at the same time', async () => {
    const r = await rig({ config: { warmStart: false } });
    await r.until('trades flowing', () => (r.collector.counters()?.symbols[0]?.counters.trades ?? 0) > 20);
    await r.run(MANUAL_T0 + 5_000 - r.clock.now());
    const s = r.latest();
    expect(r.sim.stats().restRequests['/fapi/v1/aggTrades']).toBeUndefined();
    expect(s.stage).toBe('WARMUP');
    expect(s.warm_start.state).toBe('OFF');
    expect(s.baseline_status).toEqual({ ready_symbols: 0, total_symbols: 10 });
    expect(statusBar(s).baselines.text).toBe('Baselines: 0 / 10');
    expect(Object.values(s.per_symbol).every((p) => p.baseline_state === 'cold')).toBe(true);
    expect(r.lines.some((l) => l.includes('WARM_START'))).toBe(false);
  });

  it('a replay of the warm run’s capture reproduces its events and counters; the demo promotes in its first minute', async () => {
    const r = await rig({ sim: { scenario: 'demo', seed: 11 } });
    await warmStartDone(r);
    await r.until('a promotion in the first minute', () => r.collector.promotions().length >= 1, 60_000);
    const first = r.collector.promotions()[0];
    expect((first?.window_start_ms ?? Infinity) - MANUAL_T0).toBeLessThan(60_000);
    await r.run(1_500);
    await stopped(r);
    const live = r.collector.counters();
    if (live === null) throw new Error('no counters');
    const liveSnap = r.latest();
    const replayed: string[] = [];
    const re = await runReplay({ files: captureFiles(r.dir), onPromotion: (e) => replayed.push(eventLine(e)) });
    expect(replayed.length).toBeGreaterThan(0);
    expect(replayed.join('')).toBe(r.collector.promotions().map(eventLine).join(''));
    expect(re.engine.detectorsInRankOrder.map((d) => ({ symbol: d.symbol, ...d.counters }))).toEqual(
      live.symbols.map((d) => ({ symbol: d.symbol, ...d.counters })),
    );
    expect(re.pipeline.counters.frames_received).toBe(live.frames.frames_received);
    expect(re.engine.watermark).toBe(live.watermarkMs);
    expect(re.summary.warm_start).toEqual(liveSnap.warm_start);
    expect(re.summary.warm_start.backfilled).toEqual([...r.sim.symbols]);
  }, 120_000);
});

describe('a failed warm start starts cold, says why, and never holds the others back', () => {
  const PATH = '/fapi/v1/aggTrades';
  const SYMBOLS = ['BTCUSDT', 'ETHUSDT', 'SOLUSDT'];

  async function failing(fault: SimFault, config: RigOptions['config'] = {}): Promise<Rig> {
    const r = await rig({ config: { symbols: SYMBOLS, ...config }, beforeStart: (sim) => sim.fault(fault) });
    await warmStartDone(r);
    await r.run(500);
    return r;
  }

  function expectCold(r: Rig, reason: WarmStartFailure, expected: { cold: number }): string[] {
    const s = r.latest();
    const failed = Object.entries(s.warm_start.failed);
    expect(failed.length, JSON.stringify(s.warm_start.failed)).toBe(expected.cold);
    for (const [symbol, f] of failed) {
      expect(f.reason, symbol).toBe(reason);
      expect(s.per_symbol[symbol]?.baseline_state, symbol).toBe('cold');
      expect(r.lines.some((l) => l.includes(`WARM_START_FAILED ${symbol} starts cold: ${reason}: `))).toBe(true);
    }
    const cold = failed.map(([symbol]) => symbol);
    expect(s.warm_start.backfilled).toEqual(SYMBOLS.filter((x) => !cold.includes(x)));
    for (const symbol of s.warm_start.backfilled) expect(s.per_symbol[symbol]?.baseline_state, symbol).toBe('warm_backfilled');
    expect(s.stage).toBe('WARMUP');
    expect(s.health_reasons).toContain('WARM_START_FAILED');
    expect(s.health_detail).toContain(`warm start failed for ${cold[0]} (${reason})`);
    return cold;
  }

  async function expectAlert(r: Rig, cold: string[]): Promise<void> {
    await stopped(r);
    // Through the collector's alerting: the audit channel's ALERT_RAISED record, and the console channel's line.
    const alerts = auditLines(r).filter((a) => a.event_type === 'ALERT_RAISED' && a.reasons.includes('WARM_START_FAILED'));
    expect(alerts).toHaveLength(1);
    const alert = alerts[0] as (typeof alerts)[number];
    expect(alert).toMatchObject({ severity: 'WARN', symbol: cold.length === 1 ? cold[0] : '' });
    expect(alert.payload).toMatchObject({ reason_code: 'WARM_START_FAILED', kind: 'each', count: 1 });
    for (const symbol of cold) expect(alert.payload.summary).toContain(symbol);
    expect(r.lines.some((l) => l.includes('WARM_START_FAILED') && l.includes('warm start failed, starting cold: '))).toBe(true);
  }

  it('429: the IP is limited, so every symbol starts cold (rate_limited); an alert says so', async () => {
    const r = await failing({ kind: 'rest_status', path: PATH, status: 429, count: 1, retryAfterS: 2 });
    await expectAlert(r, expectCold(r, 'rate_limited', { cold: 3 }));
  });

  it('418: banned, every symbol starts cold', async () => {
    const r = await failing({ kind: 'rest_status', path: PATH, status: 418, count: 1, retryAfterS: 2 });
    expectCold(r, 'banned', { cold: 3 });
  });

  it('a 5xx, a timeout and partial pages (cut short, ids missing) fail only the symbol they hit', async () => {
    const cases: [SimFault, WarmStartFailure, RigOptions['config']][] = [
      [{ kind: 'rest_status', path: PATH, status: 503, count: 1 }, 'server_error', {}],
      [{ kind: 'rest_slow', path: PATH, delayMs: 3_000, count: 1 }, 'timeout', { oiTimeoutMs: 1_000 }],
      [{ kind: 'rest_partial', path: PATH, mode: 'truncated', count: 1 }, 'partial_page', {}],
      [{ kind: 'rest_partial', path: PATH, mode: 'gap', count: 1 }, 'partial_page', {}],
    ];
    for (const [fault, reason, config] of cases) {
      const r = await failing(fault, config);
      const cold = expectCold(r, reason, { cold: 1 });
      if (fault.kind === 'rest_status') await expectAlert(r, cold);
      else await stopped(r);
    }
  });

  it('past warmStartTimeoutMs the symbol still fetching starts cold (deadline); the others do not wait for it', async () => {
    const r = await failing({ kind: 'rest_slow', path: PATH, delayMs: 10_000, count: 1 }, { warmStartTimeoutMs: 2_000, oiTimeoutMs: 20_000 });
    expectCold(r, 'deadline', { cold: 1 });
    expect(r.latest().warm_start.failed[Object.keys(r.latest().warm_start.failed)[0] ?? '']?.detail).toContain("no last page within the warm start's 2000 ms");
  });
});
