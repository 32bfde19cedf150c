/**
 * The book room: frames in, one outcome each (diff, snapshot, held/unattributed snapshot, not
 * allowed, malformed with a reason, not depth); and the book "as of a window's end" on real depth,
 * checked against a naive reference that applied exactly the diffs with `E ≤ window_end`.
 */
import { describe, expect, it } from 'vitest';
import { BookRoom } from '../src/binance/book/book-room';
import { BOOK } from '../src/binance/book/constants';
import type { DepthUpdate } from '../src/binance/book/contracts';
import type { Frame } from '../src/core/source';
import type { BookSample } from '../src/core/policy/book-sample';
import { bridgeIndex, depthInput, NaiveBook } from './book-helpers';
import { FIXTURE_BTC } from './fixtures/paths';

const BPS = 10;
const T0 = 1_723_161_256_000;

function diffPayload(symbol: string, U: number, u: number, pu: number, E = T0 + u): DepthUpdate {
  return { e: 'depthUpdate', E, T: E, s: symbol, U, u, pu, b: [['100.00', '1.000']], a: [['100.10', '2.000']] };
}
function envelope(stream: string, data: unknown, recv = T0): Frame {
  return { recv_ms: recv, source: 'ws:/public/stream', text: JSON.stringify({ stream, data }) };
}
const SNAP_BODY = JSON.stringify({ lastUpdateId: 105, E: T0, T: T0, bids: [['100.00', '1.000']], asks: [['100.10', '1.000']] });

describe('book room: one outcome per frame', () => {
  const room = (): BookRoom => new BookRoom({ symbols: ['BTCUSDT', 'ETHUSDT'], sampleDepthBps: BPS });

  it('routes diff streams and skips everything else unparsed, partial depth included', () => {
    const r = room();
    expect(r.ingestFrame(envelope('btcusdt@depth@100ms', diffPayload('BTCUSDT', 90, 100, 89)))).toEqual({ kind: 'diff', symbol: 'BTCUSDT' });
    expect(r.ingestFrame(envelope('btcusdt@depth', diffPayload('BTCUSDT', 101, 102, 100)))).toEqual({ kind: 'diff', symbol: 'BTCUSDT' });
    // Partial depth carries whole top-N books under the same event name: not a diff stream.
    expect(r.ingestFrame(envelope('btcusdt@depth5@100ms', diffPayload('BTCUSDT', 1, 2, 0))).kind).toBe('not_depth');
    expect(r.ingestFrame(envelope('btcusdt@depth20', diffPayload('BTCUSDT', 1, 2, 0))).kind).toBe('not_depth');
    expect(r.ingestFrame(envelope('btcusdt@aggTrade', {})).kind).toBe('not_depth');
    expect(r.ingestFrame({ recv_ms: T0, source: 'rest:/fapi/v1/openInterest?symbol=BTCUSDT', text: '{}' }).kind).toBe('not_depth');
    // A raw (non-combined) connection names the stream in its path.
    const raw = { recv_ms: T0, source: 'ws:/public/ws/ethusdt@depth@100ms', text: JSON.stringify(diffPayload('ETHUSDT', 1, 2, 0)) };
    expect(r.ingestFrame(raw)).toEqual({ kind: 'diff', symbol: 'ETHUSDT' });
    expect(r.counters).toMatchObject({ depth_frames: 3, diffs: 3, malformed: 0 });
    // Two diffs buffered: the BTC book asked for its snapshot.
    expect(r.takeRequests()).toEqual([{ type: 'fetch_snapshot', symbol: 'BTCUSDT', reason: 'initial', limit: 1000, weight: 20 }]);
  });

  it('names what is wrong with a bad depth frame', () => {
    const r = room();
    const bad = { ...diffPayload('BTCUSDT', 1, 2, 0), b: [['100.00', '-1']] };
    expect(r.ingestFrame(envelope('btcusdt@depth@100ms', bad))).toEqual({
      kind: 'malformed',
      reason: 'schema_violation:depthUpdate: b.0.1: not a non-negative decimal string',
    });
    expect(r.ingestFrame(envelope('btcusdt@depth@100ms', diffPayload('ETHUSDT', 1, 2, 0)))).toEqual({
      kind: 'malformed',
      reason: 'stream_symbol_mismatch:BTCUSDT:ETHUSDT',
    });
    expect(r.ingestFrame({ recv_ms: T0, source: 'ws:/public/stream', text: '{"stream":"btcusdt@depth@100ms","data":{' })).toEqual({
      kind: 'malformed',
      reason: 'invalid_json:depthUpdate',
    });
    const rest = { recv_ms: T0, source: 'rest:/fapi/v1/depth?symbol=BTCUSDT&limit=1000', text: '{"lastUpdateId":-1,"bids":[],"asks":[]}' };
    expect(r.ingestFrame(rest).kind).toBe('malformed');
    expect(r.counters.malformed).toBe(4);
  });

  it('a labelled REST body goes to the symbol its request named; other symbols are counted, not booked', () => {
    const r = room();
    const f = (symbol: string): Frame => ({ recv_ms: T0, source: `rest:/fapi/v1/depth?symbol=${symbol}&limit=1000`, text: SNAP_BODY });
    expect(r.ingestFrame(f('BTCUSDT'))).toEqual({ kind: 'snapshot', symbol: 'BTCUSDT' });
    expect(r.book('BTCUSDT')?.counters.snapshots_applied).toBe(1);
    expect(r.ingestFrame(f('XRPUSDT'))).toEqual({ kind: 'not_allowed', symbol: 'XRPUSDT' });
    expect(r.ingestFrame(envelope('xrpusdt@depth@100ms', diffPayload('XRPUSDT', 1, 2, 0)))).toEqual({ kind: 'not_allowed', symbol: 'XRPUSDT' });
    expect(r.counters.not_allowed).toBe(2);
  });

  it('an unlabelled REST body (foreign capture) waits for its own file’s depth symbol', () => {
    const r = room();
    const unlabelled = (file: number): [Frame, number] => [{ recv_ms: T0, source: '', text: SNAP_BODY }, file];
    expect(r.ingestFrame(...unlabelled(0)).kind).toBe('snapshot_held');
    // A diff of another file does not claim it.
    r.ingestFrame(envelope('ethusdt@depth@0ms', diffPayload('ETHUSDT', 100, 106, 99)), 1);
    expect(r.book('ETHUSDT')?.state).toBe('SYNCING');
    // File 0's first diff: the held body is delivered first, then the diff bridges it.
    r.ingestFrame(envelope('btcusdt@depth@0ms', diffPayload('BTCUSDT', 100, 106, 99)), 0);
    expect(r.book('BTCUSDT')?.state).toBe('LIVE');
    // Once file 1 shows a second depth symbol, its unlabelled bodies cannot be attributed.
    r.ingestFrame(envelope('btcusdt@depth@0ms', diffPayload('BTCUSDT', 107, 108, 106)), 1);
    expect(r.ingestFrame(...unlabelled(1)).kind).toBe('snapshot_unattributed');
    expect(r.counters.snapshots_unattributed).toBe(1);
  });

  it('a reconnect invalidates every book, and the status section reports it', () => {
    const r = room();
    r.ingestFrame({ recv_ms: T0, source: 'rest:/fapi/v1/depth?symbol=BTCUSDT&limit=1000', text: SNAP_BODY });
    r.ingestFrame(envelope('btcusdt@depth@100ms', diffPayload('BTCUSDT', 100, 106, 99), T0 + 5));
    expect(r.status(T0 + 1005).per_symbol.BTCUSDT).toMatchObject({ state: 'LIVE', best_bid: '100.00', best_ask: '100.10', age_ms: 1000, diffs_applied: 1 });
    r.invalidateAll(T0 + 2000);
    expect(r.status(T0 + 2000).per_symbol.BTCUSDT).toMatchObject({ state: 'RESYNCING', best_bid: null, resyncs: 1, last_resync_reason: 'reconnect' });
  });
});

describe('book as of a window end, on real depth', () => {
  const input = depthInput([FIXTURE_BTC]);
  const W = 1000;

  /** What the book must say as of `end`: the reference after the diffs with E ≤ end, if the snapshot had arrived by then. */
  function expected(end: number): BookSample {
    const firstAfter = input.diffs.findIndex((d) => d.E > end);
    const applied = firstAfter < 0 ? input.diffs.length : firstAfter;
    // Arrival position of the first diff after `end`, against the snapshot's.
    const snapFrame = input.frames.findIndex((f) => f.frame.text.startsWith('{"lastUpdateId"'));
    const diffFrames = input.frames.flatMap((f, i) => (f.frame.text.startsWith('{"lastUpdateId"') ? [] : [i]));
    const arrival = firstAfter < 0 ? Infinity : (diffFrames[firstAfter] as number);
    if (snapFrame > arrival || applied <= bridgeIndex(input)) return { live: false, reason: 'SYNCING' };
    const ref = new NaiveBook(input.snapshot);
    for (let i = bridgeIndex(input); i < applied; i++) ref.apply(input.diffs[i] as DepthUpdate);
    return {
      live: true,
      bid_depth: ref.depth('bids', BPS),
      ask_depth: ref.depth('asks', BPS),
      depth_bps: BPS,
      mid: ref.mid(),
      best_bid: ref.best('bids'),
      best_ask: ref.best('asks'),
      last_event_ms: (input.diffs[applied - 1] as DepthUpdate).E,
    };
  }

  it('event times only ever increase in this capture (the premise of a prefix reference)', () => {
    expect(input.diffs.every((d, i) => i === 0 || d.E >= (input.diffs[i - 1] as DepthUpdate).E)).toBe(true);
  });

  it('equals the reference for every window end, whether asked right away or much later', () => {
    const room = new BookRoom({ symbols: ['BTCUSDT'], sampleDepthBps: BPS });
    const first = Math.ceil((input.diffs[0] as DepthUpdate).E / W) * W;
    const lastE = (input.diffs[input.diffs.length - 1] as DepthUpdate).E;
    const soon = new Map<number, BookSample>();
    const later = new Map<number, BookSample>();
    let next = first;
    for (const { frame, file } of input.frames) {
      room.ingestFrame(frame, file);
      // As a window close would: once the depth stream is 1.5 s past an end, ask for it.
      const E = frame.text.startsWith('{"lastUpdateId"') ? 0 : (JSON.parse(frame.text) as { data: DepthUpdate }).data.E;
      while (next + 1500 < E) {
        soon.set(next, room.sampleAt('BTCUSDT', next));
        // The same end asked again 30 windows later (still within the samples kept).
        const old = next - 30 * W;
        if (old >= first) later.set(old, room.sampleAt('BTCUSDT', old));
        next += W;
      }
    }
    expect(soon.size).toBeGreaterThan(60);
    const live = [...soon.values()].filter((s) => s.live).length;
    expect(live).toBeGreaterThan(60);
    for (const [end, s] of soon) expect({ end, s }).toEqual({ end, s: expected(end) });
    for (const [end, s] of later) expect(s).toEqual(soon.get(end));
    // At or past the newest diff's window end, the current book answers.
    const lastEnd = Math.ceil(lastE / W) * W;
    expect(room.sampleAt('BTCUSDT', lastEnd + 5 * W)).toEqual(expected(lastEnd));
    // Beyond the samples kept, the answer is "not sampled", never a wrong book.
    expect(BOOK.AS_OF_SAMPLES_KEPT).toBeLessThan(soon.size);
    expect(room.sampleAt('BTCUSDT', first)).toEqual({ live: false, reason: 'not_sampled' });
    expect(room.book('BTCUSDT')?.samplesEvicted).toBeGreaterThan(0);
  });

  it('forgetting closed windows keeps memory at the open ones', () => {
    const room = new BookRoom({ symbols: ['BTCUSDT'], sampleDepthBps: BPS });
    for (const { frame, file } of input.frames) room.ingestFrame(frame, file);
    const lastE = (input.diffs[input.diffs.length - 1] as DepthUpdate).E;
    const before = room.sampleAt('BTCUSDT', Math.ceil(lastE / W) * W - 3 * W);
    expect(before.live).toBe(true);
    room.forgetSamplesBefore(Math.ceil(lastE / W) * W - 3 * W);
    expect(room.sampleAt('BTCUSDT', Math.ceil(lastE / W) * W - 3 * W)).toEqual(before);
    expect(room.sampleAt('BTCUSDT', Math.ceil(lastE / W) * W - 4 * W)).toEqual({ live: false, reason: 'not_sampled' });
  });
});
