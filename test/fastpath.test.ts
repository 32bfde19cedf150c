/**
 * Differential test: every hand-written fast-path validator accepts exactly what its zod schema
 * (the contract) accepts. Seeds are real payloads (raw trades from the vendored hftbacktest
 * fixture, markPriceUpdate from the hftbacktest 2023 capture when ../shared is present) and
 * literals written here in the exchange's shape (BINANCE.md §4, §6); thousands of seeded
 * mutations of them are checked against all six validator/schema pairs.
 */
import { mulberry32 } from './helpers';
import { describe, expect, it } from 'vitest';
import type { ZodType } from 'zod';
import { AggTradeSchema, ForceOrderSchema, KlineSchema, MarkPriceUpdateSchema, OpenInterestRestSchema, RawTradeSchema } from '../src/binance/schemas';
import { isAggTrade, isForceOrder, isKline, isMarkPriceUpdate, isOpenInterestRest, isRawTrade } from '../src/binance/fastpath';
import { FIXTURE_BTC, FIXTURE_ETH, haveShared, readLines, SHARED_HFT_2023 } from './fixtures/paths';

type Pair = { name: string; fast: (x: unknown) => boolean; schema: ZodType };

const PAIRS: readonly Pair[] = [
  { name: 'aggTrade', fast: isAggTrade, schema: AggTradeSchema },
  { name: 'trade', fast: isRawTrade, schema: RawTradeSchema },
  { name: 'forceOrder', fast: isForceOrder, schema: ForceOrderSchema },
  { name: 'kline', fast: isKline, schema: KlineSchema },
  { name: 'markPriceUpdate', fast: isMarkPriceUpdate, schema: MarkPriceUpdateSchema },
  { name: 'openInterest', fast: isOpenInterestRest, schema: OpenInterestRestSchema },
];

type Obj = Record<string, unknown>;

// ---- seeds ------------------------------------------------------------------------------------

/** Same shape as a cryptofeed-recorded `<symbol>@aggTrade` payload; values written here. */
const AGG_TRADE: Obj = {
  e: 'aggTrade',
  E: 1626992750123,
  a: 16599310,
  s: 'CTKUSDT',
  p: '1.01200',
  q: '25',
  f: 23961340,
  l: 23961342,
  T: 1626992750101,
  m: true,
};
const AGG_TRADE_2026: Obj = { ...AGG_TRADE, s: 'BTCUSDT', p: '97000.10', q: '0.015', nq: '0.015', st: 1 };

/** `<symbol>@forceOrder` (BINANCE.md §4.3); values written here. */
const FORCE_ORDER: Obj = {
  e: 'forceOrder',
  E: 1737997800123,
  o: { s: 'ETHUSDT', S: 'SELL', o: 'LIMIT', f: 'IOC', q: '2.500', p: '3050.12', ap: '3061.40', X: 'FILLED', l: '0.500', z: '2.500', T: 1737997800111 },
};
/** After the CM integration: top-level `st` and `ps`. */
const FORCE_ORDER_ARR: Obj = { ...FORCE_ORDER, st: 1, ps: 'ETHUSDT' };

/** `<symbol>@kline_1m` (BINANCE.md §4.4); values written here. */
const KLINE: Obj = {
  e: 'kline',
  E: 1723161300250,
  s: 'BTCUSDT',
  k: {
    t: 1723161300000,
    T: 1723161359999,
    s: 'BTCUSDT',
    i: '1m',
    f: 5266590000,
    L: 5266590420,
    o: '61790.10',
    c: '61802.40',
    h: '61810.00',
    l: '61785.50',
    v: '153.207',
    n: 421,
    x: false,
    q: '9467123.11820',
    V: '80.004',
    Q: '4943977.22310',
    B: '0',
  },
};

/** REST `GET /fapi/v1/openInterest` (BINANCE.md §6); values written here. */
const OPEN_INTEREST: Obj = { openInterest: '81234.567', symbol: 'BTCUSDT', time: 1723161300123 };

/** The markPriceUpdate example of the hftbacktest capture (MIT, test/fixtures/README.md). */
const MARK_PRICE: Obj = {
  e: 'markPriceUpdate',
  E: 1680652800010,
  s: 'BTCUSDT',
  p: '28155.10000000',
  P: '28141.47600845',
  i: '28165.04857143',
  r: '0.00002760',
  T: 1680652800000,
};

function payloadsOf(lines: readonly string[], event: string, limit: number): Obj[] {
  const out: Obj[] = [];
  for (const line of lines) {
    if (!line.includes(`"e":"${event}"`)) continue;
    const json: unknown = JSON.parse(line.slice(line.indexOf(' ') + 1));
    const data = (json as { data?: unknown }).data;
    if (typeof data === 'object' && data !== null) out.push(data as Obj);
    if (out.length >= limit) break;
  }
  return out;
}

const fixtureTrades = [...payloadsOf(readLines(FIXTURE_BTC), 'trade', 150), ...payloadsOf(readLines(FIXTURE_ETH), 'trade', 150)];
const sharedMarkPrices = haveShared(SHARED_HFT_2023, 'markPriceUpdate seeds from the 2023 hftbacktest capture')
  ? payloadsOf(readLines(SHARED_HFT_2023[0]), 'markPriceUpdate', 99)
  : [];

const SEEDS: readonly Obj[] = [
  AGG_TRADE,
  AGG_TRADE_2026,
  FORCE_ORDER,
  FORCE_ORDER_ARR,
  KLINE,
  OPEN_INTEREST,
  MARK_PRICE,
  ...fixtureTrades,
  ...sharedMarkPrices,
];

// ---- seeded PRNG and mutations ----------------------------------------------------------------

const POOL: readonly unknown[] = [
  null,
  true,
  false,
  0,
  -0,
  1,
  -1,
  1.5,
  -1.5,
  NaN,
  Infinity,
  -Infinity,
  2 ** 53,
  2 ** 53 - 1,
  -(2 ** 53),
  2 ** 53 + 2,
  1e21,
  1e300,
  5e-324,
  1723161256322,
  1.723161256322e12,
  '',
  ' ',
  ' 1',
  '1 ',
  '-0',
  '0',
  '0.0',
  '.5',
  '5.',
  '00.1',
  '1e5',
  '1E5',
  '1e-5',
  '+1',
  '-1',
  '-0.5',
  '0x1A',
  '1_000',
  '1,5',
  'NaN',
  'Infinity',
  '-Infinity',
  '١٢',
  '１',
  '9'.repeat(400),
  `0.${'0'.repeat(400)}1`,
  '61800.30',
  '0.006',
  '-0.00010000',
  'BTCUSDT',
  'btcusdt',
  'BTC-USDT',
  'BTCUSDT_240927',
  'BTCUSD_PERP',
  'B',
  'BTC USDT',
  'A'.repeat(30),
  'A'.repeat(31),
  'BUY',
  'SELL',
  'buy',
  'MARKET',
  'INSURANCE_FUND',
  'ADL',
  'NA',
  'LIMIT',
  'IOC',
  'FILLED',
  'X'.repeat(32),
  'X'.repeat(33),
  'X'.repeat(40),
  'X'.repeat(41),
  '1s',
  '1m',
  '12345',
  'aggTrade',
  'trade',
  'forceOrder',
  'kline',
  'markPriceUpdate',
  '\u0000',
  '1\n',
  'true',
  [],
  [1],
  ['1'],
  {},
  { a: 1 },
  { e: 'trade' },
];

function pick<T>(rnd: () => number, xs: readonly T[]): T {
  return xs[Math.floor(rnd() * xs.length)] as T;
}

/** A value "near" the given one: numeric-string and integer edge variants. */
function nearValue(rnd: () => number, v: unknown): unknown {
  if (typeof v === 'string') {
    const variants = [
      `-${v}`,
      `+${v}`,
      ` ${v}`,
      `${v} `,
      `${v}.`,
      `.${v}`,
      `0${v}`,
      `${v}e5`,
      `${v}0`,
      v.slice(1),
      v.slice(0, -1),
      v.replace('.', ''),
      v.replace('.', ','),
      `${v}.${v}`,
      v.toLowerCase(),
      v.toUpperCase(),
      `${v}_240927`,
      `${v}_PERP`,
      `${v}${'7'.repeat(30)}`,
      '',
    ];
    return pick(rnd, variants);
  }
  if (typeof v === 'number') {
    return pick(rnd, [v + 0.5, -v, v * 1e6, v * 1e9, 0, v + 1, v - 1, String(v), 2 ** 53, Number.MAX_SAFE_INTEGER, v / 1000]);
  }
  if (typeof v === 'boolean') return pick(rnd, [!v, String(v), v ? 1 : 0, null]);
  return pick(rnd, POOL);
}

function clone(x: unknown): unknown {
  return x === undefined ? undefined : structuredClone(x);
}

const EXTRA_KEYS = ['x', 'nq', 'st', 'ps', 'ap', 'B', 'zz', 'E2', 'data', 'stream'];

function mutateObject(rnd: () => number, o: Obj, depth: number): void {
  const keys = Object.keys(o);
  const r = rnd();
  if (depth === 0 && (o.o !== undefined || o.k !== undefined) && r < 0.3) {
    // Nested o (forceOrder) / k (kline) mutations.
    const key = o.o !== undefined && typeof o.o === 'object' ? 'o' : 'k';
    const inner = o[key];
    if (typeof inner === 'object' && inner !== null && !Array.isArray(inner) && rnd() < 0.85) mutateObject(rnd, inner as Obj, depth + 1);
    else o[key] = pick(rnd, POOL);
    return;
  }
  const key = keys.length > 0 ? pick(rnd, keys) : 'x';
  if (r < 0.45) delete o[key];
  else if (r < 0.65) o[key] = clone(pick(rnd, POOL));
  else if (r < 0.9) o[key] = nearValue(rnd, o[key]);
  else o[pick(rnd, EXTRA_KEYS)] = clone(pick(rnd, POOL));
}

function mutate(rnd: () => number, seed: Obj): unknown {
  if (rnd() < 0.02) return clone(pick(rnd, POOL));
  const x = structuredClone(seed);
  const n = 1 + Math.floor(rnd() * 3);
  for (let i = 0; i < n; i++) mutateObject(rnd, x, 0);
  return x;
}

function show(x: unknown): string {
  return JSON.stringify(x, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? `<${String(v)}>` : v));
}

function disagreements(inputs: readonly unknown[]): string[] {
  const bad: string[] = [];
  for (const x of inputs) {
    for (const p of PAIRS) {
      const f = p.fast(x);
      const z = p.schema.safeParse(x).success;
      if (f !== z) bad.push(`${p.name}: fast=${f} zod=${z} for ${show(x).slice(0, 400)}`);
    }
  }
  return bad;
}

// ---- tests ------------------------------------------------------------------------------------

describe('fast-path validators agree with their zod schemas', () => {
  it('has real seeds: raw trades from the fixture parse on both paths', () => {
    expect(fixtureTrades.length).toBe(300);
    for (const t of fixtureTrades) {
      expect(isRawTrade(t)).toBe(true);
      expect(RawTradeSchema.safeParse(t).success).toBe(true);
    }
  });

  it('accepts every seed with its own validator and rejects it with the others', () => {
    const own: Record<string, string> = { aggTrade: 'aggTrade', trade: 'trade', forceOrder: 'forceOrder', kline: 'kline', markPriceUpdate: 'markPriceUpdate' };
    for (const s of SEEDS) {
      const mine = typeof s.e === 'string' ? own[s.e] : 'openInterest';
      for (const p of PAIRS) {
        expect(p.fast(s), `${p.name} on ${show(s)}`).toBe(p.name === mine);
        expect(p.schema.safeParse(s).success, `${p.name} schema on ${show(s)}`).toBe(p.name === mine);
      }
    }
  });

  it('agrees on hand-picked edge cases', () => {
    const edges: unknown[] = [
      undefined,
      null,
      0,
      'x',
      [],
      [AGG_TRADE],
      {},
      { ...AGG_TRADE, E: 2 ** 53 },
      { ...AGG_TRADE, E: 2 ** 53 - 1 },
      { ...AGG_TRADE, a: -0 },
      { ...AGG_TRADE, E: -0 },
      { ...AGG_TRADE, st: 2 ** 53 },
      { ...AGG_TRADE, st: -1 },
      { ...AGG_TRADE, st: 1.5 },
      { ...AGG_TRADE, nq: '' },
      { ...AGG_TRADE, nq: undefined },
      { ...AGG_TRADE, nq: null },
      { ...AGG_TRADE, p: '0' },
      { ...AGG_TRADE, p: '0.000' },
      { ...AGG_TRADE, p: '0.001' },
      { ...AGG_TRADE, q: '0' },
      { ...AGG_TRADE, p: '١' },
      { ...MARK_PRICE, r: '' },
      { ...MARK_PRICE, r: '-0.00010000' },
      { ...MARK_PRICE, r: '-' },
      { ...MARK_PRICE, T: 0 },
      { ...MARK_PRICE, i: '0' },
      { ...KLINE, k: { ...(KLINE.k as Obj), f: -1, L: -1 } },
      { ...KLINE, k: { ...(KLINE.k as Obj), i: '' } },
      { ...KLINE, k: { ...(KLINE.k as Obj), i: '12345' } },
      { ...KLINE, k: [KLINE.k] },
      { ...KLINE, k: null },
      { ...FORCE_ORDER, o: { ...(FORCE_ORDER.o as Obj), o: '', f: '', X: '' } },
      { ...FORCE_ORDER, o: { ...(FORCE_ORDER.o as Obj), S: 'buy' } },
      { ...FORCE_ORDER, ps: 'P'.repeat(41) },
      { ...FORCE_ORDER, st: 2 },
      { ...FORCE_ORDER, o: { ...(FORCE_ORDER.o as Obj), s: 'BTCUSD_PERP' }, st: 2, ps: 'BTCUSD' },
      { ...OPEN_INTEREST, symbol: 'BTCUSDT_240927' },
      { ...OPEN_INTEREST, time: 1.5 },
      { ...OPEN_INTEREST, openInterest: '0' },
    ];
    expect(disagreements(edges)).toEqual([]);
  });

  it('agrees on 36,000 seeded mutations (6,000 per payload kind), each checked against all six pairs', () => {
    const rnd = mulberry32(0x5eed_2024);
    const bySeedKind = new Map<string, Obj[]>();
    for (const s of SEEDS) {
      const k = typeof s.e === 'string' ? s.e : 'openInterest';
      bySeedKind.set(k, [...(bySeedKind.get(k) ?? []), s]);
    }
    expect([...bySeedKind.keys()].sort()).toEqual(['aggTrade', 'forceOrder', 'kline', 'markPriceUpdate', 'openInterest', 'trade']);
    const inputs: unknown[] = [];
    for (const seeds of bySeedKind.values()) {
      for (let i = 0; i < 6_000; i++) inputs.push(mutate(rnd, pick(rnd, seeds)));
    }
    const bad = disagreements(inputs);
    expect(bad.slice(0, 10)).toEqual([]);
    expect(bad.length).toBe(0);
    // The mutations are not trivially all rejected: a fair share stays valid (e.g. extra fields).
    const accepted = inputs.filter((x) => PAIRS.some((p) => p.fast(x))).length;
    expect(accepted).toBeGreaterThan(inputs.length * 0.05);
    expect(accepted).toBeLessThan(inputs.length * 0.9);
  });
});
