/**
 * The real collector's order books against the simulator's depth faults (issue 12 item 2), books
 * on as by default: `<s>@depth@100ms` on /public and `GET /fapi/v1/depth` snapshots through the
 * shared REST client, simulator and collector on one manual clock (collector-harness.ts), so every
 * limit below is clock time and a loaded machine only makes a case take longer.
 *
 * For each fault: the book goes LIVE → RESYNCING → LIVE exactly once (seen at every step of the
 * clock and in the published snapshots), the resync is counted in the snapshot's book section and
 * shown in the health panel's books item, the snapshot requests keep their pacing (one per symbol
 * per 10 s at most, never more than two in flight — the slow-REST fault makes requests overlap so
 * the limit is met, not just never reached), and afterwards the book agrees level for level with
 * the simulator's own at the same update id. The other books are untouched.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { BOOK } from '../src/binance/book/constants';
import type { DepthRequest } from '../src/simulator/types';
import { healthModel } from '../src/widgets/view-model';
import { type Rig, startRig } from './collector-harness';
import { expectSameBook } from './depth-client';

let rig: Rig | null = null;

afterEach(async () => {
  await rig?.stop();
  rig = null;
});

type State = 'SYNCING' | 'LIVE' | 'RESYNCING';

/** Book states per symbol, as the book holds them after every step and as each published snapshot says; consecutive repeats folded. */
class StateLog {
  readonly book = new Map<string, State[]>();
  readonly published = new Map<string, State[]>();
  private seenSeq = -1;

  constructor(
    private readonly r: Rig,
    private readonly symbols: readonly string[],
  ) {
    // From the newest snapshot on: the older ones kept by the rig are from the initial sync.
    this.seenSeq = r.latest().snapshot_seq - 1;
  }

  sample(): void {
    for (const s of this.symbols) {
      const st = this.r.collector.orderBook(s)?.state;
      if (st !== undefined) push(this.book, s, st);
    }
    for (const snap of this.r.snapshots) {
      if (snap.snapshot_seq <= this.seenSeq) continue;
      this.seenSeq = snap.snapshot_seq;
      for (const s of this.symbols) {
        const st = snap.books?.per_symbol[s]?.state;
        if (st !== undefined) push(this.published, s, st);
      }
    }
  }
}

function push(m: Map<string, State[]>, s: string, st: State): void {
  const l = m.get(s) ?? [];
  if (l[l.length - 1] !== st) l.push(st);
  m.set(s, l);
}

/** Let `ms` of clock pass, sampling the states after every step. */
async function runLogged(r: Rig, log: StateLog, ms: number): Promise<void> {
  const until = r.clock.now() + ms;
  await r.until(
    `${ms} ms of clock`,
    () => {
      log.sample();
      return r.clock.now() >= until;
    },
    ms + 1_000,
  );
}

async function allLive(r: Rig): Promise<void> {
  await r.until('every book LIVE', () => r.sim.symbols.every((s) => r.collector.orderBook(s)?.state === 'LIVE'), 30_000);
}

/** Most `GET /fapi/v1/depth` requests the simulator held at once (received, response not yet written). */
function maxInFlight(reqs: readonly DepthRequest[]): number {
  let max = 0;
  for (const r of reqs) {
    const t = r.received_ms;
    max = Math.max(max, reqs.filter((x) => x.received_ms <= t && (x.answered_ms === null || x.answered_ms > t)).length);
  }
  return max;
}

/** Every symbol's snapshot requests at least MIN_SNAPSHOT_INTERVAL_MS apart; the request count per symbol. */
function expectPaced(reqs: readonly DepthRequest[]): Map<string, number> {
  const by = new Map<string, number[]>();
  for (const r of reqs) by.set(r.symbol, [...(by.get(r.symbol) ?? []), r.received_ms]);
  for (const [s, times] of by)
    for (let i = 1; i < times.length; i++) expect((times[i] as number) - (times[i - 1] as number), s).toBeGreaterThanOrEqual(BOOK.MIN_SNAPSHOT_INTERVAL_MS);
  expect(maxInFlight(reqs)).toBeLessThanOrEqual(2);
  return new Map([...by].map(([s, t]) => [s, t.length]));
}

/**
 * The collector's book of `symbol` equals the simulator's at one update id: with the clock held,
 * the collector has read every diff the simulator sent, so both stand at the same `u` (a step or
 * two more when a diff was in flight).
 */
async function expectAgrees(r: Rig, symbol: string): Promise<void> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const book = r.collector.orderBook(symbol);
    const sim = r.sim.book(symbol);
    if (book === undefined || sim === null) throw new Error(`${symbol}: no book`);
    if (book.state === 'LIVE' && book.lastUpdateId === sim.lastUpdateId) {
      const served = (r.sim.stats().depthRequests ?? []).filter((x) => x.symbol === symbol && x.last_update_id !== null);
      const last = served[served.length - 1];
      if (last === undefined) throw new Error(`${symbol}: LIVE without a snapshot served`);
      const lv = (side: 'bids' | 'asks'): [string, string][] => book.levels(side).map((l) => [l.price, l.qty]);
      expect(expectSameBook({ sim, client: { bids: lv('bids'), asks: lv('asks') }, snapshot: last }, symbol)).toBeGreaterThan(200);
      return;
    }
    await r.run(100);
  }
  throw new Error(`${symbol}: the collector's book never stood at the simulator's update id`);
}

describe('collector books under depth faults (simulator on 127.0.0.1, manual clock)', () => {
  it('depth_pu_break on four books at once (slow snapshots): each resyncs exactly once, two snapshots in flight at most, then agrees with the exchange', async () => {
    rig = await startRig();
    const r = rig;
    await allLive(r);
    const broken = ['BTCUSDT', 'ETHUSDT', 'SOLUSDT', 'BNBUSDT'];
    const untouched = r.sim.symbols.filter((s) => !broken.includes(s));
    const log = new StateLog(r, r.sim.symbols);
    log.sample();
    const before = (r.sim.stats().depthRequests ?? []).length;
    // Each resync snapshot takes 1.5 s to answer: four wanted at once must queue behind two.
    r.sim.fault({ kind: 'rest_slow', path: '/fapi/v1/depth', delayMs: 1_500, count: broken.length });
    for (const s of broken) r.sim.fault({ kind: 'depth_pu_break', symbol: s });
    let healthDuring: string | null = null;
    await r.until(
      'the broken books resynced and LIVE again',
      () => {
        log.sample();
        const line = healthModel(r.latest()).lines[1]?.text ?? '';
        if (line.includes('RESYNCING')) healthDuring ??= line;
        return broken.every((s) => r.collector.orderBook(s)?.counters.resyncs === 1 && r.collector.orderBook(s)?.state === 'LIVE');
      },
      30_000,
    );
    // Past the 10 s interval: nothing more happens to any book.
    await runLogged(r, log, 12_000);

    for (const s of broken) {
      expect(log.book.get(s), s).toEqual(['LIVE', 'RESYNCING', 'LIVE']);
      expect(log.published.get(s), s).toEqual(['LIVE', 'RESYNCING', 'LIVE']);
      expect(r.latest().books?.per_symbol[s]).toMatchObject({
        state: 'LIVE',
        pu_gaps: 1,
        resyncs: 1,
        last_resync_reason: 'pu_gap',
        snapshots_applied: 2,
        snapshots_stale: 0,
      });
      expect(r.sim.stats().depth?.[s]?.dropped).toBe(1);
    }
    for (const s of untouched) {
      expect(log.book.get(s), s).toEqual(['LIVE']);
      expect(r.latest().books?.per_symbol[s]).toMatchObject({ state: 'LIVE', pu_gaps: 0, resyncs: 0, snapshots_applied: 1 });
    }
    // The health panel's books item named the resyncing books while they were, and counts them after.
    expect(healthDuring).toMatch(/Books: \d+\/10 LIVE \(.*RESYNCING/);
    expect(healthModel(r.latest()).lines[1]?.text).toContain('Books: 10/10 LIVE, resyncs 4, pu gaps 4');

    const reqs = r.sim.stats().depthRequests ?? [];
    const counts = expectPaced(reqs);
    for (const s of broken) expect(counts.get(s), s).toBe(2);
    for (const s of untouched) expect(counts.get(s), s).toBe(1);
    // The four resync requests overlapped: the queue held them to two at a time.
    expect(maxInFlight(reqs.slice(before))).toBe(2);
    for (const s of broken) await expectAgrees(r, s);
  });

  it('depth_stale_snapshot meeting a resync: the stale body is discarded, asked again no sooner than 10 s later, one resync, then agrees', async () => {
    rig = await startRig();
    const r = rig;
    await allLive(r);
    // Let the exchange's book run long enough that a stale body (50 diffs = 5 s behind) predates anything a resyncing book buffers.
    await r.run(8_000);
    const s = 'XRPUSDT';
    const log = new StateLog(r, r.sim.symbols);
    log.sample();
    r.sim.fault({ kind: 'depth_stale_snapshot', symbol: s, count: 1 });
    r.sim.fault({ kind: 'depth_pu_break', symbol: s });
    await r.until(
      `${s} resynced and LIVE again`,
      () => {
        log.sample();
        const b = r.collector.orderBook(s);
        return b?.counters.resyncs === 1 && b.state === 'LIVE';
      },
      40_000,
    );
    await runLogged(r, log, 12_000);

    expect(log.book.get(s)).toEqual(['LIVE', 'RESYNCING', 'LIVE']);
    expect(log.published.get(s)).toEqual(['LIVE', 'RESYNCING', 'LIVE']);
    for (const o of r.sim.symbols.filter((x) => x !== s)) expect(log.book.get(o), o).toEqual(['LIVE']);
    expect(r.latest().books?.per_symbol[s]).toMatchObject({
      state: 'LIVE',
      pu_gaps: 1,
      resyncs: 1,
      last_resync_reason: 'pu_gap',
      snapshots_stale: 1,
      snapshot_requests: 3,
      snapshots_applied: 3,
    });
    expect(healthModel(r.latest()).lines[1]?.text).toContain('Books: 10/10 LIVE, resyncs 1, pu gaps 1');

    const reqs = (r.sim.stats().depthRequests ?? []).filter((x) => x.symbol === s);
    expectPaced(r.sim.stats().depthRequests ?? []);
    // The initial snapshot, the stale one, and the one that bridged.
    expect(reqs).toHaveLength(3);
    await expectAgrees(r, s);
  });
});
