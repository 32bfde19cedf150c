/**
 * Differential test of the envelope scanner (src/binance/scan.ts) against JSON.parse: whenever the
 * scanner answers, its answer is what JSON.parse gives (same keys in the same order, same values,
 * -0 included), and normalizeFrame with the scanner returns exactly what it returns without it.
 * The same for the trade reader (src/binance/trade-scan.ts), which goes straight from the text to
 * the TradeEvent: whenever it answers, JSON.parse + the fast path + the mapping give that very event
 * (same keys in the same order, the same doubles), and it answers for every good live-shape trade.
 * Seeds are real frames (raw trades of the vendored hftbacktest fixture), the simulator's aggTrade
 * frames (the live shape, with `nq` and `st`) and other streams; tens of thousands of text-level
 * mutations of them probe every way out of the fast path.
 */
import { describe, expect, it } from 'vitest';
import { normalizeFrame } from '../src/binance/normalize';
import { scanEnvelope } from '../src/binance/scan';
import { scanTradeEvent } from '../src/binance/trade-scan';
import type { Frame } from '../src/core/source';
import { aggTradeFrame, envelope, forceOrderFrame, markPriceFrame } from '../src/simulator/frames';
import { FIXTURE_BTC, FIXTURE_ETH, readLines } from './fixtures/paths';
import { mulberry32 } from './helpers';

function framesOf(file: string, limit: number): string[] {
  return readLines(file)
    .filter((l) => l.includes('@trade"'))
    .slice(0, limit)
    .map((l) => l.slice(l.indexOf(' ') + 1));
}

const AGG_PLAIN = envelope(
  'btcusdt@aggTrade',
  '{"e":"aggTrade","E":1626992750123,"a":16599310,"s":"BTCUSDT","p":"61800.10","q":"25","f":23961340,"l":23961342,"T":1626992750101,"m":true}',
);
const AGG_ST_ONLY = envelope(
  'btcusdt@aggTrade',
  '{"e":"aggTrade","E":1626992750123,"a":16599310,"s":"BTCUSDT","p":"61800.10","q":"25","f":23961340,"l":23961342,"T":1626992750101,"m":false,"st":1}',
);

const SEEDS: readonly string[] = [
  ...framesOf(FIXTURE_BTC, 200),
  ...framesOf(FIXTURE_ETH, 200),
  envelope('ethusdt@aggTrade', aggTradeFrame(1767700000123, 991, 'ETHUSDT', '2681.10', '0.250', 5001, 5003, 1767700000120, true)),
  envelope('1000pepeusdt@aggTrade', aggTradeFrame(1767700000456, 7, '1000PEPEUSDT', '0.0123400', '150000', 70, 70, 1767700000450, false)),
  AGG_PLAIN,
  AGG_ST_ONLY,
  envelope('btcusdt@markPrice@1s', markPriceFrame(1767700001000, 'BTCUSDT', '97000.10', '96990.00', '97001.00', '96999.50', '0.00010000', 1767700008000)),
  envelope(
    '!forceOrder@arr',
    forceOrderFrame(1767700002000, {
      symbol: 'ETHUSDT',
      side: 'SELL',
      q: '2.500',
      p: '3050.12',
      ap: '3061.40',
      l: '0.500',
      z: '2.500',
      T: 1767700001990,
      st: 1,
      ps: 'ETHUSDT',
    }),
  ),
];

/** Characters a mutation inserts: JSON structure, number parts, escapes, whitespace, non-ASCII, control. */
const ALPHABET = [
  '"',
  '\\',
  ' ',
  '\t',
  '\n',
  '{',
  '}',
  '[',
  ']',
  ',',
  ':',
  '.',
  'e',
  'E',
  '-',
  '+',
  '0',
  '1',
  '9',
  'a',
  't',
  'r',
  'u',
  'f',
  'l',
  'n',
  '\u00e9',
  '\u0001',
  '\u2028',
];
const SNIPPETS = [
  '"__proto__":1,',
  '"E":1,',
  '"nq":"1",',
  '"x":{"y":1},',
  '"x":[1],',
  '"x":null,',
  '"x":-0,',
  '"x":12345678901234567890,',
  '"x":1.5,',
  '"x":1e3,',
  '"x":0.1,',
  '"x":01,',
];

function mutate(rnd: () => number, text: string): string {
  const at = Math.floor(rnd() * (text.length + 1));
  const r = rnd();
  if (r < 0.2) return text.slice(0, at) + text.slice(at + 1); // delete
  if (r < 0.4) return text.slice(0, at) + (ALPHABET[Math.floor(rnd() * ALPHABET.length)] as string) + text.slice(at); // insert
  if (r < 0.6) return text.slice(0, at) + (ALPHABET[Math.floor(rnd() * ALPHABET.length)] as string) + text.slice(at + 1); // replace
  if (r < 0.7) return text.slice(0, at); // truncate
  if (r < 0.85) {
    // a whole key/value pair at the start of the payload
    const data = text.indexOf('"data":{');
    if (data < 0) return text;
    const p = data + '"data":{'.length;
    return text.slice(0, p) + (SNIPPETS[Math.floor(rnd() * SNIPPETS.length)] as string) + text.slice(p);
  }
  // a digit run changed: leading zeros, long integers, signs
  return text.replace(/:(\d+)/, (_m, d: string) => `:${['0', '-', '00', '999999999999999999'][Math.floor(rnd() * 4)] as string}${d}`);
}

/** `JSON.parse` of the text as the normalizer would read it, or null when it throws. */
function reference(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return null;
  }
}

/** Same keys in the same order and the same values (Object.is, so -0 ≠ 0), recursively. */
function sameAsParsed(a: unknown, b: unknown): boolean {
  if (typeof a !== 'object' || a === null || typeof b !== 'object' || b === null) return Object.is(a, b);
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length || ka.some((k, i) => k !== kb[i])) return false;
  if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return false;
  return ka.every((k) => sameAsParsed((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

function check(text: string): { scanned: boolean; read: boolean; problems: string[] } {
  const problems: string[] = [];
  const s = scanEnvelope(text);
  if (s !== null) {
    const ref = reference(text);
    if (ref === null) problems.push(`scanner accepted what JSON.parse rejects: ${JSON.stringify(text)}`);
    else if (!sameAsParsed({ stream: s.stream, data: s.data }, ref)) problems.push(`scanner differs from JSON.parse: ${JSON.stringify(text)}`);
  }
  const frame: Frame = { recv_ms: 1767700000500, source: 'ws:/market/stream', text };
  const fast = normalizeFrame(frame);
  const slow = normalizeFrame(frame, false);
  if (!sameAsParsed(fast, slow))
    problems.push(`normalizeFrame differs with the scanner: ${JSON.stringify(text)}\n  fast ${JSON.stringify(fast)}\n  slow ${JSON.stringify(slow)}`);
  const read = scanTradeEvent(text, frame.recv_ms);
  if (read !== null && !(slow.kind === 'event' && sameAsParsed(read, slow.event)))
    problems.push(
      `trade reader answered where the general path differs: ${JSON.stringify(text)}\n  read ${JSON.stringify(read)}\n  slow ${JSON.stringify(slow)}`,
    );
  return { scanned: s !== null, read: read !== null, problems };
}

describe('envelope scanner ≡ JSON.parse', () => {
  it('takes every real seed frame and answers what JSON.parse answers', () => {
    for (const text of SEEDS) {
      const r = check(text);
      expect(r.problems).toEqual([]);
      // The nested forceOrder payload is the general parser's job; every flat seed is scanned.
      expect(r.scanned, text).toBe(!text.includes('forceOrder'));
      // Every good trade in the exchange's shape is read straight to its event.
      const slow = normalizeFrame({ recv_ms: 1767700000500, source: 'ws:/market/stream', text }, false);
      expect(r.read, text).toBe(slow.kind === 'event' && slow.event.type === 'TRADE');
    }
  });

  it('agrees on 40,000 seeded mutations, and both answers occur often', () => {
    const rnd = mulberry32(20261125);
    const problems: string[] = [];
    let scanned = 0;
    let read = 0;
    let parsedOnly = 0;
    for (let i = 0; i < 40_000; i++) {
      let text = SEEDS[Math.floor(rnd() * SEEDS.length)] as string;
      const edits = 1 + Math.floor(rnd() * 3);
      for (let k = 0; k < edits; k++) text = mutate(rnd, text);
      const r = check(text);
      problems.push(...r.problems);
      if (r.read) read++;
      if (r.scanned) scanned++;
      else if (reference(text) !== null) parsedOnly++;
    }
    expect(problems.slice(0, 5)).toEqual([]);
    expect(scanned).toBeGreaterThan(4_000);
    expect(read).toBeGreaterThan(1_000);
    expect(parsedOnly).toBeGreaterThan(2_000);
  });

  it('edge cases: -0, long integers, duplicate keys, __proto__, escapes, whitespace, trailing text', () => {
    const base = '{"stream":"btcusdt@aggTrade","data":{';
    const cases: [string, boolean][] = [
      [`${base}"x":-0}}`, true],
      [`${base}"x":12345678901234567890}}`, true],
      [`${base}"x":9007199254740993}}`, true],
      [`${base}"x":-9007199254740993}}`, true],
      [`${base}"x":1,"x":2}}`, true],
      [`${base}}}`, true],
      [`${base}"":true,"y":false,"z":null}}`, true],
      [`${base}"__proto__":{"polluted":1}}}`, false],
      [`${base}"__proto__":1}}`, false],
      [`${base}"x":"a\\"b"}}`, false],
      [`${base}"x":"caf\u00e9"}}`, false],
      [`${base}"x": 1}}`, false],
      [`${base}"x":1}} `, false],
      [`${base}"x":1}}x`, false],
      [`${base}"x":01}}`, false],
      [`${base}"x":1.0}}`, false],
      [`${base}"x":-}}`, false],
      [`${base}"x":tru}}`, false],
      [`${base}"x":1,}}`, false],
      [`${base}"x":1}`, false],
      // Truncated inside a number, in the general scan and in the trade shape: null, and no hang.
      [`${base}"x":12`, false],
      ['{"stream":"btcusdt@trade","data":{"e":"trade","E":1723161256', false],
      ['{"stream":"btcusdt@aggTrade","data":{"e":"aggTrade","E":1,"a":2,"s":"BTCUSDT","p":"1","q":"1","f":3,"l":3,"T":1,"m":true,"st":1', false],
    ];
    for (const [text, scannable] of cases) {
      const r = check(text);
      expect(r.problems, text).toEqual([]);
      expect(r.scanned, text).toBe(scannable);
    }
    expect(Object.is(scanEnvelope(`${base}"x":-0}}`)?.data.x, -0)).toBe(true);
    expect(scanEnvelope(`${base}"x":1,"x":2}}`)?.data).toEqual({ x: 2 });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('trade reader: straight to the event only where the general path gives that event', () => {
  const raw = (stream: string, s: string, p: string, q: string, extra: { E?: string; t?: string; X?: string } = {}): string =>
    `{"stream":"${stream}","data":{"e":"trade","E":${extra.E ?? '1723161256322'},"T":1723161256322,"s":"${s}","t":${extra.t ?? '5266583935'},"p":"${p}","q":"${q}","X":"${extra.X ?? 'MARKET'}","m":false}}`;

  it('answers, or leaves the frame to the general path, exactly where it should', () => {
    const agg = (tail: string): string =>
      `{"stream":"btcusdt@aggTrade","data":{"e":"aggTrade","E":1767700000123,"a":991,"s":"BTCUSDT","p":"97000.10","q":"0.250"${tail}}}`;
    const cases: [string, boolean][] = [
      [raw('btcusdt@trade', 'BTCUSDT', '61800.30', '0.006'), true],
      // Upper-case stream names name the symbol too (streamNamesSymbol folds case).
      [raw('BTCUSDT@trade', 'BTCUSDT', '61800.30', '0.006'), true],
      [raw('1000pepeusdt@trade', '1000PEPEUSDT', '0.0123400', '150000'), true],
      // 'P' is '0' + 0x20: a digit is never case-folded.
      [raw('Pbtcusdt@trade', '0BTCUSDT', '1', '1'), false],
      [raw('ethusdt@trade', 'BTCUSDT', '61800.30', '0.006'), false],
      [raw('btcusd_perp@trade', 'BTCUSD_PERP', '61800.30', '0.006'), false],
      [raw('btcusdt@trade', 'BTCUSDT', '61800.30', '0.006', { X: 'LIMIT' }), false],
      [raw('btcusdt@trade', 'BTCUSDT', '0.000', '0.006'), false],
      [raw('btcusdt@trade', 'BTCUSDT', '61800.30', '0'), true],
      [raw('btcusdt@trade', 'BTCUSDT', '1234567890.12345', '1'), true],
      // 16 digits: Number()'s own rounding decides, through the general path.
      [raw('btcusdt@trade', 'BTCUSDT', '1234567890.123456', '1'), false],
      [raw('btcusdt@trade', 'BTCUSDT', '00.10', '1'), true],
      [raw('btcusdt@trade', 'BTCUSDT', '.5', '1'), false],
      [raw('btcusdt@trade', 'BTCUSDT', '5.', '1'), false],
      [raw('btcusdt@trade', 'BTCUSDT', '1', '1', { E: '0' }), false],
      [raw('btcusdt@trade', 'BTCUSDT', '1', '1', { t: '0' }), true],
      [raw('btcusdt@trade', 'BTCUSDT', '1', '1', { t: '01' }), false],
      [raw('btcusdt@trade', 'BTCUSDT', '1', '1', { t: '-1' }), false],
      [raw('btcusdt@trade', 'BTCUSDT', '1', '1', { t: '1234567890123456' }), false],
      [agg(',"f":1,"l":2,"T":1767700000120,"m":true'), true],
      [agg(',"nq":"0.250","f":1,"l":2,"T":1767700000120,"m":true,"st":1'), true],
      [agg(',"nq":"0.2500000000000000000001","f":1,"l":2,"T":1767700000120,"m":false'), true],
      [agg(',"nq":"x","f":1,"l":2,"T":1767700000120,"m":true'), false],
      // A negative `st` is a valid integer for the schema; the reader leaves it to the general path.
      [agg(',"f":1,"l":2,"T":1767700000120,"m":true,"st":-1'), false],
      [agg(',"f":1,"l":2,"T":1767700000120,"m":true,"st":1.5'), false],
      [agg(',"f":1,"l":2,"T":1767700000120,"m":1'), false],
      [agg(',"l":2,"f":1,"T":1767700000120,"m":true'), false],
      // Values that run into the next literal, stream names that are not exactly the symbol, empty values: the general path decides.
      [raw('btc-usdt@trade', 'BTC-USDT', '61800.30', '0.006'), false],
      [raw('btcusdt @trade', 'BTCUSDT', '61800.30', '0.006'), false],
      [raw('btcusd@trade', 'BTCUSDT', '61800.30', '0.006'), false],
      [raw('btcusdtt@trade', 'BTCUSDT', '61800.30', '0.006'), false],
      [raw('btcusdt@trade', 'BTCUSDT ', '61800.30', '0.006'), false],
      [raw('btcusdt@trade', 'BTCUSDT', '61800.30', ''), false],
      [raw('btcusdt@trade', 'BTCUSDT', '', '0.006'), false],
      [raw('btcusdt@trade', 'BTCUSDT', '61800.30","q":"1', '0.006'), false],
      [raw('btcusdt@trade', 'BTCUSDT', '1', '1', { E: '1,"T":1' }), false],
      [raw('btcusdt@trade', 'BTCUSDT', '1', '1', { E: '' }), false],
      [raw('btcusdt@trade', 'BTCUSDT', '1', '1', { t: '5,"p":"1' }), false],
      [raw('btcusdt@aggTrade","data":{"e":"trade","E":1,"x', 'BTCUSDT', '1', '1'), false],
      [agg(',"nq":"0.250","nq":"1","f":1,"l":2,"T":1767700000120,"m":true'), false],
      [agg(',"nq":"","f":1,"l":2,"T":1767700000120,"m":true'), false],
      [agg(',"f":,"l":2,"T":1767700000120,"m":true'), false],
      [agg(',"f":1,"l":2,"T":1767700000120,"m":true,"st":'), false],
    ];
    for (const [text, readable] of cases) {
      const r = check(text);
      expect(r.problems, text).toEqual([]);
      expect(r.read, text).toBe(readable);
    }
  });

  it('converts 20,000 random decimals of up to 16 digits to the very double Number() gives', () => {
    const rnd = mulberry32(20261201);
    let read = 0;
    const problems: string[] = [];
    for (let i = 0; i < 20_000; i++) {
      const digits = 1 + Math.floor(rnd() * 16);
      let d = '';
      for (let k = 0; k < digits; k++) d += String(Math.floor(rnd() * 10));
      // A dot anywhere inside, or none; leading zeros stay (DECIMAL_RE allows them).
      const dot = Math.floor(rnd() * digits);
      const p = dot === 0 ? d : `${d.slice(0, dot)}.${d.slice(dot)}`;
      const q = rnd() < 0.5 ? p : '1';
      // An all-zero price is refused (by the general path: the reader leaves it there).
      const r = check(raw('btcusdt@trade', 'BTCUSDT', p, q));
      problems.push(...r.problems);
      if (r.read) read++;
    }
    expect(problems.slice(0, 5)).toEqual([]);
    expect(read).toBeGreaterThan(10_000);
  });
});
