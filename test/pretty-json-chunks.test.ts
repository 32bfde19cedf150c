import { describe, expect, it } from 'vitest';
import { prettyJsonChunks } from '../src/text/pretty-json-chunks';

const native = (v: unknown): string => `${JSON.stringify(v, null, 2)}\n`;
const joined = (v: unknown, chunk?: number): string => Buffer.concat(prettyJsonChunks(v, chunk)).toString('utf8');

describe('prettyJsonChunks: the snapshot file text in chunks, byte for byte JSON.stringify(v, null, 2)', () => {
  const cases: [string, unknown][] = [
    ['primitives', [1, -0, 1.5e-7, 2 ** 60, 'x', true, false, null]],
    ['a bare string', 'line\nbreak "quoted" \\ \u2028'],
    ['a bare number', 42],
    ['empty containers at every depth', { a: {}, b: [], c: { d: {}, e: [], f: { g: {}, h: [] } }, i: [[], {}, [[]], [{}]] }],
    [
      'members JSON.stringify leaves out, and array holes it turns into null',
      { u: undefined, f: () => 1, s: Symbol('x'), keep: 1, arr: [undefined, () => 1, Symbol('y'), 2] },
    ],
    ['only left-out members', { u: undefined }],
    ['NaN and Infinity', { n: Number.NaN, i: Number.POSITIVE_INFINITY, deep: { deeper: { deepest: [Number.NEGATIVE_INFINITY] } } }],
    [
      'toJSON at the top levels and below',
      { t: { toJSON: (k: string) => `key ${k}` }, list: [{ toJSON: () => ({ x: 1 }) }], d: new Date(0), deep: { a: { b: new Date(1) } } },
    ],
    ['non-ASCII text', { sym: '1000PEPEUSDT', note: 'Ⓢ-M · 日本 · 😀', keys: { ключ: 'значение' } }],
    ['numeric-looking keys keep JSON.stringify order', { b: 1, 2: 'two', a: 3, 1: 'one' }],
  ];
  for (const [name, v] of cases) {
    it(name, () => {
      expect(joined(v)).toBe(native(v));
      // The smallest chunks: every push its own buffer, so no cut can fall in the wrong place.
      expect(joined(v, 1)).toBe(native(v));
    });
  }

  it('a snapshot-shaped tree (raw buffers of 500 rows × 10 symbols): same text, cut into buffers of about the chunk size', () => {
    const row = (i: number) => ({
      timestamp: 1_700_000_000 + i / 7,
      symbol: 'BTCUSDT',
      price: 61_000 + i / 10,
      base_qty: 0.001 * i,
      quote_qty: 61 * i,
      side: i % 2 ? 'BUY' : 'SELL',
    });
    const trades = Object.fromEntries(Array.from({ length: 10 }, (_, s) => [`S${s}USDT`, Array.from({ length: 500 }, (_, i) => row(i + s))]));
    const snap = {
      timestamp: 1.5,
      counters: { dropped_events: { a: 1 } },
      raw_buffers: { trades, liquidations: {} },
      promoted_events: [{ id: 'e1', sides: ['BUY'] }],
    };
    const chunks = prettyJsonChunks(snap, 64 * 1024);
    expect(Buffer.concat(chunks).toString('utf8')).toBe(native(snap));
    expect(chunks.length).toBeGreaterThan(5);
    // No chunk is much larger than the size asked for: one symbol's rows (one native piece) at most beyond it.
    for (const c of chunks) expect(c.length).toBeLessThan(64 * 1024 + 120 * 1024);
  });

  it('refuses a value with no JSON text, as a file must have some', () => {
    expect(() => prettyJsonChunks(undefined)).toThrow(/no JSON text/);
  });
});
