/**
 * The order book on real depth (hftbacktest `@depth@0ms` captures, a REST snapshot near the start
 * of each): every book syncs and keeps the `pu` chain unbroken; single deleted, duplicated or
 * reordered diffs make it resync exactly once, after which it agrees level for level with a naive
 * reference book; and the sync rules one by one on small hand-made inputs.
 */
import { describe, expect, it } from 'vitest';
import { BookRoom } from '../src/binance/book/book-room';
import { BOOK } from '../src/binance/book/constants';
import type { DepthSnapshot, DepthUpdate } from '../src/binance/book/contracts';
import { OrderBook, type SnapshotRequest } from '../src/binance/book/order-book';
import { bridgeIndex, type DepthInput, depthCaptures, depthInput, type NaiveBook, referenceAfter } from './book-helpers';

const BPS = 10;

type Item = { kind: 'diff'; d: DepthUpdate; recv: number } | { kind: 'snap'; s: DepthSnapshot; recv: number };

/** The capture's depth as book inputs, in arrival order. */
function itemsOf(input: DepthInput): Item[] {
  let i = 0;
  return input.frames.map(({ frame }) =>
    frame.text.startsWith('{"lastUpdateId"')
      ? { kind: 'snap', s: input.snapshot, recv: frame.recv_ms }
      : { kind: 'diff', d: input.diffs[i++] as DepthUpdate, recv: frame.recv_ms },
  );
}

function feed(book: OrderBook, items: readonly Item[], requests: SnapshotRequest[] = []): SnapshotRequest[] {
  for (const it of items) {
    const r = it.kind === 'diff' ? book.onDiff(it.d, it.recv) : book.onSnapshot(it.s, it.recv);
    if (r !== null) requests.push(r);
  }
  return requests;
}

/** The diff of frame number `at` (a diff frame). */
function itemsOfFrame(items: readonly Item[], at: number): DepthUpdate {
  const it = items[at];
  if (it?.kind !== 'diff') throw new Error(`frame ${at} is not a diff`);
  return it.d;
}

/** Position in `items` of diff number `n`. */
function itemOfDiff(items: readonly Item[], input: DepthInput, n: number): number {
  const d = input.diffs[n];
  const at = items.findIndex((x) => x.kind === 'diff' && x.d === d);
  if (at < 0) throw new Error(`diff ${n} not in the items`);
  return at;
}

/** How far mid wandered from its final value during a clean replay (relative). */
function midDrift(input: DepthInput, symbol: string): number {
  const book = new OrderBook(symbol, { sampleDepthBps: BPS });
  const mids: number[] = [];
  for (const it of itemsOf(input)) {
    if (it.kind === 'diff') book.onDiff(it.d, it.recv);
    else book.onSnapshot(it.s, it.recv);
    const m = book.mid();
    if (m !== null) mids.push(m);
  }
  const end = mids[mids.length - 1] as number;
  return Math.max(...mids.map((m) => Math.abs(m / end - 1)));
}

/**
 * Level for level: every level the book holds is in the reference with the same quantity string,
 * and inside `band` of mid (where pruning can never have removed a level) the two are equal.
 */
function expectAgrees(book: OrderBook, ref: NaiveBook, band: number): void {
  expect(book.state).toBe('LIVE');
  const mid = ref.mid();
  expect(book.mid()).toBe(mid);
  for (const side of ['bids', 'asks'] as const) {
    const refSide = ref[side];
    const held = book.levels(side).map((l) => ({ price: l.price, qty: l.qty }));
    expect(held.filter((l) => refSide.get(l.price) !== l.qty)).toEqual([]);
    const inBand = (p: string): boolean => Math.abs(Number(p) / mid - 1) <= band;
    const want = ref.sorted(side).filter((l) => inBand(l.price));
    expect(want.length).toBeGreaterThan(100);
    expect(held.filter((l) => inBand(l.price))).toEqual(want);
  }
  expect(book.bestBid()?.price).toBe(ref.best('bids'));
  expect(book.bestAsk()?.price).toBe(ref.best('asks'));
}

type Fault = 'delete' | 'duplicate' | 'reorder';

/** The capture's items with one fault applied to diff `m`. */
function withFault(items: readonly Item[], input: DepthInput, m: number, fault: Fault): Item[] {
  const at = itemOfDiff(items, input, m);
  const out = [...items];
  if (fault === 'delete') out.splice(at, 1);
  else if (fault === 'duplicate') out.splice(at + 1, 0, { ...(items[at] as Item) });
  else {
    const next = itemOfDiff(items, input, m + 1);
    out[at] = items[next] as Item;
    out[next] = items[at] as Item;
  }
  return out;
}

describe.each(depthCaptures())('order book on real depth: $name', ({ symbol, files, faults }) => {
  const input = depthInput(files);
  const items = itemsOf(input);
  const last = input.diffs.length - 1;
  const refEnd = referenceAfter(input, last);
  const band = BOOK.PRUNE_BAND - 2 * midDrift(input, symbol);

  it('replayed as frames, the book syncs once and never breaks the pu chain', () => {
    const room = new BookRoom({ symbols: ['BTCUSDT', 'ETHUSDT'], sampleDepthBps: BPS });
    for (const { frame, file } of input.frames) expect(room.ingestFrame(frame, file).kind).not.toBe('malformed');
    const book = room.book(symbol) as OrderBook;
    const c = book.counters;
    expect(book.state).toBe('LIVE');
    expect(c.snapshots_applied).toBe(1);
    expect(c.snapshots_stale).toBe(0);
    expect(c.pu_gaps).toBe(0);
    expect(c.resyncs).toBe(0);
    expect(c.crossed).toBe(0);
    expect(c.diffs_received).toBe(input.diffs.length);
    expect(c.diffs_applied).toBe(input.diffs.length - bridgeIndex(input));
    expect(c.diffs_before_snapshot + c.diffs_applied).toBe(input.diffs.length);
    expect(book.lastUpdateId).toBe(input.diffs[last]?.u);
    expect(room.counters.snapshots_unattributed).toBe(0);
  });

  it('agrees level for level with the naive reference at the end', () => {
    const book = new OrderBook(symbol, { sampleDepthBps: BPS });
    feed(book, items);
    expect(band).toBeGreaterThan(0.04);
    expectAgrees(book, refEnd, band);
  });

  it('prunes levels beyond ±5 % of mid, and counts them', () => {
    const book = new OrderBook(symbol, { sampleDepthBps: BPS });
    feed(book, items);
    const mid = book.mid() as number;
    expect(book.counters.levels_pruned).toBeGreaterThan(0);
    const all = [...book.levels('bids'), ...book.levels('asks')];
    expect(all.filter((l) => Math.abs(l.p / mid - 1) > BOOK.PRUNE_BAND)).toEqual([]);
    // The reference kept what the book pruned: far levels (e.g. bids at 1000.00) are really there.
    expect([...refEnd.bids.keys()].some((p) => Number(p) < mid * (1 - BOOK.PRUNE_BAND))).toBe(true);
  });

  if (!faults) return;

  describe.each(['delete', 'duplicate', 'reorder'] as const)('one %s diff', (fault) => {
    // Faults at three places: ≥ 12 s in (past the first request's 10 s interval), the middle (for
    // two files: the first diff of the second), near the end.
    const t0 = items[0]?.recv as number;
    const early = input.diffs.findIndex((_, n) => n > bridgeIndex(input) && (items[itemOfDiff(items, input, n)] as Item).recv >= t0 + 12_000);
    const secondFile = input.frames.findIndex((f) => f.file === 1);
    const middle = secondFile < 0 ? Math.floor(last / 2) : input.diffs.indexOf(itemsOfFrame(items, secondFile));
    const places = [early, middle, last - 40];

    it.each(places)(`at diff %i: one resync, then level-for-level agreement`, (m) => {
      const faulty = withFault(items, input, m, fault);
      // The later snapshot point: the reference just before diff P, stamped U of P (so P bridges it).
      const P = m + 10;
      const snap = referenceAfter(input, P - 1).toSnapshot((input.diffs[P] as DepthUpdate).U);
      const at = faulty.indexOf(items[itemOfDiff(items, input, P)] as Item);
      const book = new OrderBook(symbol, { sampleDepthBps: BPS });
      const requests = feed(book, faulty.slice(0, at));
      expect(book.state).toBe('RESYNCING');
      expect(book.lastResyncReason).toBe('pu_gap');
      expect(requests.filter((r) => r.reason === 'pu_gap')).toHaveLength(1);
      feed(book, [{ kind: 'snap', s: snap, recv: (faulty[at] as Item).recv }], requests);
      feed(book, faulty.slice(at), requests);
      const c = book.counters;
      expect({ resyncs: c.resyncs, pu_gaps: c.pu_gaps, stale: c.snapshots_stale, applied: c.snapshots_applied }).toEqual({
        resyncs: 1,
        pu_gaps: 1,
        stale: 0,
        applied: 2,
      });
      expect(requests.map((r) => r.reason)).toEqual(input.diffsBeforeSnapshot >= 2 ? ['initial', 'pu_gap'] : ['pu_gap']);
      expectAgrees(book, refEnd, band);
    });
  });

  it('a later snapshot delivered after the diffs that follow it still bridges from the buffer', () => {
    const m = Math.floor(last / 3);
    const faulty = withFault(items, input, m, 'delete');
    const P = m + 10;
    const snap = referenceAfter(input, P - 1).toSnapshot((input.diffs[P] as DepthUpdate).U);
    // Delivered five diffs late: P … P+4 wait in the buffer, P bridges, the rest apply in order.
    const at = faulty.indexOf(items[itemOfDiff(items, input, P + 5)] as Item);
    const book = new OrderBook(symbol, { sampleDepthBps: BPS });
    feed(book, faulty.slice(0, at));
    expect(book.bufferedDiffs).toBeGreaterThanOrEqual(5);
    feed(book, [{ kind: 'snap', s: snap, recv: (faulty[at] as Item).recv }, ...faulty.slice(at)]);
    expect(book.counters.resyncs).toBe(1);
    expect(book.counters.diffs_before_snapshot).toBeGreaterThan(0);
    expectAgrees(book, refEnd, band);
  });
});

// ---- the rules one by one, on small hand-made inputs -------------------------------------------

const SYM = 'BTCUSDT';
const T0 = 1_723_161_256_000;

function diff(U: number, u: number, pu: number, b: [string, string][] = [], a: [string, string][] = [], E = T0 + u): DepthUpdate {
  return { e: 'depthUpdate', E, T: E, s: SYM, U, u, pu, b, a };
}
const SNAP: DepthSnapshot = {
  lastUpdateId: 105,
  bids: [
    ['100.00', '1.000'],
    ['99.90', '2.000'],
  ],
  asks: [
    ['100.10', '1.500'],
    ['100.20', '3.000'],
  ],
};

describe('order book sync rules', () => {
  it('asks for a snapshot once two diffs are buffered, and goes LIVE on U ≤ lastUpdateId ≤ u', () => {
    const book = new OrderBook(SYM, { sampleDepthBps: BPS });
    expect(book.onDiff(diff(90, 100, 89), 0)).toBeNull();
    const r = book.onDiff(diff(101, 104, 100), 10);
    expect(r).toEqual({ type: 'fetch_snapshot', symbol: SYM, reason: 'initial', limit: 1000, weight: 20 });
    expect(book.onDiff(diff(105, 110, 104, [['100.00', '0.500']]), 20)).toBeNull();
    expect(book.state).toBe('SYNCING');
    expect(book.onSnapshot(SNAP, 30)).toBeNull();
    expect(book.state).toBe('LIVE');
    expect(book.counters.diffs_before_snapshot).toBe(2);
    expect(book.levels('bids')).toEqual([
      { price: '100.00', p: 100, qty: '0.500', q: 0.5 },
      { price: '99.90', p: 99.9, qty: '2.000', q: 2 },
    ]);
    expect(book.bestAsk()?.price).toBe('100.10');
  });

  it('accepts a first diff that continues the snapshot directly (pu == lastUpdateId)', () => {
    const book = new OrderBook(SYM, { sampleDepthBps: BPS });
    book.onSnapshot(SNAP, 0);
    book.onDiff(diff(107, 109, 105), 1);
    expect(book.state).toBe('LIVE');
  });

  it('a snapshot no diff bridges is stale: discarded, counted, and the next request waits out the 10 s', () => {
    const book = new OrderBook(SYM, { sampleDepthBps: BPS });
    book.onDiff(diff(110, 120, 109), 0);
    expect(book.onDiff(diff(121, 130, 120), 100)?.reason).toBe('initial');
    // lastUpdateId 105 < U of every buffered diff: a gap between snapshot and stream.
    expect(book.onSnapshot(SNAP, 200)).toBeNull();
    expect(book.counters.snapshots_stale).toBe(1);
    expect(book.state).toBe('SYNCING');
    expect(book.bestBid()).toBeUndefined();
    expect(book.onDiff(diff(131, 140, 130), 5_000)).toBeNull();
    expect(book.counters.snapshot_requests_deferred).toBe(1);
    expect(book.onDiff(diff(141, 150, 140), 10_099)).toBeNull();
    expect(book.onDiff(diff(151, 160, 150), 10_100)?.reason).toBe('stale_snapshot');
    // The buffer was kept: a fresh snapshot bridges it.
    book.onSnapshot({ ...SNAP, lastUpdateId: 135 }, 10_200);
    expect(book.state).toBe('LIVE');
    expect(book.lastUpdateId).toBe(160);
  });

  it('a request the driver sent late (queued behind others): the next one waits 10 s from the sending, not from the asking', () => {
    const book = new OrderBook(SYM, { sampleDepthBps: BPS });
    book.onDiff(diff(110, 120, 109), 0);
    expect(book.onDiff(diff(121, 130, 120), 100)?.reason).toBe('initial');
    book.snapshotSent(400);
    // Sent at 400, so a second request may leave at 10 400, not at 10 100.
    expect(book.onSnapshot(SNAP, 500)).toBeNull();
    expect(book.counters.snapshots_stale).toBe(1);
    expect(book.onDiff(diff(131, 140, 130), 10_100)).toBeNull();
    expect(book.poll(10_399)).toBeNull();
    expect(book.poll(10_400)?.reason).toBe('stale_snapshot');
    // Nothing awaited: a sending reported now changes nothing.
    book.onSnapshot({ ...SNAP, lastUpdateId: 135 }, 10_500);
    book.snapshotSent(20_000);
    expect(book.state).toBe('LIVE');
  });

  it('a pu break on a live book resyncs once, with the reason, and never asks twice within 10 s', () => {
    const book = new OrderBook(SYM, { sampleDepthBps: BPS });
    book.onDiff(diff(100, 104, 99), 0);
    book.onDiff(diff(105, 110, 104), 1);
    book.onSnapshot(SNAP, 2);
    expect(book.state).toBe('LIVE');
    // pu 111 ≠ previous u 110: one update event was lost.
    expect(book.onDiff(diff(112, 115, 111), 3_000)).toBeNull();
    expect(book.state).toBe('RESYNCING');
    expect(book.counters.pu_gaps).toBe(1);
    expect(book.resyncReasons.pu_gap).toBe(1);
    expect(book.bestBid()).toBeUndefined();
    // The initial request went out at t = 1, so the next may leave at 10 001, not before.
    expect(book.onDiff(diff(116, 118, 115), 10_000)).toBeNull();
    expect(book.counters.snapshot_requests_deferred).toBe(1);
    expect(book.onDiff(diff(119, 120, 118), 10_001)?.reason).toBe('pu_gap');
    expect(book.counters.resyncs).toBe(1);
    expect(book.counters.snapshot_requests).toBe(2);
  });

  it('an unanswered request is retried after the interval; a reported failure waits for it too', () => {
    const book = new OrderBook(SYM, { sampleDepthBps: BPS });
    book.onDiff(diff(100, 104, 99), 0);
    expect(book.onDiff(diff(105, 110, 104), 0)?.reason).toBe('initial');
    expect(book.poll(9_999)).toBeNull();
    expect(book.poll(10_000)?.reason).toBe('retry');
    expect(book.counters.snapshot_failures).toBe(1);
    expect(book.snapshotFailed(10_500)).toBeNull();
    expect(book.counters.snapshot_failures).toBe(2);
    expect(book.poll(19_999)).toBeNull();
    expect(book.poll(20_000)?.reason).toBe('retry');
    expect(book.counters.snapshot_requests).toBe(3);
  });

  it('a reconnect invalidates a live book; a snapshot while live is ignored and counted', () => {
    const book = new OrderBook(SYM, { sampleDepthBps: BPS });
    book.onSnapshot(SNAP, 0);
    book.onDiff(diff(100, 106, 99), 1);
    expect(book.state).toBe('LIVE');
    expect(book.onSnapshot(SNAP, 2)).toBeNull();
    expect(book.counters.snapshots_ignored).toBe(1);
    book.invalidate(20_000);
    expect(book.state).toBe('RESYNCING');
    expect(book.lastResyncReason).toBe('reconnect');
    expect(book.bufferedDiffs).toBe(0);
  });

  it('the buffer keeps the newest 512 diffs and counts the overflow', () => {
    const book = new OrderBook(SYM, { sampleDepthBps: BPS });
    for (let i = 0; i < 600; i++) book.onDiff(diff(10 * i + 1, 10 * i + 10, 10 * i), i);
    expect(book.bufferedDiffs).toBe(BOOK.MAX_BUFFERED_DIFFS);
    expect(book.counters.buffer_overflows).toBe(600 - BOOK.MAX_BUFFERED_DIFFS);
  });

  it('a price without an exact key resyncs the book instead of corrupting it', () => {
    const book = new OrderBook(SYM, { sampleDepthBps: BPS });
    book.onSnapshot(SNAP, 0);
    book.onDiff(diff(100, 106, 99), 1);
    // 16 significant digits: two such prices could share one double.
    book.onDiff(diff(107, 108, 106, [['100.0000000000001', '1']]), 2);
    expect(book.state).toBe('RESYNCING');
    expect(book.lastResyncReason).toBe('bad_level');
    expect(book.counters.bad_levels).toBe(1);
  });

  it('the same price written with another number of decimals is the same level', () => {
    const book = new OrderBook(SYM, { sampleDepthBps: BPS });
    book.onSnapshot(SNAP, 0);
    book.onDiff(diff(100, 106, 99, [['100.0', '0']]), 1);
    expect(book.levels('bids').map((l) => l.price)).toEqual(['99.90']);
  });

  it('depth within N bps of mid sums price × quantity of the levels inside the band only', () => {
    const book = new OrderBook(SYM, { sampleDepthBps: BPS });
    book.onSnapshot(SNAP, 0);
    book.onDiff(diff(100, 106, 99), 1);
    // mid 100.05; 10 bps = ±0.10005: bids ≥ 99.94995 (100.00 only), asks ≤ 100.15005 (100.10 only).
    expect(book.depthWithinBps(10)).toEqual({ bid: 100 * 1, ask: 100.1 * 1.5 });
    expect(book.depthWithinBps(20)).toEqual({ bid: 100 * 1 + 99.9 * 2, ask: 100.1 * 1.5 + 100.2 * 3 });
  });
});
