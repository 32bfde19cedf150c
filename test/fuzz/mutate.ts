/**
 * Hostile-input mutations of real frames, seeded: byte-level damage (flips, cuts, control and
 * bidi characters, duplicated spans), JSON-level damage (a leaf replaced by another type, an
 * absurd number, a huge string, deep nesting, a key removed or added) and envelope damage (stream
 * renamed, another symbol, another source). Each mutation is a pure function of the Rng state, so
 * a seed replays the same sequence.
 */
import type { Frame } from '../../src/core/source';
import type { Rng } from '../../src/simulator/rng';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** One code point each (Array.from splits by code point: the emoji stays whole, the lone surrogate alone). */
const NASTY_CHARS = Array.from('\x00\x1b\x07\r\n\t\u0085\u009b\u202e\u2066\u2028\ufeff\ud800"\\{}[],:😀');
const NASTY_NUMBERS: Json[] = [0, -1, 1e308, -1e308, 2 ** 53 + 2, 1.5, -0, 2 ** 53, 1e-320];
const NASTY_STRINGS: Json[] = ['', ' ', 'NaN', 'Infinity', '-1', '1e999', '0x10', '١٢٣', 'null', 'BTCUSDT', 'btcusdt', '\u202eTDSUCTB', 'x'.repeat(5000)];
const STREAMS = [
  'btcusdt@aggTrade',
  'ethusdt@aggTrade',
  'btcusdt@trade',
  '!forceOrder@arr',
  'btcusdt@kline_1m',
  'btcusdt@markPrice@1s',
  'btcusdt@depth@100ms',
  'xyzusdt@aggTrade',
  '@',
  '',
  'btcusdt@',
];
const SOURCES = [
  'ws:/market/stream',
  'ws:/public/stream',
  'ws:/market/ws/btcusdt@aggTrade',
  'rest:/fapi/v1/openInterest?symbol=BTCUSDT',
  'rest:/fapi/v1/depth',
  '',
];

function pick<T>(rng: Rng, xs: readonly T[]): T {
  return xs[rng.int(xs.length)] as T;
}

function mutateBytes(rng: Rng, text: string): string {
  if (text.length === 0) return pick(rng, NASTY_CHARS);
  const at = rng.int(text.length);
  switch (rng.int(7)) {
    case 0: // flip one character
      return `${text.slice(0, at)}${String.fromCharCode(rng.int(0x80))}${text.slice(at + 1)}`;
    case 1: // cut the rest
      return text.slice(0, at);
    case 2: // delete a span
      return text.slice(0, at) + text.slice(Math.min(text.length, at + 1 + rng.int(20)));
    case 3: // insert a nasty character
      return `${text.slice(0, at)}${pick(rng, NASTY_CHARS)}${text.slice(at)}`;
    case 4: {
      // duplicate a span
      const end = Math.min(text.length, at + 1 + rng.int(40));
      return text.slice(0, end) + text.slice(at, end) + text.slice(end);
    }
    case 5: // swap two characters
      return text.length < 2 ? text : `${text.slice(0, at)}${text[at + 1] ?? ''}${text[at] ?? ''}${text.slice(at + 2)}`;
    default: // digits changed (ids, times, prices)
      return text.replace(/\d/g, (d) => (rng.int(8) === 0 ? String(rng.int(10)) : d));
  }
}

function randomLeaf(rng: Rng): Json {
  switch (rng.int(6)) {
    case 0:
      return pick(rng, NASTY_NUMBERS);
    case 1:
      return pick(rng, NASTY_STRINGS);
    case 2:
      return rng.int(2) === 0;
    case 3:
      return null;
    case 4:
      return [];
    default: {
      // Deep nesting: a parser or a recursive reader must not overflow.
      let v: Json = 1;
      for (let i = 0; i < 500; i++) v = [v];
      return v;
    }
  }
}

/** Paths of every value inside `v`. */
function paths(v: Json, prefix: (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] {
  out.push(prefix);
  if (Array.isArray(v)) v.forEach((x, i) => paths(x, [...prefix, i], out));
  else if (v !== null && typeof v === 'object') for (const [k, x] of Object.entries(v)) paths(x, [...prefix, k], out);
  return out;
}

function mutateJson(rng: Rng, value: Json): Json {
  const all = paths(value);
  const path = pick(rng, all);
  if (path.length === 0) return randomLeaf(rng);
  const parentPath = path.slice(0, -1);
  const key = path[path.length - 1] as string | number;
  const root = structuredClone(value);
  let parent: Json = root;
  for (const k of parentPath) parent = (parent as Record<string | number, Json>)[k] as Json;
  const p = parent as Record<string | number, Json>;
  switch (rng.int(4)) {
    case 0:
      p[key] = randomLeaf(rng);
      break;
    case 1:
      if (Array.isArray(parent)) parent.splice(key as number, 1);
      else delete p[key];
      break;
    case 2:
      if (!Array.isArray(parent)) p[pick(rng, ['e', 's', 'E', 'T', 'p', 'q', 'x', 'stream', 'data', 'o', 'k', '__proto__', 'constructor'])] = randomLeaf(rng);
      break;
    default: {
      // The same key's value as a string / a number (type confusion: "1" vs 1).
      const cur = p[key];
      p[key] = typeof cur === 'number' ? String(cur) : typeof cur === 'string' && cur !== '' && Number.isFinite(Number(cur)) ? Number(cur) : randomLeaf(rng);
    }
  }
  return root;
}

/** One mutated copy of `f`. */
export function mutateFrame(rng: Rng, f: Frame): Frame {
  const r = rng.int(10);
  if (r < 4) return { ...f, text: mutateBytes(rng, f.text) };
  if (r < 8) {
    let parsed: Json;
    try {
      parsed = JSON.parse(f.text) as Json;
    } catch {
      return { ...f, text: mutateBytes(rng, f.text) };
    }
    // Mostly inside the payload of an envelope, where the fast path reads.
    const inner = parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) && 'data' in parsed && rng.int(4) > 0;
    const text = inner
      ? JSON.stringify({ ...(parsed as Record<string, Json>), data: mutateJson(rng, (parsed as Record<string, Json>).data as Json) })
      : JSON.stringify(mutateJson(rng, parsed));
    return { ...f, text: text ?? '' };
  }
  if (r < 9) return { ...f, text: f.text.replace(/^\{"stream":"[^"]*"/, `{"stream":"${pick(rng, STREAMS)}"`) };
  return { ...f, source: pick(rng, SOURCES), recv_ms: rng.int(3) === 0 ? pick(rng, [0, -1, 1e15, Number.MAX_SAFE_INTEGER]) : f.recv_ms };
}
