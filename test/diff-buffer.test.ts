/**
 * The diffs a waiting book holds (src/binance/book/diff-buffer): on the recorded depth they come
 * back exactly as they went in, ten full buffers of them take a fraction of the heap the parsed
 * diffs took (the memory-day rig's early 66 MB live heap: ten books waiting behind the warm start
 * with 512 parsed diffs each), and the level bound holds whatever size the exchange makes a diff.
 */
import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';
import { describe, expect, it } from 'vitest';
import { BOOK } from '../src/binance/book/constants';
import type { DepthSnapshot, DepthUpdate } from '../src/binance/book/contracts';
import { DiffBuffer } from '../src/binance/book/diff-buffer';
import { OrderBook } from '../src/binance/book/order-book';
import { depthInput } from './book-helpers';
import { FIXTURE_BTC } from './fixtures/paths';

const input = depthInput([FIXTURE_BTC]);
const diffTexts = input.frames.filter(({ frame }) => !frame.text.startsWith('{"lastUpdateId"')).map(({ frame }) => frame.text);

/** A fresh parse of the n-th recorded diff: its own strings, as every frame off the socket has. */
function parsedDiff(n: number): DepthUpdate {
  return (JSON.parse(diffTexts[n % diffTexts.length] as string) as { data: DepthUpdate }).data;
}

describe('DiffBuffer', () => {
  it('gives back every recorded diff exactly as it was pushed, oldest first', () => {
    const buf = new DiffBuffer({ maxDiffs: input.diffs.length, maxLevels: Number.MAX_SAFE_INTEGER });
    for (const d of input.diffs) expect(buf.push(d)).toBe(0);
    expect(buf.length).toBe(input.diffs.length);
    const back = [...buf.take()];
    expect(buf.length).toBe(0);
    expect(buf.levels).toBe(0);
    expect(back).toEqual(input.diffs.map((d) => ({ e: d.e, E: d.E, T: d.T, s: d.s, U: d.U, u: d.u, pu: d.pu, b: d.b, a: d.a })));
  });

  it('ten books of 512 recorded diffs take under a third of the heap the parsed diffs took', () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const books = 10;
    const heapOf = (fill: () => unknown): number => {
      gc();
      const before = process.memoryUsage().heapUsed;
      const kept = fill();
      gc();
      const after = process.memoryUsage().heapUsed;
      expect(kept).toBeDefined();
      return after - before;
    };
    const parsed = heapOf(() => Array.from({ length: books }, (_, b) => Array.from({ length: BOOK.MAX_BUFFERED_DIFFS }, (_, i) => parsedDiff(b * 997 + i))));
    const packed = heapOf(() =>
      Array.from({ length: books }, (_, b) => {
        const buf = new DiffBuffer();
        for (let i = 0; i < BOOK.MAX_BUFFERED_DIFFS; i++) expect(buf.push(parsedDiff(b * 997 + i))).toBe(0);
        return buf;
      }),
    );
    // Measured on these vendored diffs: parsed 24.5 MB, packed 6.0 MB; the simulator's 58-level ones held 45 MB parsed.
    expect(parsed).toBeGreaterThan(15e6);
    expect(packed).toBeLessThan(parsed / 3);
  });

  it('keeps at most MAX_BUFFERED_LEVELS levels however large the diffs, counts what it drops, and the book still syncs', () => {
    const book = new OrderBook('BTCUSDT', { sampleDepthBps: 10 });
    const T0 = 1_723_161_256_000;
    const wide = (u: number): DepthUpdate => {
      const b = Array.from({ length: 500 }, (_, i): [string, string] => [`${60_000 - i}.0`, `${(u % 7) + 1}.000`]);
      const a = Array.from({ length: 500 }, (_, i): [string, string] => [`${60_001 + i}.0`, '1.000']);
      return { e: 'depthUpdate', E: T0 + u, T: T0 + u, s: 'BTCUSDT', U: 10 * u + 1, u: 10 * u + 10, pu: 10 * u, b, a };
    };
    const perDiff = 1000;
    const kept = Math.floor(BOOK.MAX_BUFFERED_LEVELS / perDiff);
    for (let u = 0; u < 200; u++) book.onDiff(wide(u), u * 100);
    expect(book.bufferedDiffs).toBe(kept);
    expect(book.counters.buffer_overflows).toBe(200 - kept);
    // A snapshot inside the kept stretch bridges: the newest diffs were kept.
    const L = 10 * 190 + 5;
    const snap: DepthSnapshot = { lastUpdateId: L, bids: [['60000.0', '1.000']], asks: [['60001.0', '1.000']] };
    book.onSnapshot(snap, 20_000);
    expect(book.state).toBe('LIVE');
    expect(book.lastUpdateId).toBe(10 * 199 + 10);
    expect(book.bufferedDiffs).toBe(0);
  });
});
