/**
 * The warm-start planner (src/binance/backfill.ts, issue 14 A.3) against an exchange double that
 * answers aggTrades pages from real trades (the vendored hftbacktest extract): paging by time then
 * fromId, round robin so no symbol waits for a busy one, the budget cap, and every failure kind —
 * which starts only its symbol cold, except 429/418, after which nothing more is sent. For each
 * outcome the recorded bodies and markers are then fed to a FramePipeline: the core reaches the
 * same verdict as the planner (same chain rules, one class).
 */
import { describe, expect, it } from 'vitest';
import { binanceUsdm } from '../src/binance/adapter';
import { AGG_TRADES_WEIGHT, parseAggTradesQuery } from '../src/binance/agg-trades-page';
import { BackfillPlanner, backfillBudget, driveBackfill, type PageOutcome, type PageRequest, type PlannerOptions, WARM_START } from '../src/binance/backfill';
import { Engine } from '../src/core/engine';
import { FramePipeline } from '../src/core/pipeline';
import type { Frame } from '../src/core/source';
import { warmStartFrame } from '../src/core/warm-start';
import { FIXTURE_FILES } from './fixtures/paths';
import { type RecordedTrade, recordedTrades, restRow } from './warm-start-frames';

const real = recordedTrades(FIXTURE_FILES);
const byExchangeOrder = (s: string): RecordedTrade[] => real.filter((t) => t.symbol === s).sort((a, b) => a.a - b.a);
const BTC = byExchangeOrder('BTCUSDT');
const ETH = byExchangeOrder('ETHUSDT');
const NOW = Math.max(...real.map((t) => t.T)) + 500;
/** The whole extract is inside the span. */
const SPAN = 75_000;

/** Ten symbols: the two recorded ones and eight relabelled copies of their trades (ids of their own). */
function market(n = 2): Map<string, RecordedTrade[]> {
  const names = ['BTCUSDT', 'ETHUSDT', 'SOLUSDT', 'XRPUSDT', 'DOGEUSDT', 'BNBUSDT', 'ADAUSDT', 'LINKUSDT', 'AVAXUSDT', 'SUIUSDT'];
  const m = new Map<string, RecordedTrade[]>();
  names.slice(0, n).forEach((s, i) => {
    const src = i % 2 === 0 ? BTC : ETH;
    m.set(s, i < 2 ? src : src.map((t, j) => ({ ...t, symbol: s, a: 100_000 * (i + 1) + j })));
  });
  return m;
}

/**
 * A longer market for the span rules: the extract repeated `times` times back to back (each copy
 * shifted by the extract's length, ids continued), ending at NOW — real trades, repeated.
 */
function longMarket(n: number, times: number): Map<string, RecordedTrade[]> {
  const out = new Map<string, RecordedTrade[]>();
  for (const [symbol, trades] of market(n)) {
    const t0 = (trades[0] as RecordedTrade).T;
    const len = (trades[trades.length - 1] as RecordedTrade).T - t0 + 1;
    const a0 = (trades[0] as RecordedTrade).a;
    const list: RecordedTrade[] = [];
    for (let k = 0; k < times; k++) {
      const shift = (k - times + 1) * len;
      for (const t of trades) list.push({ ...t, T: t.T + shift, recv: t.recv + shift, a: a0 + list.length });
    }
    out.set(symbol, list);
  }
  return out;
}

/** The exchange's answer to a page request from the recorded trades (inclusive bounds, oldest first, at most `limit`). */
function serve(m: Map<string, RecordedTrade[]>, path: string): string {
  const q = parseAggTradesQuery(path);
  if (typeof q === 'string') throw new Error(`${path}: ${q}`);
  const all = m.get(q.symbol) ?? [];
  const from = q.from;
  const rows = all.filter((t) => (from.kind === 'time' ? t.T >= from.ms && (q.endMs === undefined || t.T <= q.endMs) : t.a >= from.id)).slice(0, q.limit);
  return `[${rows.map(restRow).join(',')}]`;
}

type Answer = (req: PageRequest, body: () => string) => PageOutcome;
const ok: Answer = (_req, body) => ({ kind: 'body', text: body(), recvMs: NOW + 100, usedWeight1m: null });

interface Drive {
  planner: BackfillPlanner;
  /** Requests in the order they were handed out. */
  sent: PageRequest[];
  /** What the REST client records: the successful bodies, in arrival order. */
  bodies: Frame[];
}

/** Hand out requests, answer them first come first served (up to `concurrency` outstanding), until none is left. */
function drive(opts: Partial<PlannerOptions> & { m?: Map<string, RecordedTrade[]> }, answer: Answer = ok): Drive {
  const m = opts.m ?? market();
  const planner = new BackfillPlanner({ symbols: [...m.keys()], nowMs: NOW, spanMs: SPAN, usedWeight1m: 0, pageLimit: 400, ...opts });
  const sent: PageRequest[] = [];
  const bodies: Frame[] = [];
  const queue = planner.next();
  sent.push(...queue);
  let recv = NOW;
  while (queue.length > 0) {
    const req = queue.shift() as PageRequest;
    const out = answer(req, () => serve(m, req.path));
    if (out.kind === 'body') bodies.push({ recv_ms: ++recv, source: `rest:${req.path}`, text: out.text });
    planner.onOutcome(req, out);
    const more = planner.next();
    sent.push(...more);
    queue.push(...more);
  }
  return { planner, sent, bodies };
}

/** The core's verdict on what the planner produced: bodies between the planner's two markers. */
function coreVerdict(d: Drive, symbols: readonly string[]): { backfilled: string[]; failed: string[] } {
  const engine = new Engine({ symbols });
  const p = new FramePipeline(binanceUsdm, engine);
  p.ingest(warmStartFrame(NOW, d.planner.beginMarker()));
  for (const f of d.bodies) p.ingest(f);
  p.ingest(warmStartFrame(NOW + 10_000, d.planner.endMarker()));
  return { backfilled: p.warmStart.status.backfilled, failed: Object.keys(p.warmStart.status.failed).sort() };
}

function expectSameVerdict(d: Drive, symbols: readonly string[]): void {
  const done = symbols.filter((s) => d.planner.stateOf(s) === 'done');
  expect(coreVerdict(d, symbols)).toEqual({ backfilled: done, failed: Object.keys(d.planner.failures).sort() });
}

describe('paging', () => {
  it('asks each symbol by time first, then by fromId while pages are full, and stops at the short page', () => {
    const d = drive({});
    expect(d.planner.done).toBe(true);
    expect(d.planner.failures).toEqual({});
    for (const [symbol, trades] of market()) {
      const mine = d.sent.filter((r) => r.symbol === symbol);
      expect(mine).toHaveLength(Math.floor(trades.length / 400) + 1);
      const queries = mine.map((r) => parseAggTradesQuery(r.path));
      expect(queries[0]).toEqual({ symbol, from: { kind: 'time', ms: NOW - SPAN }, endMs: NOW + WARM_START.END_LEAD_MS, limit: 400 });
      queries
        .slice(1)
        .forEach((q, i) => expect(q).toEqual({ symbol, from: { kind: 'id', id: (trades[400 * (i + 1) - 1] as RecordedTrade).a + 1 }, limit: 400 }));
      expect(mine.every((r) => r.weight === AGG_TRADES_WEIGHT)).toBe(true);
    }
    expectSameVerdict(d, [...market().keys()]);
  });

  it('round robin: every one of ten symbols gets its first page before any symbol a second, at most 4 in flight', () => {
    const m = market(10);
    const d = drive({ m, concurrency: 4, pageLimit: 1000 });
    expect(d.sent.slice(0, 10).map((r) => r.page)).toEqual(Array(10).fill(0));
    expect(new Set(d.sent.slice(0, 10).map((r) => r.symbol)).size).toBe(10);
    expect(d.planner.done).toBe(true);
    expect(d.planner.failures).toEqual({});
    const first = new BackfillPlanner({ symbols: [...m.keys()], nowMs: NOW, usedWeight1m: 0 });
    expect(first.next()).toHaveLength(4);
    expect(first.next()).toHaveLength(0);
  });

  it('refuses a span whose first window would reach an hour', () => {
    expect(() => new BackfillPlanner({ symbols: ['BTCUSDT'], nowMs: NOW, spanMs: 59 * 60_000, usedWeight1m: 0 })).toThrow(/under an hour/);
  });
});

describe('the budget: half of the free weight, 20 a call, never into the 10 % reserve', () => {
  it('computes the cap from X-MBX-USED-WEIGHT-1M', () => {
    expect(backfillBudget(0)).toEqual({ free: 2400, cap: 1200, calls: 60 });
    expect(backfillBudget(null)).toEqual({ free: 2400, cap: 1200, calls: 60 });
    expect(backfillBudget(1000)).toEqual({ free: 1400, cap: 700, calls: 35 });
    // Half of 400 would be 200, but 2000 + 200 crosses 2160 (90 %): 160 it is.
    expect(backfillBudget(2000)).toEqual({ free: 400, cap: 160, calls: 8 });
    expect(backfillBudget(2300)).toEqual({ free: 100, cap: 0, calls: 0 });
    expect(backfillBudget(2600)).toEqual({ free: 0, cap: 0, calls: 0 });
  });

  it('with 8 calls for 10 one-page symbols: 8 backfilled, the last 2 cold with `budget`, never asked', () => {
    const m = new Map([...market(10)].map(([s, t]) => [s, t.slice(0, 300)]));
    const d = drive({ m, usedWeight1m: 2000, pageLimit: 1000 });
    expect(d.sent).toHaveLength(8);
    expect(d.sent.length * AGG_TRADES_WEIGHT).toBeLessThanOrEqual(d.planner.budget.cap);
    expect(Object.keys(d.planner.failures)).toEqual(['AVAXUSDT', 'SUIUSDT']);
    expect(d.planner.failures.SUIUSDT?.reason).toBe('budget');
    expectSameVerdict(d, [...m.keys()]);
  });

  it('busy symbols that outgrow the budget fail with `budget`; round robin shares it evenly, within the cap', () => {
    // 6 calls: BTC needs 8 pages of 400, ETH 7: round robin gives each 3, then both run out.
    // 2040 used: half of the 360 free is 180, the reserve allows 120 → 6 calls.
    const d = drive({ usedWeight1m: 2040, pageLimit: 400 });
    expect(d.planner.budget.calls).toBe(6);
    expect(d.sent.map((r) => `${r.symbol}:${r.page}`)).toEqual(['BTCUSDT:0', 'ETHUSDT:0', 'BTCUSDT:1', 'ETHUSDT:1', 'BTCUSDT:2', 'ETHUSDT:2']);
    expect(d.planner.failures.BTCUSDT?.reason).toBe('budget');
    expect(d.planner.failures.ETHUSDT?.reason).toBe('budget');
    const thin = drive({ usedWeight1m: 2080, pageLimit: 1000 });
    // BTC needs 3 pages of 1000, ETH 3 as well; with 4 calls each gets 2: both cold, none starved first.
    expect(thin.sent.map((r) => r.symbol)).toEqual(['BTCUSDT', 'ETHUSDT', 'BTCUSDT', 'ETHUSDT']);
    expectSameVerdict(d, ['BTCUSDT', 'ETHUSDT']);
  });

  it('ten busy symbols over 5 min (~130 pages at 1000) in 58 calls: each starts again later after its first page, and all are backfilled', () => {
    const m = longMarket(10, 5);
    const need = [...m.values()].reduce((n, t) => n + Math.floor(t.length / 1000) + 1, 0);
    expect(need).toBeGreaterThan(100);
    const d = drive({ m, spanMs: WARM_START.SPAN_MS, usedWeight1m: 41, pageLimit: 1000 });
    expect(d.planner.budget.calls).toBe(58);
    expect(d.sent.length).toBeLessThanOrEqual(58);
    expect(d.planner.failures).toEqual({});
    for (const symbol of m.keys()) {
      const q = d.sent.filter((r) => r.symbol === symbol).map((r) => parseAggTradesQuery(r.path));
      const restart = q[1];
      if (restart === undefined || typeof restart === 'string' || restart.from.kind !== 'time')
        throw new Error(`${symbol} did not start again: ${JSON.stringify(q[1])}`);
      expect(restart.from.ms).toBeGreaterThan(NOW - WARM_START.SPAN_MS);
      // `ok` answers at NOW + 100: the planner's now when it decides.
      expect(restart.from.ms).toBeLessThanOrEqual(NOW + 100 - WARM_START.MIN_SPAN_MS);
      expect(q.slice(2).every((x) => typeof x !== 'string' && x.from.kind === 'id')).toBe(true);
    }
    expectSameVerdict(d, [...m.keys()]);
    // The core used only the chain after the restart: its trades start at the restart time.
    const engine = new Engine({ symbols: [...m.keys()] });
    const p = new FramePipeline(binanceUsdm, engine);
    p.ingest(warmStartFrame(NOW, d.planner.beginMarker()));
    for (const f of d.bodies) p.ingest(f);
    p.ingest(warmStartFrame(NOW + 1, d.planner.endMarker()));
    for (const [symbol, trades] of m) {
      const restart = parseAggTradesQuery((d.sent.filter((r) => r.symbol === symbol)[1] as PageRequest).path);
      const from = typeof restart === 'string' || restart.from.kind !== 'time' ? 0 : restart.from.ms;
      expect(engine.detector(symbol)?.counters.trades, symbol).toBe(trades.filter((t) => t.T >= from).length);
      expect(engine.detector(symbol)?.warm, symbol).toBe(true);
    }
  });

  it('stops a symbol when the exchange reports the minute nearly spent by others', () => {
    const d = drive({}, (req, body) => ({ kind: 'body', text: body(), recvMs: NOW, usedWeight1m: req.symbol === 'ETHUSDT' ? 2150 : 300 }));
    expect(d.planner.failures).toEqual({ ETHUSDT: { reason: 'budget', detail: 'ETHUSDT page 1: the IP has used 2150 of 2400 weight this minute' } });
    expect(d.planner.stateOf('BTCUSDT')).toBe('done');
  });
});

describe('failure kinds: the symbol starts cold, the others go on', () => {
  /** Fault the second page of ETH; BTC is untouched. */
  const onEthPage2 =
    (fault: (req: PageRequest, body: () => string) => PageOutcome): Answer =>
    (req, body) =>
      req.symbol === 'ETHUSDT' && req.page === 1 ? fault(req, body) : ok(req, body);

  it.each([
    ['timeout', { kind: 'timeout', detail: 'timed out after 5000 ms' }, 'timeout'],
    ['connection reset', { kind: 'network', detail: 'failed within 5000 ms: other side closed' }, 'network'],
    ['HTTP 500', { kind: 'status', status: 500, retryAfterMs: null, detail: '{"code":-1000}' }, 'server_error'],
    ['HTTP 503', { kind: 'status', status: 503, retryAfterMs: null, detail: '{"code":-1008}' }, 'server_error'],
    ['HTTP 403', { kind: 'status', status: 403, retryAfterMs: null, detail: '<html>403 Forbidden</html>' }, 'refused'],
  ] as const)('%s', (_what, outcome, reason) => {
    const d = drive(
      {},
      onEthPage2(() => outcome),
    );
    expect(d.planner.done).toBe(true);
    expect(d.planner.failures.ETHUSDT?.reason).toBe(reason);
    expect(d.planner.failures.ETHUSDT?.detail).toMatch(/^ETHUSDT page 2: /);
    expect(d.planner.stateOf('BTCUSDT')).toBe('done');
    // ETH asked nothing after its failure; BTC all its pages.
    expect(d.sent.filter((r) => r.symbol === 'ETHUSDT').map((r) => r.page)).toEqual([0, 1]);
    expectSameVerdict(d, ['BTCUSDT', 'ETHUSDT']);
  });

  it.each([
    ['a body cut off in the middle', (text: string) => text.slice(0, Math.floor(text.length / 2)), /: invalid_json$/],
    ['a page with rows missing inside', (text: string) => text.replace(/\},\{[^}]*\},\{/, '},{'), /trades are missing/],
    ['a page that does not start where asked', (text: string) => `[${text.slice(text.indexOf('},{') + 2)}`, /expected id|trades are missing/],
    ['a row that is not a trade', (text: string) => text.replace(/"p":"[^"]+"/, '"p":"NaN"'), /: schema_violation:aggTradesRest: 0\.p/],
  ])('partial page: %s', (_what, damage, why) => {
    const d = drive(
      {},
      onEthPage2((req, body) => ({ kind: 'body', text: damage(body()), recvMs: NOW, usedWeight1m: 100 })),
    );
    expect(d.planner.failures.ETHUSDT?.reason).toBe('partial_page');
    expect(d.planner.failures.ETHUSDT?.detail).toMatch(why);
    expect(d.planner.stateOf('BTCUSDT')).toBe('done');
    expectSameVerdict(d, ['BTCUSDT', 'ETHUSDT']);
  });

  it.each([
    [429, 'rate_limited'],
    [418, 'banned'],
  ] as const)('HTTP %i: nothing more is sent; complete symbols keep their backfill, the rest start cold', (status, reason) => {
    const m = market(4);
    // The two thin copies finish in one page before the fault hits BTC's second page.
    const thin = new Map([...m].map(([s, t]) => [s, s === 'BTCUSDT' ? t : t.slice(0, 100)]));
    const d = drive({ m: thin, concurrency: 4 }, (req, body) =>
      req.symbol === 'BTCUSDT' && req.page === 1 ? { kind: 'status', status, retryAfterMs: 7000, detail: '{"code":-1003}' } : ok(req, body),
    );
    expect(d.planner.done).toBe(true);
    expect(d.planner.stateOf('ETHUSDT')).toBe('done');
    expect(d.planner.stateOf('SOLUSDT')).toBe('done');
    expect(d.planner.failures.BTCUSDT).toEqual({ reason, detail: `HTTP ${status} on BTCUSDT page 2; Retry-After 7 s: no more requests until then` });
    const at = d.sent.findIndex((r) => r.symbol === 'BTCUSDT' && r.page === 1);
    expect(d.sent.slice(at + 1)).toEqual([]);
    expect(d.planner.next()).toEqual([]);
    expectSameVerdict(d, [...thin.keys()]);
  });

  it('429 with requests of other symbols in flight: those fail too, and their late answers change nothing', () => {
    const m = market(3);
    const planner = new BackfillPlanner({ symbols: [...m.keys()], nowMs: NOW, spanMs: SPAN, usedWeight1m: 0, pageLimit: 400 });
    const [btc, eth, sol] = planner.next() as [PageRequest, PageRequest, PageRequest];
    planner.onOutcome(btc, { kind: 'status', status: 429, retryAfterMs: null, detail: '' });
    expect(Object.values(planner.failures).map((f) => f.reason)).toEqual(['rate_limited', 'rate_limited', 'rate_limited']);
    planner.onOutcome(eth, { kind: 'body', text: serve(m, eth.path), recvMs: NOW, usedWeight1m: 60 });
    planner.onOutcome(sol, { kind: 'timeout', detail: 'late' });
    expect(planner.failures.ETHUSDT?.reason).toBe('rate_limited');
    expect(planner.failures.SOLUSDT?.detail).toMatch(/HTTP 429 on BTCUSDT page 1: no more requests/);
    expect(planner.done).toBe(true);
  });

  it('deadline: symbols still going fail with `deadline`, finished ones stay backfilled', () => {
    const m = market(2);
    const planner = new BackfillPlanner({ symbols: [...m.keys()], nowMs: NOW, spanMs: SPAN, usedWeight1m: 0, pageLimit: 400 });
    const [btc, eth] = planner.next() as [PageRequest, PageRequest];
    const short = new Map([['ETHUSDT', (m.get('ETHUSDT') ?? []).slice(0, 50)]]);
    planner.onOutcome(eth, { kind: 'body', text: serve(short, eth.path), recvMs: NOW, usedWeight1m: 40 });
    expect(planner.stateOf('ETHUSDT')).toBe('done');
    expect(planner.stateOf('BTCUSDT')).toBe('in_flight');
    planner.expire('the warm start took longer than 15 s');
    expect(planner.failures).toEqual({ BTCUSDT: { reason: 'deadline', detail: 'BTCUSDT: the warm start took longer than 15 s' } });
    expect(planner.done).toBe(true);
    planner.onOutcome(btc, { kind: 'body', text: serve(m, btc.path), recvMs: NOW, usedWeight1m: 40 });
    expect(planner.stateOf('BTCUSDT')).toBe('failed');
    expect(planner.endMarker()).toEqual({ warm_start: 'end', failed: planner.failures });
  });
});

describe('waiting for the live stream (isLive)', () => {
  it('asks for no page of a symbol before its stream delivered a trade; driveBackfill waits (idle) and then goes on', async () => {
    const m = market(2);
    const live = new Set<string>(['ETHUSDT']);
    const planner = new BackfillPlanner({ symbols: [...m.keys()], nowMs: NOW, spanMs: SPAN, usedWeight1m: 0, pageLimit: 400, isLive: (s) => live.has(s) });
    const sent: string[] = [];
    let idles = 0;
    await driveBackfill(
      planner,
      (req) => {
        sent.push(req.symbol);
        return Promise.resolve({ kind: 'body', text: serve(m, req.path), recvMs: NOW, usedWeight1m: null });
      },
      undefined,
      () => {
        // The BTC stream delivers its first trade while the drive waits (ETH is done by then).
        if (++idles === 2) live.add('BTCUSDT');
        return Promise.resolve();
      },
    );
    const ethPages = Math.floor((m.get('ETHUSDT') ?? []).length / 400) + 1;
    expect(idles).toBe(2);
    expect(sent.slice(0, ethPages)).toEqual(Array(ethPages).fill('ETHUSDT'));
    expect(sent.slice(ethPages).every((s) => s === 'BTCUSDT')).toBe(true);
    expect(sent.length).toBeGreaterThan(ethPages);
    expect(planner.done).toBe(true);
    expect(planner.failures).toEqual({});
  });

  it('a symbol whose stream never traded fails at the deadline, and the detail says why no page was asked for', () => {
    const planner = new BackfillPlanner({ symbols: ['BTCUSDT'], nowMs: NOW, usedWeight1m: 0, isLive: () => false });
    expect(planner.next()).toEqual([]);
    expect(planner.done).toBe(false);
    planner.expire('no last page within 15000 ms');
    expect(planner.failures.BTCUSDT).toEqual({
      reason: 'deadline',
      detail: 'BTCUSDT: no last page within 15000 ms (its live stream delivered no trade, so no page was asked for)',
    });
  });
});
