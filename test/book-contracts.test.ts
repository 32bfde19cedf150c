/**
 * Differential test of the depth validators: `isDepthUpdate` ≡ DepthUpdateSchema and
 * `isDepthSnapshot` ≡ DepthSnapshotSchema, on the real diffs and REST bodies of the vendored
 * hftbacktest extracts and on seeded mutations of them (fields, levels, level entries).
 */
import { describe, expect, it } from 'vitest';
import type { ZodType } from 'zod';
import { DepthSnapshotSchema, DepthUpdateSchema, isDepthSnapshot, isDepthUpdate } from '../src/binance/book/contracts';
import { depthInput } from './book-helpers';
import { FIXTURE_BTC, FIXTURE_ETH } from './fixtures/paths';
import { mulberry32 } from './helpers';

type Obj = Record<string, unknown>;
const PAIRS: readonly { name: string; fast: (x: unknown) => boolean; schema: ZodType }[] = [
  { name: 'depthUpdate', fast: isDepthUpdate, schema: DepthUpdateSchema },
  { name: 'depthSnapshot', fast: isDepthSnapshot, schema: DepthSnapshotSchema },
];

const inputs = [depthInput([FIXTURE_BTC]), depthInput([FIXTURE_ETH])];
const DIFFS = inputs.flatMap((i) => i.diffs.slice(0, 200)) as unknown as Obj[];
/** The REST bodies are large (1000 levels a side); mutations work on a 20-level cut of them. */
const SNAPSHOTS = inputs.map((i) => ({ ...i.snapshot, bids: i.snapshot.bids.slice(0, 20), asks: i.snapshot.asks.slice(0, 20) })) as unknown as Obj[];

const VALUES: readonly unknown[] = [
  null,
  undefined,
  true,
  0,
  -1,
  1.5,
  NaN,
  Infinity,
  2 ** 53,
  2 ** 53 - 1,
  '',
  '0',
  '0.000',
  '-1',
  '1e5',
  '.5',
  '5.',
  ' 1',
  '61800.30',
  'BTCUSDT',
  'btcusdt',
  'BTCUSD_PERP',
  'depthUpdate',
  [],
  [[]],
  [['1']],
  [['1', '2', '3']],
  [[1, 2]],
  [['1', '2']],
  {},
];

function pick<T>(rnd: () => number, xs: readonly T[]): T {
  return xs[Math.floor(rnd() * xs.length)] as T;
}

/** Change one thing: a top-level field, a whole level list, one level, or one entry of a level. */
function mutate(rnd: () => number, seed: Obj): unknown {
  const x = structuredClone(seed);
  const keys = Object.keys(x);
  const listKeys = keys.filter((k) => Array.isArray(x[k]));
  const r = rnd();
  if (r < 0.3 || listKeys.length === 0) {
    const k = pick(rnd, [...keys, 'extra']);
    if (rnd() < 0.3) delete x[k];
    else x[k] = structuredClone(pick(rnd, VALUES));
    return x;
  }
  const list = x[pick(rnd, listKeys)] as unknown[];
  if (list.length === 0 || r < 0.4) {
    list.push(structuredClone(pick(rnd, VALUES)));
    return x;
  }
  const i = Math.floor(rnd() * list.length);
  const level = list[i];
  if (r < 0.6 || !Array.isArray(level)) list[i] = structuredClone(pick(rnd, VALUES));
  else level[rnd() < 0.5 ? 0 : 1] = structuredClone(pick(rnd, VALUES));
  return x;
}

function disagreements(xs: readonly unknown[]): string[] {
  const bad: string[] = [];
  for (const x of xs) for (const p of PAIRS) if (p.fast(x) !== p.schema.safeParse(x).success) bad.push(`${p.name}: ${JSON.stringify(x).slice(0, 300)}`);
  return bad;
}

describe('depth validators agree with their zod schemas', () => {
  it('accept every real diff and REST body (each with its own validator only)', () => {
    expect(DIFFS).toHaveLength(400);
    for (const d of DIFFS) expect([isDepthUpdate(d), isDepthSnapshot(d)]).toEqual([true, false]);
    for (const i of inputs) {
      expect(isDepthSnapshot(i.snapshot)).toBe(true);
      expect(i.snapshot.bids).toHaveLength(1000);
    }
    expect(disagreements([...DIFFS, ...inputs.map((i) => i.snapshot)])).toEqual([]);
  });

  it('agree on 20,000 seeded mutations', () => {
    const rnd = mulberry32(0xb00c);
    const xs: unknown[] = [];
    for (let i = 0; i < 10_000; i++) xs.push(mutate(rnd, pick(rnd, DIFFS)));
    for (let i = 0; i < 10_000; i++) xs.push(mutate(rnd, pick(rnd, SNAPSHOTS)));
    expect(disagreements(xs).slice(0, 5)).toEqual([]);
    // Not all rejected, not all accepted.
    const accepted = xs.filter((x) => PAIRS.some((p) => p.fast(x))).length;
    expect(accepted).toBeGreaterThan(xs.length * 0.1);
    expect(accepted).toBeLessThan(xs.length * 0.9);
  });
});
