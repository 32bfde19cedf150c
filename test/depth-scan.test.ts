/**
 * Differential test of the depth reader (src/binance/book/depth-scan.ts) and the book's decimal
 * conversion against the general path: whenever the scanner answers, JSON.parse + isDepthUpdate
 * accept the frame and give the same diff (keys, order, values, -0 included); a BookRoom reading
 * with the scanner gives the same outcome for every frame, and ends with the same counters and the
 * same levels, as one reading everything with JSON.parse. Seeds are the real `@depth@0ms` diffs of
 * the vendored hftbacktest extracts (combined-stream and raw `/ws/` form) and the simulator's live
 * shape (`st`, `ps`); tens of thousands of text-level mutations probe every way out of the fast path.
 */
import { describe, expect, it } from 'vitest';
import { BookRoom } from '../src/binance/book/book-room';
import { decimalValue } from '../src/binance/book/book-side';
import { isDepthUpdate } from '../src/binance/book/contracts';
import { scanDepthEnvelope, scanDepthUpdate } from '../src/binance/book/depth-scan';
import type { Frame } from '../src/core/source';
import { depthUpdateFrame } from '../src/simulator/frames';
import { depthInput } from './book-helpers';
import { FIXTURE_BTC, FIXTURE_ETH } from './fixtures/paths';
import { mulberry32 } from './helpers';

const INPUTS = [depthInput([FIXTURE_BTC]), depthInput([FIXTURE_ETH])];
const KEYS = ['e', 'E', 'T', 's', 'U', 'u', 'pu', 'b', 'a'] as const;

/** The combined-stream diffs of the captures, their raw payloads, and the simulator's live shape. */
const ENVELOPED = INPUTS.flatMap((i) => i.frames.map((f) => f.frame.text).filter((t) => t.startsWith('{"stream":')));
const PAYLOADS = ENVELOPED.map((t) => t.slice(t.indexOf('"data":') + 7, -1));
const LIVE_SHAPE = INPUTS.flatMap((i) => i.diffs.slice(0, 50)).map((d) => depthUpdateFrame(d.s, d));
const SEEDS: readonly { text: string; raw: boolean }[] = [
  ...ENVELOPED.slice(0, 300).map((text) => ({ text, raw: false })),
  ...PAYLOADS.slice(0, 100).map((text) => ({ text, raw: true })),
  ...LIVE_SHAPE.map((p) => ({ text: `{"stream":"${p.slice(p.indexOf('"s":"') + 5, p.indexOf('","U"')).toLowerCase()}@depth@100ms","data":${p}}`, raw: false })),
  ...LIVE_SHAPE.slice(0, 20).map((text) => ({ text, raw: true })),
];

const ALPHABET = ['"', ',', ':', '{', '}', '[', ']', '\\', ' ', '0', '1', '9', '.', '-', 'e', 'E', 'a', 'b', 'u', 'x', '\u0001', 'é'];
const SNIPPETS = [
  '"e":"depthUpdate",',
  '"E":1,',
  '"pu":-1,',
  '"b":[],',
  '"a":[["1","2"]],',
  '"x":{"y":1},',
  '"x":[1],',
  '"x":null,',
  '"x":true,',
  '"x":-0,',
  '"x":1.5e+3,',
  '"x":01,',
  '"x":"a\\"b",',
  '"__proto__":1,',
];

function mutate(rnd: () => number, text: string): string {
  const at = Math.floor(rnd() * (text.length + 1));
  const r = rnd();
  const ch = (): string => ALPHABET[Math.floor(rnd() * ALPHABET.length)] as string;
  if (r < 0.2) return text.slice(0, at) + text.slice(at + 1);
  if (r < 0.4) return text.slice(0, at) + ch() + text.slice(at);
  if (r < 0.6) return text.slice(0, at) + ch() + text.slice(at + 1);
  if (r < 0.65) return text.slice(0, at);
  if (r < 0.75) {
    // a key/value pair at the start of the payload, or just before its end
    const snip = SNIPPETS[Math.floor(rnd() * SNIPPETS.length)] as string;
    if (rnd() < 0.5) {
      const p = text.indexOf('{"e":') + 1;
      return p > 0 ? text.slice(0, p) + snip + text.slice(p) : text;
    }
    const end = text.lastIndexOf(']') + 1;
    return text.slice(0, end) + ',' + snip.slice(0, -1) + text.slice(end);
  }
  if (r < 0.9) {
    // a number or a decimal changed: leading zeros, long integers, signs, fractions, exponents
    const m = [':', '["', '","'][Math.floor(rnd() * 3)] as string;
    const hits: number[] = [];
    for (let i = text.indexOf(m); i >= 0 && hits.length < 200; i = text.indexOf(m, i + 1)) hits.push(i + m.length);
    const p = hits[Math.floor(rnd() * hits.length)];
    if (p === undefined) return text;
    const add = ['0', '-', '00', '9999999999999999', '.5', 'e3', '1.', '.', ' '][Math.floor(rnd() * 9)] as string;
    return text.slice(0, p) + add + text.slice(p);
  }
  // the symbol or the stream name changed
  return text.replace(rnd() < 0.5 ? 'BTCUSDT' : 'ETHUSDT', ['btcusdt', 'BTC_USDT', 'B', 'BTCUSDT_PERP', 'ETHUSDT', 'BTCUSD'][Math.floor(rnd() * 6)] as string);
}

/** JSON.parse's diff (the payload, for a raw frame), or null when it throws. */
function parsed(text: string, raw: boolean): unknown {
  try {
    const v = JSON.parse(text) as { data?: unknown } | null;
    return raw ? v : v?.data;
  } catch {
    return null;
  }
}

/** Same values (Object.is, so -0 ≠ 0), recursively; objects compared on the diff's own keys in order. */
function same(a: unknown, b: unknown): boolean {
  if (typeof a !== 'object' || a === null || typeof b !== 'object' || b === null) return Object.is(a, b);
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => same(x, b[i]));
  const ra = a as Record<string, unknown>;
  const rb = b as Record<string, unknown>;
  return KEYS.every((k) => same(ra[k], rb[k]));
}

/** The scanner's answer for a frame the way BookRoom calls it (payload range), or null. */
function scan(text: string, raw: boolean): ReturnType<typeof scanDepthUpdate> {
  if (raw) return scanDepthUpdate(text, 0, text.length);
  // As BookRoom finds the stream name's end.
  return scanDepthEnvelope(text, text.indexOf('"', '{"stream":"'.length));
}

function checkScan(text: string, raw: boolean): string | null {
  const s = scan(text, raw);
  if (s === null) return null;
  const ref = parsed(text, raw);
  if (ref === null) return `scanner accepted what JSON.parse rejects: ${JSON.stringify(text)}`;
  if (!isDepthUpdate(ref)) return `scanner accepted what isDepthUpdate rejects: ${JSON.stringify(text)}`;
  if (Object.keys(s).join() !== KEYS.join() || !same(s, ref)) return `scanner differs from JSON.parse: ${JSON.stringify(text)}`;
  return null;
}

function frameOf(text: string, raw: boolean, recvMs: number): Frame {
  const stream = raw ? `${(/"s":"([^"]*)"/.exec(text)?.[1] ?? 'btcusdt').toLowerCase()}@depth@0ms` : '';
  return { recv_ms: recvMs, source: raw ? `ws:/public/ws/${stream}` : 'ws:/public/stream', text };
}

describe('depth scanner ≡ JSON.parse + isDepthUpdate', () => {
  it('reads every real and live-shape seed, and answers what JSON.parse answers', () => {
    expect(SEEDS.length).toBeGreaterThan(400);
    for (const { text, raw } of SEEDS) {
      expect(checkScan(text, raw)).toBeNull();
      expect(scan(text, raw), text.slice(0, 120)).not.toBeNull();
    }
  });

  it('agrees on 40,000 seeded mutations, and both answers occur often', () => {
    const rnd = mulberry32(20261201);
    const problems: string[] = [];
    let scanned = 0;
    let parsedOnly = 0;
    for (let i = 0; i < 40_000; i++) {
      const seed = SEEDS[Math.floor(rnd() * SEEDS.length)] as { text: string; raw: boolean };
      let text = seed.text;
      const edits = 1 + Math.floor(rnd() * 3);
      for (let k = 0; k < edits; k++) text = mutate(rnd, text);
      const p = checkScan(text, seed.raw);
      if (p !== null) problems.push(p);
      if (scan(text, seed.raw) !== null) scanned++;
      else if (isDepthUpdate(parsed(text, seed.raw))) parsedOnly++;
    }
    expect(problems.slice(0, 5)).toEqual([]);
    expect(scanned).toBeGreaterThan(4_000);
    // Good frames the scanner leaves to JSON.parse (whitespace, long numbers, nested extras …).
    expect(parsedOnly).toBeGreaterThan(1_000);
  });
});

describe('BookRoom with the scanner ≡ BookRoom with JSON.parse', () => {
  function run(frames: readonly { frame: Frame; file: number }[]): { fast: BookRoom; slow: BookRoom; mismatches: string[] } {
    const symbols = ['BTCUSDT', 'ETHUSDT'];
    const fast = new BookRoom({ symbols, sampleDepthBps: 10 });
    const slow = new BookRoom({ symbols, sampleDepthBps: 10 }, false);
    const mismatches: string[] = [];
    for (const { frame, file } of frames) {
      const a = fast.ingestFrame(frame, file);
      const b = slow.ingestFrame(frame, file);
      if (JSON.stringify(a) !== JSON.stringify(b)) mismatches.push(`${JSON.stringify(a)} ≠ ${JSON.stringify(b)} for ${frame.text.slice(0, 200)}`);
    }
    for (const s of symbols) {
      const fb = fast.book(s);
      const sb = slow.book(s);
      if (JSON.stringify([fb?.levels('bids'), fb?.levels('asks'), fb?.counters]) !== JSON.stringify([sb?.levels('bids'), sb?.levels('asks'), sb?.counters]))
        mismatches.push(`${s}: the books differ`);
    }
    if (JSON.stringify(fast.status(0)) !== JSON.stringify(slow.status(0))) mismatches.push('the statuses differ');
    return { fast, slow, mismatches };
  }

  /** Every other diff in its raw `/ws/` form (same data, the other route's shape). */
  function mixedRoutes(input: (typeof INPUTS)[number]): { frame: Frame; file: number }[] {
    return input.frames.map(({ frame, file }, i) => {
      if (!frame.text.startsWith('{"stream":') || i % 2 === 1) return { frame, file };
      return { frame: frameOf(frame.text.slice(frame.text.indexOf('"data":') + 7, -1), true, frame.recv_ms), file };
    });
  }

  it('keeps the same live books level for level on the real captures (both routes)', () => {
    for (const input of INPUTS) {
      const { fast, mismatches } = run(mixedRoutes(input));
      expect(mismatches).toEqual([]);
      const st = fast.status(0).per_symbol[input.diffs[0]?.s as string];
      expect(st?.state).toBe('LIVE');
      expect(st?.diffs_applied).toBeGreaterThan(500);
      expect(st?.pu_gaps).toBe(0);
    }
  });

  it('gives the same outcome per frame and the same books with mutated frames mixed in', () => {
    const rnd = mulberry32(7);
    for (const input of INPUTS) {
      let mutants = 0;
      const frames = mixedRoutes(input).flatMap((f) => {
        if (rnd() >= 0.05) return [f];
        mutants++;
        return [{ ...f, frame: { ...f.frame, text: mutate(rnd, f.frame.text) } }, f];
      });
      const { fast, mismatches } = run(frames);
      expect(mismatches.slice(0, 3)).toEqual([]);
      expect(mutants).toBeGreaterThan(30);
      expect(fast.counters.malformed).toBeGreaterThan(10);
    }
  });
});

describe('decimalValue ≡ Number', () => {
  it('gives the same double for every price and quantity of the captures and for edge strings', () => {
    const strings = new Set<string>();
    for (const i of INPUTS) for (const d of i.diffs) for (const [p, q] of [...d.b, ...d.a]) strings.add(p).add(q);
    for (const [p, q] of [...(INPUTS[0]?.snapshot.bids ?? []), ...(INPUTS[0]?.snapshot.asks ?? [])]) strings.add(p).add(q);
    expect(strings.size).toBeGreaterThan(1_000);
    const rnd = mulberry32(99);
    for (let i = 0; i < 20_000; i++) {
      const digits = 1 + Math.floor(rnd() * 18);
      let s = '';
      for (let k = 0; k < digits; k++) s += String(Math.floor(rnd() * 10));
      const dot = Math.floor(rnd() * (digits + 1));
      strings.add(dot > 0 && dot < digits ? `${s.slice(0, dot)}.${s.slice(dot)}` : s);
    }
    for (const s of [
      '0',
      '0.0',
      '00.000',
      '0.1',
      '0.3',
      '9007199254740993',
      '999999999999999',
      '9999999999999999',
      '123456789012345.6',
      '1.000000000000001',
      '.5',
      '5.',
      '1e5',
      '',
      '-1',
      '1.2.3',
    ])
      strings.add(s);
    const bad = [...strings].filter((s) => !Object.is(decimalValue(s), Number(s)));
    expect(bad).toEqual([]);
  });
});
