/**
 * A scanner for the one frame shape that dominates live traffic: the combined-stream envelope
 * around a flat payload, exactly as Binance serialises it —
 *   {"stream":"btcusdt@aggTrade","data":{"e":"aggTrade","E":1,"s":"BTCUSDT",…,"m":true}}
 * with no whitespace, no escapes, integers only and no nested values. For such a frame it returns
 * what `JSON.parse` would (the stream name and a payload object with the same keys, values and key
 * order); for anything else it returns null and the caller parses the text with `JSON.parse`. It
 * never rejects a frame on its own, so it cannot change what is accepted — it only skips building
 * the envelope object and the generic parser's work on the hot path (test/scan.test.ts compares it
 * with JSON.parse on real frames and on thousands of mutations of them).
 */

export interface ScannedEnvelope {
  stream: string;
  data: Record<string, unknown>;
}

/** Shared with ./trade-scan, which reads the same envelopes. */
export const ENVELOPE_HEAD = '{"stream":"';
const DATA_KEY = '","data":{';

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
export const CLOSE = 0x7d;
const MINUS = 0x2d;
export const ZERO = 0x30;
export const NINE = 0x39;

/** Index of the closing quote of a plain string starting at `from`, or -1 if it needs JSON.parse. */
export function plainStringEnd(text: string, from: number): number {
  for (let i = from; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) return i;
    // Escapes, control characters and non-ASCII are legal JSON, but rare here: leave them to JSON.parse.
    if (c === BACKSLASH || c < 0x20 || c > 0x7e) return -1;
  }
  return -1;
}

/** Single-character keys as constants, so the payload's property names are not fresh strings. */
const ONE_CHAR_KEYS: readonly string[] = Array.from({ length: 128 }, (_, c) => String.fromCharCode(c));

// ---- the two trade payloads in the exchange's own key order (BINANCE.md §4.1; raw trades in captures) ----

/**
 * The readers of the trade shapes. One small object per frame rather than module state: the core
 * keeps no globals, and V8 keeps this short-lived object cheap.
 */
class Cursor {
  constructor(
    readonly text: string,
    public at: number,
  ) {}

  lit(s: string): boolean {
    if (!this.text.startsWith(s, this.at)) return false;
    this.at += s.length;
    return true;
  }

  /** A JSON integer, or NaN when the value is anything else (a fraction, an exponent, …). */
  int(): number {
    const text = this.text;
    let at = this.at;
    const start = at;
    const neg = text.charCodeAt(at) === MINUS;
    if (neg) at++;
    const first = text.charCodeAt(at);
    if (!(first >= ZERO && first <= NINE)) return Number.NaN;
    let v = 0;
    if (first === ZERO) {
      at++;
    } else {
      for (;;) {
        const d = text.charCodeAt(at); // NaN past the end, which the test below must not let through
        if (!(d >= ZERO && d <= NINE)) break;
        v = v * 10 + (d - ZERO);
        at++;
      }
    }
    this.at = at;
    const next = text.charCodeAt(at);
    if (next === 0x2e || next === 0x65 || next === 0x45 || (next >= ZERO && next <= NINE)) return Number.NaN;
    // Up to 15 digits the running sum is exact; longer integers take the correctly rounded conversion.
    if (at - start - (neg ? 1 : 0) > 15) v = Number(text.slice(neg ? start + 1 : start, at));
    return neg ? -v : v;
  }

  /** A plain string's contents; the cursor is on its first character and ends past the closing quote. */
  str(): string | null {
    const end = plainStringEnd(this.text, this.at);
    if (end < 0) return null;
    const v = this.text.slice(this.at, end);
    this.at = end + 1;
    return v;
  }

  /** 1 = true, 0 = false, -1 = something else. */
  bool(): number {
    if (this.text.startsWith('true', this.at)) {
      this.at += 4;
      return 1;
    }
    if (this.text.startsWith('false', this.at)) {
      this.at += 5;
      return 0;
    }
    return -1;
  }
}

function scanRawTrade(c: Cursor): Record<string, unknown> | null {
  if (!c.lit('trade","E":')) return null;
  const E = c.int();
  if (!c.lit(',"T":')) return null;
  const T = c.int();
  if (!c.lit(',"s":"')) return null;
  const s = c.str();
  if (!c.lit(',"t":')) return null;
  const t = c.int();
  if (!c.lit(',"p":"')) return null;
  const p = c.str();
  if (!c.lit(',"q":"')) return null;
  const q = c.str();
  if (!c.lit(',"X":"')) return null;
  const X = c.str();
  if (!c.lit(',"m":')) return null;
  const m = c.bool();
  if (Number.isNaN(E + T + t) || s === null || p === null || q === null || X === null || m < 0) return null;
  return { e: 'trade', E, T, s, t, p, q, X, m: m === 1 };
}

function scanAggTrade(c: Cursor): Record<string, unknown> | null {
  if (!c.lit('aggTrade","E":')) return null;
  const E = c.int();
  if (!c.lit(',"a":')) return null;
  const a = c.int();
  if (!c.lit(',"s":"')) return null;
  const s = c.str();
  if (!c.lit(',"p":"')) return null;
  const p = c.str();
  if (!c.lit(',"q":"')) return null;
  const q = c.str();
  let nq: string | null | undefined;
  if (c.lit(',"nq":"')) nq = c.str();
  if (!c.lit(',"f":')) return null;
  const f = c.int();
  if (!c.lit(',"l":')) return null;
  const l = c.int();
  if (!c.lit(',"T":')) return null;
  const T = c.int();
  if (!c.lit(',"m":')) return null;
  const mb = c.bool();
  let st: number | undefined;
  if (c.lit(',"st":')) st = c.int();
  if (Number.isNaN(E + a + f + l + T) || s === null || p === null || q === null || nq === null || mb < 0 || (st !== undefined && Number.isNaN(st))) return null;
  const m = mb === 1;
  // Object literals in the text's key order: the same object JSON.parse builds, with a stable shape.
  if (nq === undefined) return st === undefined ? { e: 'aggTrade', E, a, s, p, q, f, l, T, m } : { e: 'aggTrade', E, a, s, p, q, f, l, T, m, st };
  return st === undefined ? { e: 'aggTrade', E, a, s, p, q, nq, f, l, T, m } : { e: 'aggTrade', E, a, s, p, q, nq, f, l, T, m, st };
}

const TRADE_HEAD = '{"e":"';

export function scanEnvelope(text: string): ScannedEnvelope | null {
  if (!text.startsWith(ENVELOPE_HEAD)) return null;
  const streamEnd = plainStringEnd(text, ENVELOPE_HEAD.length);
  if (streamEnd < 0) return null;
  const data = scanEnvelopeData(text, streamEnd);
  return data === null ? null : { stream: text.slice(ENVELOPE_HEAD.length, streamEnd), data };
}

/**
 * The payload of an envelope whose stream name the caller has already read: `streamEnd` is the
 * index of the quote closing it (the first quote after `{"stream":"`). Null ⇔ JSON.parse's turn.
 */
export function scanEnvelopeData(text: string, streamEnd: number): Record<string, unknown> | null {
  // The name must be plain (no escapes), so that the caller's slice is what JSON.parse would give.
  if (plainStringEnd(text, ENVELOPE_HEAD.length) !== streamEnd || !text.startsWith(DATA_KEY, streamEnd)) return null;
  // The hot shapes first; any deviation from them falls through to the general flat scan.
  const c = new Cursor(text, streamEnd + DATA_KEY.length - 1);
  if (c.lit(TRADE_HEAD)) {
    const kind = text.charCodeAt(c.at);
    const data = kind === 0x61 ? scanAggTrade(c) : kind === 0x74 ? scanRawTrade(c) : null;
    if (data !== null && text.charCodeAt(c.at) === CLOSE && text.charCodeAt(c.at + 1) === CLOSE && c.at + 2 === text.length) return data;
  }
  return scanFlat(text, streamEnd);
}

/** Any flat payload: string, integer, true/false/null values only. */
function scanFlat(text: string, streamEnd: number): Record<string, unknown> | null {
  const data: Record<string, unknown> = {};
  let i = streamEnd + DATA_KEY.length;
  const n = text.length;
  if (text.charCodeAt(i) === CLOSE) {
    i++;
  } else {
    for (;;) {
      // key
      if (text.charCodeAt(i) !== QUOTE) return null;
      const keyEnd = plainStringEnd(text, i + 1);
      if (keyEnd < 0 || text.charCodeAt(keyEnd + 1) !== COLON) return null;
      const key = keyEnd === i + 2 ? (ONE_CHAR_KEYS[text.charCodeAt(i + 1)] as string) : text.slice(i + 1, keyEnd);
      // JSON.parse makes "__proto__" an own property; an assignment would set the prototype.
      if (key === '__proto__') return null;
      i = keyEnd + 2;
      // value
      const c = text.charCodeAt(i);
      if (c === QUOTE) {
        const end = plainStringEnd(text, i + 1);
        if (end < 0) return null;
        data[key] = text.slice(i + 1, end);
        i = end + 1;
      } else if (c === MINUS || (c >= ZERO && c <= NINE)) {
        const start = i;
        const neg = c === MINUS;
        if (neg) i++;
        const first = text.charCodeAt(i);
        if (!(first >= ZERO && first <= NINE)) return null;
        let v = 0;
        if (first === ZERO) {
          i++;
        } else {
          while (i < n) {
            const d = text.charCodeAt(i);
            if (!(d >= ZERO && d <= NINE)) break;
            v = v * 10 + (d - ZERO);
            i++;
          }
        }
        const next = text.charCodeAt(i);
        // Fractions and exponents: JSON.parse's rounding is the reference, so let it do them.
        if (next === 0x2e || next === 0x65 || next === 0x45) return null;
        // Up to 15 digits the running sum is exact; longer integers take the same correctly rounded
        // conversion JSON.parse uses.
        if (i - start - (neg ? 1 : 0) > 15) v = Number(text.slice(neg ? start + 1 : start, i));
        data[key] = neg ? -v : v;
      } else if (text.startsWith('true', i)) {
        data[key] = true;
        i += 4;
      } else if (text.startsWith('false', i)) {
        data[key] = false;
        i += 5;
      } else if (text.startsWith('null', i)) {
        data[key] = null;
        i += 4;
      } else {
        return null; // objects, arrays, whitespace, anything unusual
      }
      const sep = text.charCodeAt(i);
      if (sep === COMMA) {
        i++;
        continue;
      }
      if (sep === CLOSE) {
        i++;
        break;
      }
      return null;
    }
  }
  // The envelope's own closing brace, and nothing after it.
  if (text.charCodeAt(i) !== CLOSE || i + 1 !== n) return null;
  return data;
}
